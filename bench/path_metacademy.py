"""Reading paths against Metacademy's own learning plans.

    python bench/path_metacademy.py [--concepts 50] [--seed 7] [-v]

Imports Metacademy's graph (../shared/datasets/metacademy/graph_data.json) into a fresh library
and, for a random sample of concepts, asks `reading_path` for the concept's title, then compares
with Metacademy's precomputed learning plan (graph.targetgraph) and resource marks:

(a) plan closure: recall, the share of the targetgraph's concepts that the path contains, and
    precision, the share of the path's topics that are in the targetgraph;
(b) valid order: every Metacademy dependency between two topics of the path is read in order;
(c) core first: of the steps whose concept has a resource Metacademy marks core for it, the share
    whose first reading is such a core resource.

Nothing here is tuned on Metacademy: the path code has no Metacademy-specific rule (a
resource's per-concept core mark is read like any curated core flag).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "datasets" / "metacademy" / "graph_data.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concepts", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-v", action="store_true", help="one line per concept")
    opts = ap.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is not here (the shared datasets are beside the project)")
        return 0
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.imports import import_metacademy
    from aidlgraph.library import Library
    from aidlgraph.query.path import reading_path

    records = defaultdict(list)
    for r in json.loads(DATA.read_text()):
        records[r["model"]].append(r)
    concepts = {r["pk"]: r["fields"] for r in records["graph.concept"]}
    deps = [(concepts[r["fields"]["source"]]["tag"], concepts[r["fields"]["target"]]["tag"])
            for r in records["graph.dependency"]]
    plans = {concepts[r["pk"]]["tag"]: {concepts[pk]["tag"] for pk in r["fields"]["concepts"]}
             for r in records["graph.targetgraph"]}
    resources = {r["pk"]: r["fields"] for r in records["graph.globalresource"]}
    core = defaultdict(set)  # concept tag -> titles of resources marked core for it
    for r in records["graph.conceptresource"]:
        f = r["fields"]
        if f.get("core") and f["global_resource"] in resources:
            core[concepts[f["concept"]]["tag"]].add((resources[f["global_resource"]].get("title") or "").strip())
    sample = random.Random(opts.seed).sample(sorted(plans), min(opts.concepts, len(plans)))

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(create(Path(tmp) / "lib", empty=True))
        import_metacademy(lib, DATA)
        imported = time.perf_counter() - started
        recalls, precisions, ordered, core_steps, core_first = [], [], 0, 0, 0
        for tag in sample:
            title = next(c["title"] for c in concepts.values() if c["tag"] == tag)
            p = reading_path(lib, title)
            path = p.topic_ids
            plan = plans[tag]
            recalls.append(len(set(path) & plan) / len(plan))
            precisions.append(len(set(path) & plan) / len(path))
            place = {t: n for n, t in enumerate(path)}
            inside = [(a, b) for a, b in deps if a in place and b in place]
            ordered += all(place[a] < place[b] for a, b in inside)
            firsts = {}
            for s in p.steps:
                firsts.setdefault(s.topic_id, s)
            for topic, step in firsts.items():
                if core[topic]:
                    core_steps += 1
                    core_first += step.kind != "topic" and step.title in core[topic]
            if opts.v:
                print(f"  {tag:40s} path {len(path):3d} plan {len(plan):3d} recall {recalls[-1]:.2f} "
                      f"precision {precisions[-1]:.2f} order {'ok' if all(place[a] < place[b] for a, b in inside) else 'BAD'}")
        lib.close()
    n = len(sample)
    print(f"Metacademy: {len(concepts)} concepts, {len(deps)} dependencies; imported in {imported:.1f}s; "
          f"{n} concepts sampled (seed {opts.seed})")
    print(f"(a) plan closure: recall {sum(recalls) / n:.3f} (share of the learning plan's concepts in the path), "
          f"precision {sum(precisions) / n:.3f} (share of the path's topics in the plan)")
    print(f"(b) valid order: {ordered}/{n} paths read every dependency in order")
    print(f"(c) core first: {core_first}/{core_steps} steps ({core_first / max(core_steps, 1):.3f}) whose concept has a "
          "Metacademy core resource lead with one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
