"""The cost curve: libraries of 20k, 200k and 1M items, and what each costs to hold and to query.

    python bench/scale.py                      # all sizes (the first run embeds 1M texts: hours)
    python bench/scale.py --sizes 20000,200000 --runs 10
    python bench/scale.py --embed-only         # only fill the vector cache (run it niced, any time)

**The corpus.** 20k is TutorialBank itself (``../shared/datasets/tutorialbank``, 20,244 rows,
293 topics). The larger libraries add rows recombined from it, deterministically (seed 16): each
new row takes a random TutorialBank row A and another row B *of the same topic*, and its title is
the first words of A's title followed by the last words of B's ("Introduction to Conditional" +
"Random Fields in Python"), kept only when no earlier row has that title; its topic and medium
are A's, its author, venue and year B's; it has no link. So the text is real vocabulary in real
topical clusters, and the sizes nest (200k is a prefix of 1M). The rows are written as TSV files
and ingested by the real ingest (parse, plan, tag, apply, similar edges, index switch), chunk by
chunk, the 200k library growing from a copy of the 20k one and 1M from a copy of 200k.

**The vectors** are the model's (ONNX), cached in ``~/.cache/aidlgraph-bench/scale-v1`` (or
``--cache``) so only the first run embeds; the embedding runs in a child process under
``nice -n 15``, resumable (it saves every block). Ingest then takes its vectors from that cache
(``CachedEmbedder``; a text it lacks is embedded on the spot and counted). Built libraries are
kept there too (``--rebuild`` makes them again).

**The measurements**, per size: the library's size on disk; open time (a fresh process opening
the library and loading its index, graph and topic vectors: what ``serve`` does before its first
request); peak RSS of that process after the warm queries; *cold* p50/p95 (each query a fresh
``aidlgraph`` process, as a curator types it) and *warm* p50/p95 (one process, queries one after
another, each a distinct text so its embedding is computed) of ``path``, ``related`` and ``ask``;
and the vector index itself: exact (flat) and approximate (IVF) search time per query and
recall@10 of the approximate index against exact search, on real query texts and on 1,000 items
used as queries (their own id left out). Prints a table and writes a log-log PNG of latency
against size (``--plot``, default ``bench/results/scale.png``).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from serve_load import percentile  # bench/ is on the path: each bench runs as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aidlgraph-bench" / "scale-v1"
SIZES = (20_000, 200_000, 1_000_000)
SEED = 16
CHUNK = 50_000  # rows per synthetic TSV file (one ingest each)
BLOCK = 4096  # texts embedded between two saves of the vector cache
BUILD_VERSION = 2  # bump when the way libraries are built changes: cached libraries are rebuilt
COLUMNS = ("title", "url", "topic_name", "author", "medium", "venue", "year")


# -- the corpus ---------------------------------------------------------------------------------
def tutorialbank() -> list[dict]:
    with open(TSV, encoding="utf-8", newline="") as fh:
        return [{c: (row.get(c) or "").strip() for c in COLUMNS} for row in csv.DictReader(fh, delimiter="\t")]


def synthetic(real: list[dict], count: int, seed: int = SEED) -> list[dict]:
    """``count`` rows recombined from ``real`` (see the module docstring); prefix-stable."""
    rng = random.Random(seed)
    by_topic: dict[str, list[dict]] = {}
    for row in real:
        if len(row["title"].split()) >= 2:
            by_topic.setdefault(row["topic_name"], []).append(row)
    donors = [row for row in real if len(row["title"].split()) >= 2]
    seen = {row["title"].lower() for row in real}
    out = []
    while len(out) < count:
        a = rng.choice(donors)
        b = rng.choice(by_topic[a["topic_name"]])
        wa, wb = a["title"].split(), b["title"].split()
        title = " ".join(wa[:rng.randint(1, len(wa) - 1)] + wb[rng.randint(1, len(wb) - 1):])
        if title.lower() in seen:
            continue
        seen.add(title.lower())
        out.append({"title": title, "url": "", "topic_name": a["topic_name"], "author": b["author"],
                    "medium": a["medium"], "venue": b["venue"], "year": rng.choice((a["year"], b["year"]))})
    return out


def chunk_plan(sizes: tuple[int, ...], real: int) -> list[tuple[int, int]]:
    """[start, end) ranges of synthetic rows, one TSV file each, with a boundary at every size."""
    top = max(sizes) - real
    cuts = sorted({0, top, *range(0, top, CHUNK), *(s - real for s in sizes if s > real)})
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def write_files(cache: Path, sizes: tuple[int, ...]) -> tuple[Path, list[tuple[int, Path]]]:
    """The TutorialBank file and the synthetic chunk files, as (rows so far, path)."""
    real = tutorialbank()
    rows_dir = cache / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    first = rows_dir / "tutorialbank.tsv"
    if not first.exists():
        shutil.copyfile(TSV, first)
    plan = chunk_plan(sizes, len(real))
    files = []
    missing = [(a, b) for a, b in plan if not (rows_dir / f"synthetic-{a:07d}-{b:07d}.tsv").exists()]
    rows = synthetic(real, max(b for _, b in plan)) if missing else []
    for a, b in plan:
        path = rows_dir / f"synthetic-{a:07d}-{b:07d}.tsv"
        if (a, b) in missing:
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows[a:b])
            os.replace(tmp, path)
        files.append((len(real) + b, path))
    return first, files


def texts_of(paths: list[Path]) -> tuple[list[str], list[int]]:
    """What ingest embeds for these files, in order (through the real loader), each distinct text
    once; and how many distinct texts there are up to the end of each file."""
    from aidlgraph.corpus import load_path

    texts: dict[str, None] = {}
    ends = []
    for path in paths:
        for batch in load_path(path):
            texts.update(dict.fromkeys(item.embed_text() for item in batch.items))
        ends.append(len(texts))
    return list(texts), ends


# -- the vector cache ---------------------------------------------------------------------------
class VectorCache:
    """``vectors.npy`` (one row per text, in order) and ``progress.json`` (how many are done, and
    a digest of the texts, so a changed corpus starts over)."""

    def __init__(self, cache: Path, texts: list[str], ends: dict[int, int], dim: int = 384):
        self.dir = cache
        self.texts = texts
        self.ends = ends  # {rows: distinct texts in the files up to that many rows}
        self.digest = hashlib.sha1("\0".join(texts).encode()).hexdigest()
        self.path = cache / "vectors.npy"
        self.progress = cache / "progress.json"
        self.dim = dim

    def done(self) -> int:
        try:
            state = json.loads(self.progress.read_text())
        except (OSError, ValueError):
            return 0
        return int(state["done"]) if state.get("digest") == self.digest and self.path.exists() else 0

    def vectors(self, mode: str = "r") -> np.ndarray:
        from numpy.lib.format import open_memmap

        if mode == "r+" and (not self.path.exists() or self.done() == 0):
            return open_memmap(self.path, mode="w+", dtype=np.float32, shape=(len(self.texts), self.dim))
        return open_memmap(self.path, mode=mode)

    def wait_for(self, count: int) -> None:
        """Wait until the first ``count`` vectors are in the cache (a filler runs elsewhere)."""
        if self.done() < count:
            print(f"  waiting for vectors: {self.done():,} of the {count:,} this file needs are embedded",
                  file=sys.stderr, flush=True)
        while self.done() < count:
            time.sleep(20)

    def fill(self) -> None:
        """Embed the texts not yet done, saving every BLOCK (run it niced: it takes hours for 1M)."""
        import fcntl

        from aidlgraph import embed

        lock = open(self.dir / ".embed.lock", "a+")
        fcntl.flock(lock, fcntl.LOCK_EX)  # one filler at a time; a second one waits, then finds it done
        model = embed.load(None, "onnx")
        out = self.vectors("r+")
        start, began = self.done(), time.perf_counter()
        first = start
        while start < len(self.texts):
            end = min(start + BLOCK, len(self.texts))
            out[start:end] = model.encode(self.texts[start:end])
            out.flush()
            self.progress.write_text(json.dumps({"done": end, "digest": self.digest}))
            rate = (end - first) / (time.perf_counter() - began)
            print(f"embedded {end:,}/{len(self.texts):,} ({rate:.0f} texts/s, "
                  f"~{(len(self.texts) - end) / rate / 60:.0f} min left)", file=sys.stderr, flush=True)
            start = end


class CachedEmbedder:
    """The model's vectors for the bench corpus from the cache; anything else embedded live."""

    def __init__(self, cache: VectorCache):
        from aidlgraph import embed

        self.live = embed.load(None, "onnx")
        self.name, self.dim = self.live.name, self.live.dim
        self.rows = {text: n for n, text in enumerate(cache.texts)}
        self.matrix = cache.vectors("r")
        self.missed = 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        found = [self.rows.get(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        have = [n for n, row in enumerate(found) if row is not None]
        if have:
            out[have] = self.matrix[[found[n] for n in have]]
        lack = [n for n, row in enumerate(found) if row is None]
        if lack:
            self.missed += len(lack)
            out[lack] = self.live.encode([texts[n] for n in lack])
        return out


def topics_file(cache: Path) -> Path | None:
    """Prerequisites from TutorialBank's taxonomy: a topic's parent comes before it (so a path
    to a leaf topic has steps), for the topics the resources use."""
    taxonomy = TSV.parent / "data" / "taxonomy.csv"
    if not taxonomy.exists():
        return None
    import yaml

    with open(taxonomy, encoding="utf-8", newline="") as fh:
        rows = [[c.strip() for c in row] for row in csv.reader(fh)][1:]
    names = {row[0]: row[1] for row in rows}
    used = {row["topic_name"] for row in tutorialbank()}
    topics = []
    for tid, name, parent, *_ in rows:
        if name not in used:
            continue
        entry: dict = {"name": name}
        if parent != tid and names.get(parent) in used:
            entry["prerequisites"] = [{"topic": names[parent], "reason": f"TutorialBank's taxonomy puts it under {names[parent]}"}]
        topics.append(entry)
    path = cache / "rows" / "topics.yaml"
    path.write_text(yaml.safe_dump({"topics": topics}, sort_keys=False), encoding="utf-8")
    return path


def prepare(cache: Path, sizes: tuple[int, ...], corpus: int) -> tuple[list[tuple[int, Path]], VectorCache, Path | None]:
    """The files ingest reads, as (rows up to and including this file, path), the vector cache
    and the topics file."""
    first, files = write_files(cache, tuple(sorted({corpus, *sizes})))  # the same texts, however cut
    chunks = [(len(tutorialbank()), first), *files]
    texts, ends = texts_of([p for _, p in chunks])
    return chunks, VectorCache(cache, texts, dict(zip((rows for rows, _ in chunks), ends))), topics_file(cache)


# -- building the libraries ---------------------------------------------------------------------
def build(sizes: tuple[int, ...], chunks, cache: VectorCache, topics: Path | None, libs: Path,
          rebuild: bool) -> dict[int, dict]:
    """Each size's library (grown from a copy of the previous one), as {size: what was built}.
    A build that was interrupted goes on from its last ingested file."""
    libs.mkdir(parents=True, exist_ok=True)
    built: dict[int, dict] = {}
    embedder = previous = None
    for size in sizes:
        target, marker, partial = libs / f"lib-{size}", libs / f"lib-{size}.json", libs / f"lib-{size}.partial.json"
        if not rebuild and _valid(marker, cache) and target.exists():
            built[size] = json.loads(marker.read_text())
        else:
            embedder = embedder or CachedEmbedder(cache)
            state = json.loads(partial.read_text()) if not rebuild and _valid(partial, cache) and target.exists() else None
            built[size] = grow(target, size, previous and built[previous], previous and libs / f"lib-{previous}",
                               chunks, cache, topics, embedder, partial, state)
            marker.write_text(json.dumps(built[size], indent=1))
            partial.unlink(missing_ok=True)
        previous = size
    return built


def _valid(marker: Path, cache: VectorCache) -> bool:
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("version") == BUILD_VERSION and info.get("digest") == cache.digest


def grow(target: Path, size: int, before: dict | None, source: Path | None, chunks, cache: VectorCache,
         topics: Path | None, embedder: CachedEmbedder, partial: Path, state: dict | None) -> dict:
    """The library of ``size`` rows at ``target``: a copy of ``source`` (the previous size's, or a
    new empty library) with the remaining files ingested one by one, each waiting for its vectors."""
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.index import read_stamp
    from aidlgraph.library import INDEX_NAME, Library

    if state is None:
        shutil.rmtree(target, ignore_errors=True)
        if source is None:
            create(target, empty=True, embedder=embedder)
        else:
            print(f"copying {source.name} to grow it to {size:,} rows ...", file=sys.stderr, flush=True)
            shutil.copytree(source, target)
        state = {"version": BUILD_VERSION, "digest": cache.digest, "rows": before["rows"] if before else 0,
                 "steps": list(before["steps"]) if before else []}
    limit = max(size, chunks[0][0])  # a size below TutorialBank's 20,244 rows is TutorialBank
    files = [(rows, p) for rows, p in chunks if state["rows"] < rows <= limit]
    if topics and state["rows"] == 0:
        files.insert(0, (0, topics))
    with Library.open(target, embedder=embedder) as lib:
        for rows, path in files:
            cache.wait_for(cache.ends.get(rows, 0))
            started = time.perf_counter()
            report = ingest(lib, [path])
            seconds = time.perf_counter() - started
            state["steps"].append({"file": path.name, "new": report.new, "seconds": round(seconds, 1),
                                   "items": lib.store.item_total(), "index": lib.index.kind})
            state["rows"] = rows
            partial.write_text(json.dumps(state))
            print(f"  {path.name}: {report.new:,} new in {seconds:.0f} s ({report.new / max(seconds, 1e-9):.0f} items/s); "
                  f"{state['steps'][-1]['items']:,} items, index {lib.index.kind}", file=sys.stderr, flush=True)
        state["items"] = lib.store.item_total()
    state.update(index=read_stamp(target / INDEX_NAME).get("index"), embedded_live=embedder.missed)
    return state


# -- queries ------------------------------------------------------------------------------------
def queries(count: int, seed: int = 7) -> dict[str, list[str]]:
    """``count`` distinct queries per command, from TutorialBank: topic names for ``path``, titles
    of resources with their topic for ``related``, questions about topics for ``ask``."""
    rng = random.Random(seed)
    rows = tutorialbank()
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[row["topic_name"]] = sizes.get(row["topic_name"], 0) + 1
    topics = sorted(t for t, n in sizes.items() if n >= 20)
    picked = rng.sample(topics, min(count, len(topics)))
    forms = ["where can I learn about {}?", "how do I get started with {}?", "what should I read first on {}?",
             "any good tutorials on {}?"]
    return {
        "path": [rng.choice(topics) for _ in range(count)] if len(picked) < count else picked,
        "related": [f"{row['title']}, {row['topic_name'].lower()}" for row in rng.sample(rows, count)],
        "ask": [forms[n % len(forms)].format(t.lower()) for n, t in enumerate(rng.sample(topics * 2, count))],
    }


def forget_queries(library: Path) -> None:
    """Empty the library's query-vector cache, so every run embeds its queries as the first did."""
    import sqlite3

    with sqlite3.connect(library / "library.db") as conn:
        conn.execute("DELETE FROM query_cache")


# -- measuring ----------------------------------------------------------------------------------
CHILD = "warm"


def warm_child(library: Path) -> None:
    """In a fresh process: open the library as ``serve`` does, then run the queries read from
    stdin one after another; print open time, latencies and peak RSS as JSON."""
    from aidlgraph.library import Library
    from aidlgraph.query.ask import ask
    from aidlgraph.query.path import reading_path
    from aidlgraph.query.related import related
    from aidlgraph.views import ask_json, path_json, related_json

    todo = json.loads(sys.stdin.read())
    started = time.perf_counter()
    lib = Library.open(library)
    opened = time.perf_counter()
    _ = lib.index.size
    indexed = time.perf_counter()
    lib.graph
    lib.topic_vectors()
    ready = time.perf_counter()
    lib.query_embedder.encode(["warm up the model"] * 12)  # the model, as serve loads it at start
    run = {"path": lambda q: path_json(reading_path(lib, q)), "related": lambda q: related_json(related(lib, q)),
           "ask": lambda q: ask_json(ask(lib, q))}
    times: dict[str, list[float]] = {}
    for name, texts in todo.items():
        for text in texts:
            t = time.perf_counter()
            run[name](text)
            times.setdefault(name, []).append(time.perf_counter() - t)
    print(json.dumps({"open_s": ready - started, "db_s": opened - started, "index_s": indexed - opened,
                      "rss_mb": peak_rss_mb(), "times": times,
                      "index": lib.index.describe(), "items": lib.store.item_total()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec
    from the large parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_library(library: Path, cold: dict[str, list[str]], warm: dict[str, list[str]]) -> dict:
    """Disk size, open time, RSS, warm and cold latencies of one library."""
    import cli_latency

    forget_queries(library)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIDLGRAPH_") or k == "AIDLGRAPH_CACHE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    child = subprocess.run([sys.executable, __file__, "--child", str(library)], input=json.dumps(warm),
                           capture_output=True, text=True, env=env)
    if child.returncode != 0:
        raise SystemExit(f"the warm measurement failed: {child.stderr[-2000:]}")
    out = json.loads(child.stdout.strip().splitlines()[-1])
    base = [sys.executable, "-m", "aidlgraph", "--library", str(library)]
    out["cold"], out["cold_rss_mb"] = {}, {}
    for name, texts in cold.items():
        walls, rss = [], []
        for text in texts:
            wall, mb, code = cli_latency.measure([*base, name, text], env)
            if code == 0:
                walls.append(wall)
                rss.append(mb)
        out["cold"][name], out["cold_rss_mb"][name] = walls, max(rss) if rss else float("nan")
    out["disk_mb"] = sum(p.stat().st_size for p in library.iterdir() if p.is_file()) / 2 ** 20
    return out


def cold_ingest(library: Path, work: Path) -> float:
    """Wall seconds of a cold ``aidlgraph ingest`` of bench/ingest.py's 10-item file into a copy."""
    import ingest as ingest_bench

    work.mkdir(parents=True, exist_ok=True)
    return ingest_bench.cold_small_ingest(library, work, 1)[0]


def index_curve(cache: VectorCache, sizes: list[int], texts: list[str]) -> list[dict]:
    """Exact and approximate search over the first n cached vectors, for each n: time per query
    (one query at a time, k=50 as ``related`` asks) and recall@10 of the approximate index against
    exact search, for 1,000 items as queries (their own id left out) and for real query texts."""
    from aidlgraph import embed
    from aidlgraph.index import VectorIndex, recall_at_10

    matrix = cache.vectors("r")
    real = embed.load(None, "onnx").encode(texts)
    rng = np.random.default_rng(SEED)
    out = []
    for n in sizes:
        ids, vectors = np.arange(n, dtype=np.int64), np.ascontiguousarray(matrix[:n])
        flat = VectorIndex.build(vectors.shape[1], ids, vectors, kind="flat")
        started = time.perf_counter()
        ivf = VectorIndex.build(vectors.shape[1], ids, vectors, kind="ivf")
        build_s = time.perf_counter() - started
        sample = np.sort(rng.choice(n, size=min(n, 1000), replace=False))
        row = {"size": n, "build_s": round(build_s, 1), **{k: ivf.describe()[k] for k in ("nlist", "nprobe")}}
        for name, index in (("flat", flat), ("ivf", ivf)):
            started = time.perf_counter()
            for q in vectors[sample[:200]]:
                index.search(q, 50)
            row[f"{name}_ms"] = (time.perf_counter() - started) / 200 * 1000
        row["recall_items"] = recall_at_10(ivf.search(vectors[sample], 11)[1], flat.search(vectors[sample], 11)[1], ids[sample])
        row["recall_queries"] = recall_at_10(ivf.search(real, 10)[1], flat.search(real, 10)[1])
        out.append(row)
        print(f"  index at {n:,}: flat {row['flat_ms']:.2f} ms, ivf {row['ivf_ms']:.2f} ms (nlist {row['nlist']}, "
              f"nprobe {row['nprobe']}), recall@10 {row['recall_items']:.3f} / {row['recall_queries']:.3f}",
              file=sys.stderr, flush=True)
        del flat, ivf, vectors
    return out


# -- reporting ----------------------------------------------------------------------------------
def report(results: dict[int, dict], curve: list[dict], load: tuple[float, float]) -> None:
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} at the start and {load[1]:.1f} at the end "
          "(other work on the machine slows every column alike)")
    print()
    head = (f"{'items':>9} {'disk MB':>8} {'open s':>7} {'RSS MB':>7} {'index':>14} "
            + " ".join(f"{c + ' ' + m:>17}" for c in ("path", "related", "ask") for m in ("cold", "warm"))
            + f" {'ingest 10':>10}")
    print("latency in ms as p50/p95; cold = a fresh `aidlgraph` process per query; warm = one process, query after query")
    print(head)
    print("-" * len(head))
    for size, r in sorted(results.items()):
        idx = r["index"]
        kind = "flat" if idx["kind"] == "flat" else f"ivf {idx['nlist']}/{idx['nprobe']}"
        cells = []
        for name in ("path", "related", "ask"):
            for values in (r["cold"][name], r["times"][name]):
                cells.append(f"{percentile(values, 50) * 1000:>8.0f}/{percentile(values, 95) * 1000:<8.0f}")
        print(f"{r['items']:>9,} {r['disk_mb']:>8.0f} {r['open_s']:>7.2f} {r['rss_mb']:>7.0f} {kind:>14} "
              + " ".join(cells) + f" {r.get('ingest_s', float('nan')):>9.2f}s")
    print()
    print("the index alone: ms per query (k=50), and recall@10 of IVF against exact search "
          "(1,000 items as queries, own id left out / real query texts)")
    print(f"{'vectors':>9} {'flat ms':>8} {'ivf ms':>7} {'nlist':>6} {'nprobe':>7} {'recall items':>13} "
          f"{'recall queries':>15} {'ivf build s':>12}")
    for row in curve:
        print(f"{row['size']:>9,} {row['flat_ms']:>8.2f} {row['ivf_ms']:>7.2f} {row['nlist']:>6} {row['nprobe']:>7} "
              f"{row['recall_items']:>13.3f} {row['recall_queries']:>15.3f} {row['build_s']:>12.1f}")


def plot(results: dict[int, dict], curve: list[dict], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    sizes = sorted(results)
    items = [results[s]["items"] for s in sizes]
    for name, colour in (("path", "tab:blue"), ("related", "tab:orange"), ("ask", "tab:green")):
        ax.plot(items, [percentile(results[s]["cold"][name], 50) * 1000 for s in sizes], "o-", color=colour,
                label=f"{name}, cold process (p50)")
        ax.plot(items, [percentile(results[s]["times"][name], 50) * 1000 for s in sizes], "s--", color=colour,
                label=f"{name}, warm (p50)")
    xs = [row["size"] for row in curve]
    ax.plot(xs, [row["flat_ms"] for row in curve], "^:", color="grey", label="exact index search, per query")
    ax.plot(xs, [row["ivf_ms"] for row in curve], "v:", color="black", label="IVF index search, per query")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("items in the library")
    ax.set_ylabel("milliseconds")
    ax.set_title("aidlgraph: latency against library size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=120)


# -- the run ------------------------------------------------------------------------------------
def ensure_vectors(cache: VectorCache, opts) -> subprocess.Popen | None:
    """Start filling the vector cache in a child under ``nice -n 15`` (it waits for a filler that
    is already running); libraries are built meanwhile, each file waiting for its vectors."""
    if cache.done() >= len(cache.texts):
        return None
    print(f"embedding {len(cache.texts) - cache.done():,} texts into {cache.path} (niced, resumable) while "
          "the libraries are built ...", file=sys.stderr, flush=True)
    return subprocess.Popen(["nice", "-n", "15", sys.executable, __file__, "--embed-only", "--cache", str(opts.cache),
                             "--sizes", opts.sizes, "--corpus", str(opts.corpus)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--corpus", type=int, default=max(SIZES),
                    help="rows the vector cache holds (another number starts another cache: use another --cache)")
    ap.add_argument("--cold", type=int, default=10, help="fresh processes per command and size")
    ap.add_argument("--warm", type=int, default=30, help="queries per command and size in the warm process")
    ap.add_argument("--rebuild", action="store_true", help="build the libraries again")
    ap.add_argument("--plot", type=Path, default=ROOT / "bench" / "results" / "scale.png")
    ap.add_argument("--embed-only", action="store_true", help="only fill the vector cache")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        warm_child(opts.child)
        return 0
    if not TSV.exists():
        print(f"skipped: {TSV} is not here")
        return 0
    sizes = tuple(sorted(int(s) for s in opts.sizes.split(",")))
    if max(sizes) > opts.corpus:
        raise SystemExit(f"--sizes go up to {max(sizes):,} but --corpus is {opts.corpus:,}")
    chunks, cache, topics = prepare(opts.cache, sizes, opts.corpus)
    if opts.embed_only:
        cache.fill()
        return 0
    load_start = os.getloadavg()[0]
    filler = ensure_vectors(cache, opts)
    built = build(sizes, chunks, cache, topics, opts.cache / "libs", opts.rebuild)
    if filler is not None:
        filler.wait()
    asked = queries(opts.cold + opts.warm)
    cold = {k: v[:opts.cold] for k, v in asked.items()}
    warm = {k: v[opts.cold:] for k, v in asked.items()}
    results = {}
    for size in sizes:
        print(f"measuring the {built[size]['items']:,}-item library ...", file=sys.stderr, flush=True)
        library = opts.cache / "libs" / f"lib-{size}"
        results[size] = measure_library(library, cold, warm)
        results[size]["ingest_s"] = cold_ingest(library, opts.cache / "work")
        results[size]["build"] = built[size]
    points = sorted({min(n, len(cache.texts)) for n in (20_000, 50_000, 100_000, *sizes) if n <= max(sizes)})
    curve = index_curve(cache, points, asked["related"][:30] + asked["ask"][:30])
    report(results, curve, (load_start, os.getloadavg()[0]))
    plot(results, curve, opts.plot)
    results_file = opts.plot.with_suffix(".json")
    results_file.write_text(json.dumps({"results": {str(k): v for k, v in results.items()}, "curve": curve}, indent=1))
    print(f"plot: {opts.plot}; figures: {results_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
