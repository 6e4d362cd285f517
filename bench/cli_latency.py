"""Cold start of the read commands: wall time and peak memory of one fresh process each.

    python bench/cli_latency.py [--library DIR] [--runs 5] [--cache DIR]

Builds a library from the shipped corpus (data/) in a temporary directory, or uses --library DIR,
then times `aidlgraph path "semantic segmentation"`, `aidlgraph related "<a sentence>"` and
`aidlgraph ask "<a question>"`, each in a fresh process (median of --runs). Cold runs use a query
not yet in the library's query cache (a random suffix); the cached column repeats one query.
The baseline is a bare `python -c "import sentence_transformers"`, and txtai's cold search over
the same corpus when txtai is importable (the column is skipped otherwise).

Peak RSS is each child's own ru_maxrss (os.wait4), so one large child does not hide the others.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCE = "How pinned host memory and batched transfers speed up copies to the GPU"
QUESTION = "Where should I start learning about image segmentation?"
TOPIC = "semantic segmentation"
AIMS = {"path": (0.5, 300.0), "related": (0.8, 300.0), "ask": (0.8, 300.0)}


def measure(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr.close()
    if proc.returncode != 0:
        print(f"warning: {' '.join(cmd[-3:])!r} exited {proc.returncode}: {err.strip()[-300:]}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024.0, proc.returncode  # Linux reports KiB


def median_of(runs: int, make_cmd, env: dict) -> tuple[float, float]:
    walls, rss = [], []
    for n in range(runs):
        wall, mem, _ = measure(make_cmd(n), env)
        walls.append(wall)
        rss.append(mem)
    return statistics.median(walls), statistics.median(rss)


def suffix() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=6))


def aidlgraph_cmd() -> list[str]:
    script = Path(sys.executable).with_name("aidlgraph")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from aidlgraph.cli import main; main()"]


def build_library(target: Path) -> Path:
    """The shipped corpus (or, while data/ is missing, the tests' mini corpus) in ``target``."""
    from aidlgraph import config
    from aidlgraph.library import Library, create

    if config.data_dir().is_dir():
        print(f"building a library from {config.data_dir()} in {target} ...", file=sys.stderr)
        return create(target, empty=False)
    mini = ROOT / "tests" / "fixtures" / "mini"
    print(f"note: {config.data_dir()} is missing; benchmarking the tests' mini corpus instead", file=sys.stderr)
    from aidlgraph.ingest import ingest

    path = create(target, empty=True)
    with Library.open(path, build=False) as lib:
        ingest(lib, [mini])
    return path


def txtai_column(library: Path, runs: int, env: dict, workdir: Path) -> tuple[float, float] | None:
    """Median cold (wall, RSS) of a txtai search over the same items, or None without txtai."""
    if importlib.util.find_spec("txtai") is None:
        return None
    import sqlite3

    from aidlgraph import embed
    from aidlgraph.library import Library

    with Library.open(library, build=False) as lib:
        model = embed.model_path(lib.model)
    with sqlite3.connect(library / "library.db") as conn:
        rows = conn.execute("SELECT id, title || ' ' || coalesce(text, '') FROM items").fetchall()
    index = workdir / "txtai-index"
    build = ("import json, sys\nfrom txtai import Embeddings\n"
             "rows = json.load(open(sys.argv[1]))\n"
             "e = Embeddings(path=sys.argv[2], content=True)\n"
             "e.index([(i, t, None) for i, t in rows])\ne.save(sys.argv[3])\n")
    rows_file = workdir / "txtai-rows.json"
    import json

    rows_file.write_text(json.dumps(rows))
    subprocess.run([sys.executable, "-c", build, str(rows_file), model, str(index)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    search = ("import sys\nfrom txtai import Embeddings\ne = Embeddings()\ne.load(sys.argv[1])\n"
              "print(e.search(sys.argv[2], 10))\n")
    return median_of(runs, lambda n: [sys.executable, "-c", search, str(index), f"{SENTENCE} {suffix()}"], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, help="An existing library (default: build one in a temp dir).")
    parser.add_argument("--runs", type=int, default=5, help="Runs per measurement (the median is shown).")
    parser.add_argument("--cache", type=Path, help="AIDLGRAPH_CACHE for the ONNX export (default: as set, else the user cache).")
    args = parser.parse_args()
    if args.cache:
        os.environ["AIDLGRAPH_CACHE"] = str(args.cache)

    workdir = Path(tempfile.mkdtemp(prefix="aidlgraph-bench-"))
    try:
        library = args.library or build_library(workdir / "lib")
        env = {**os.environ, "AIDLGRAPH_HOME": str(library)}
        env.pop("AIDLGRAPH_MODEL", None)
        base = aidlgraph_cmd()
        commands = {
            "path": lambda q: [*base, "path", TOPIC],
            "related": lambda q: [*base, "related", f"{SENTENCE} {q}"],
            "ask": lambda q: [*base, "ask", f"{QUESTION} {q}"],
        }
        # Warm-up: makes the ONNX export if it is missing (one slow run with torch), stores topic
        # vectors and the member questions' embeddings, as any first use of a library does.
        first = {name: measure(make(suffix()), env) for name, make in commands.items()}

        rows = {}
        for name, make in commands.items():
            cold = median_of(args.runs, lambda n: make(suffix()), env)
            fixed = suffix()
            measure(make(fixed), env)  # puts this query in the cache
            cached = median_of(args.runs, lambda n: make(fixed), env)
            rows[name] = (cold, cached)
        st = median_of(args.runs, lambda n: [sys.executable, "-c", "import sentence_transformers"], env)
        txtai = txtai_column(library, args.runs, env, workdir)
    finally:
        if not args.library:
            shutil.rmtree(workdir, ignore_errors=True)

    from aidlgraph.onnx_embed import OnnxEmbedder  # noqa: F401  (the report says which encoder ran)

    print(f"library: {args.library or '(temporary, built from the shipped corpus)'}; median of {args.runs} "
          f"fresh processes; {os.cpu_count()} cores")
    print(f"baseline `python -c \"import sentence_transformers\"`: {st[0]:.2f} s, {st[1]:.0f} MB")
    print("txtai cold search: " + (f"{txtai[0]:.2f} s, {txtai[1]:.0f} MB" if txtai else "skipped (txtai is not installed)"))
    print()
    head = (f"{'command':<9} {'cold s':>7} {'cold MB':>8} {'cached s':>9} {'cached MB':>10} {'s / ST':>7} {'MB / ST':>8}"
            + (f" {'s / txtai':>10} {'MB / txtai':>11}" if txtai else "") + f" {'first run s':>12}  aim")
    print(head)
    print("-" * len(head))
    for name, ((cold_s, cold_mb), (cached_s, cached_mb)) in rows.items():
        aim_s, aim_mb = AIMS[name]
        ok = cold_s <= aim_s and cold_mb <= aim_mb
        line = (f"{name:<9} {cold_s:>7.2f} {cold_mb:>8.0f} {cached_s:>9.2f} {cached_mb:>10.0f} "
                f"{cold_s / st[0]:>7.2f} {cold_mb / st[1]:>8.2f}")
        if txtai:
            line += f" {cold_s / txtai[0]:>10.2f} {cold_mb / txtai[1]:>11.2f}"
        line += f" {first[name][0]:>12.2f}  <= {aim_s} s, <= {aim_mb:.0f} MB: {'met' if ok else 'MISSED'}"
        print(line)
    print()
    print("aims: related and ask <= 0.8 s and <= 300 MB cold; path on a known topic <= 0.5 s.")
    print("cold = a query not in the query cache (random suffix); cached = the same query again;")
    print("first run = the warm-up on this library (may export the model, store topic vectors, embed member questions).")


if __name__ == "__main__":
    main()
