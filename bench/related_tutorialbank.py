"""Related-item precision on TutorialBank, leave-one-out, for dense, BM25 and fused search.

    python bench/related_tutorialbank.py [--queries 200] [--seed 13]

Protocol (so txtai's figures on the same protocol compare): take N random resources (fixed seed)
as queries, ingest all the other resources into a fresh library, query with each held-out title
as plain text, and count a result as relevant when it shares the query's TutorialBank topic.
Prints precision@10 for dense-only, BM25-only and the fused search (as shipped: with the relevance
floor, so a query may get fewer than 10 results, each missing one counting as a miss; and without
it), txtai's figures on the same draw beside them, and the warm query latency.

Why dense-only trails txtai's dense on some draws: both embed the same title with the same model
into unit vectors and rank by cosine, but 46% of the queries (seed 13) have exact ties at the
10th place: TutorialBank repeats titles ("Introduction" 82 times, "Neural Networks" 47), and
repeated titles get identical vectors, so which of the tied items fill the top 10 is arbitrary.
The bench prints the expected P@10 with ties broken at random (exact cosine over every vector)
and the range ties allow: the gap to txtai lies inside it.
"""
from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"
# txtai (same MiniLM model, its default dense and hybrid search) on the same draws, as measured
# for issue 14; other seeds print "-".
TXTAI = {13: {"dense": 0.273, "hybrid": 0.276}, 29: {"dense": 0.264, "hybrid": 0.256}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--library", help="reuse a library built by an earlier run with the same seed")
    opts = ap.parse_args()
    if not TSV.exists():
        print(f"skipped: {TSV} is not here")
        return 0
    from aidlgraph.build.ingest import ingest
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library
    from aidlgraph.query.related import related

    with TSV.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        header, rows = reader.fieldnames, [r for r in reader if (r.get("title") or "").strip()]
    rng = random.Random(opts.seed)
    held = rng.sample(range(len(rows)), opts.queries)
    held_set = set(held)
    queries = [rows[i] for i in held]
    # The ground truth is TutorialBank's own topic column, looked up by link (or title), never
    # the library's topics, which ingest may extend by similarity.
    truth: dict[str, set[str]] = {}
    for n, r in enumerate(rows):
        if n not in held_set:
            truth.setdefault((r.get("url") or "").strip() or r["title"].strip(), set()).add(r["topic_name"].strip().lower())

    with tempfile.TemporaryDirectory() as tmp:
        if opts.library and Path(opts.library, "library.db").exists():
            lib = Library.open(opts.library)
        else:
            path = Path(opts.library) if opts.library else Path(tmp) / "lib"
            source = Path(tmp) / "tutorialbank-rest.tsv"
            with source.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=header, delimiter="\t")
                writer.writeheader()
                writer.writerows(r for n, r in enumerate(rows) if n not in held_set)
            lib = Library.open(create(path, empty=True))
            started = time.perf_counter()
            report = ingest(lib, [source], progress=sys.stderr.isatty())
            print(f"ingested {report.new} items, {report.topics_new} topics in {time.perf_counter() - started:.0f}s")
        size = lib.index.size
        results = {mode: precision(lib, related, queries, truth, mode) for mode in ("dense", "bm25", "hybrid")}
        unfloored = {mode: precision(lib, related, queries, truth, mode, floor=0.0)[0] for mode in ("dense", "hybrid")}
        # warm latency: the query embeddings are cached now, so time the search itself again
        warm = []
        for q in queries:
            started = time.perf_counter()
            related(lib, q["title"], k=10)
            warm.append((time.perf_counter() - started) * 1000)
        ties = exact_dense(lib, queries, truth)
        txtai_like = txtai_index(lib, queries, truth)
        lib.close()

    txtai = TXTAI.get(opts.seed, {})
    print(f"TutorialBank leave-one-out: {opts.queries} queries (seed {opts.seed}), {size} items in the index")
    print(f"{'search':10}{'P@10':>8}{'no floor':>10}{'txtai':>8}{'p50 ms':>9}{'p95 ms':>9}   "
          "(first run in this process; embedding included unless the library cached it)")
    for mode, (p, lat, short) in results.items():
        ref = f"{txtai[mode]:.3f}" if mode in txtai else "-"
        nofloor = f"{unfloored[mode]:.3f}" if mode in unfloored else "-"
        print(f"{mode:10}{p:>8.3f}{nofloor:>10}{ref:>8}{pct(lat, 50):>9.1f}{pct(lat, 95):>9.1f}"
              f"   ({short} queries got fewer than 10 results)")
    print(f"warm hybrid query (cached embedding): p50 {pct(warm, 50):.1f} ms, p95 {pct(warm, 95):.1f} ms")
    tied, low, expected, high = ties
    print(f"dense, exact cosine over every vector: {tied} of {len(queries)} queries have exact ties at the 10th "
          f"place; P@10 {low:.3f} to {high:.3f} depending on how ties are broken, {expected:.3f} expected at random")
    print(f"dense, our vectors in the index txtai builds ({txtai_like[0]}): P@10 {txtai_like[1]:.3f}")
    fused, best_txtai = results["hybrid"][0], max(txtai.values(), default=None)
    print(f"fused beats dense: {fused > results['dense'][0]}, beats BM25: {fused > results['bm25'][0]}"
          + (f", beats txtai's best ({best_txtai:.3f}) by {fused - best_txtai:+.3f}" if best_txtai else ""))
    return 0


def precision(lib, related, queries, truth, mode: str, floor: float | None = None) -> tuple[float, list[float], int]:
    """(mean P@10, latencies in ms, queries with fewer than 10 results) of one search mode."""
    precisions, latencies, short = [], [], 0
    for q in queries:
        started = time.perf_counter()
        out = related(lib, q["title"], k=10, mode=mode, floor=floor)
        latencies.append((time.perf_counter() - started) * 1000)
        topic = q["topic_name"].strip().lower()
        precisions.append(sum(1 for r in out["results"] if topic in truth.get(r["url"] or r["title"], ())) / 10)
        short += len(out["results"]) < 10
    return statistics.mean(precisions), latencies, short


def exact_dense(lib, queries, truth) -> tuple[int, float, float, float]:
    """Dense ranking by exact cosine over every stored vector: (queries with exact ties at the
    10th place, P@10 with ties broken against, expected at random, and in favour of the query)."""
    import numpy as np

    nums, vectors = lib.store.vectors(dim=lib.dim)
    rows = lib.store.items_by_num([int(n) for n in nums])
    keys = [rows[int(n)]["url"] or rows[int(n)]["title"] for n in nums]
    tied = 0
    low, expected, high = [], [], []
    for q in queries:
        topic = q["topic_name"].strip().lower()
        relevant = np.array([topic in truth.get(key, ()) for key in keys])
        scores = vectors @ lib.embed_query(q["title"])
        tenth = np.sort(scores)[-10]
        above, at = scores > tenth + 1e-6, np.abs(scores - tenth) <= 1e-6
        need = 10 - int(above.sum())
        tied += int(at.sum()) > need
        sure, pool, good = int(relevant[above].sum()), int(at.sum()), int(relevant[at].sum())
        low.append((sure + max(0, need - (pool - good))) / 10)
        expected.append((sure + need * good / pool) / 10)
        high.append((sure + min(need, good)) / 10)
    return tied, statistics.mean(low), statistics.mean(expected), statistics.mean(high)


def txtai_index(lib, queries, truth) -> tuple[str, float]:
    """P@10 of our stored vectors searched through the FAISS index txtai builds for this many
    vectors (its ann/dense/faiss.py: IVF with min(4 sqrt(n), n/39) cells, nprobe cells/16, inner
    product, ids in insertion order): the same vectors, another order among ties."""
    import math

    import faiss
    import numpy as np

    nums, vectors = lib.store.vectors(dim=lib.dim)
    rows = lib.store.items_by_num([int(n) for n in nums])
    keys = [rows[int(n)]["url"] or rows[int(n)]["title"] for n in nums]
    cells = max(min(round(4 * math.sqrt(len(nums))), len(nums) // 39), 1)
    index = faiss.index_factory(vectors.shape[1], f"IVF{cells},Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.add_with_ids(vectors, np.arange(len(nums), dtype=np.int64))
    index.nprobe = round(cells / 16)
    _, found = index.search(np.vstack([lib.embed_query(q["title"]) for q in queries]).astype(np.float32), 10)
    hits = [sum(q["topic_name"].strip().lower() in truth.get(keys[j], ()) for j in row if j >= 0) / 10
            for q, row in zip(queries, found)]
    return f"IVF{cells},Flat, nprobe {index.nprobe}", statistics.mean(hits)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


if __name__ == "__main__":
    sys.exit(main())
