"""Ingest throughput on TutorialBank against the raw model.encode rate, and the cost of an
unchanged re-ingest.

    python bench/ingest.py [--limit N]

Prints items/s for `ingest` of ../shared/datasets/tutorialbank/resources-v2023-clean.tsv into a
fresh library, the raw `model.encode` rate on the same texts in the same run (target: ingest >=
0.9x raw), and an unchanged re-ingest's time as a share of the first (target <= 2%).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="only the first N rows (quick runs)")
    opts = ap.parse_args()
    if not TSV.exists():
        print(f"skipped: {TSV} is not here")
        return 0
    from aidlgraph import embed
    from aidlgraph.corpus import load_path
    from aidlgraph.build.ingest import ingest
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tutorialbank.tsv"
        lines = TSV.read_text(encoding="utf-8").splitlines(keepends=True)
        source.write_text("".join(lines[: (opts.limit + 1) if opts.limit else None]), encoding="utf-8")
        model = embed.load("all-MiniLM-L6-v2")
        model.encode(["warm up"])
        lib = Library.open(create(Path(tmp) / "lib", empty=True))

        items = [i for b in load_path(source) for i in b.items]
        unique = {i.id: i for i in items}
        texts = [i.embed_text() for i in unique.values()]

        # raw encode before and after the ingest, so a change in machine load shows up
        started = time.perf_counter()
        model.encode(texts)
        raw_before = time.perf_counter() - started

        started = time.perf_counter()
        first = ingest(lib, [source], progress=sys.stderr.isatty())
        first_s = time.perf_counter() - started

        started = time.perf_counter()
        again = ingest(lib, [source])
        again_s = time.perf_counter() - started

        # the file changed (a blank row added), its rows did not: parsed again, nothing rewritten or embedded
        edited = source.read_text(encoding="utf-8").replace("\n", "\n# touched\t\t\t\t\t\t\t\t\n", 1)
        source.write_text(edited, encoding="utf-8")
        started = time.perf_counter()
        touched = ingest(lib, [source])
        touched_s = time.perf_counter() - started

        started = time.perf_counter()
        model.encode(texts)
        raw_after = time.perf_counter() - started
        raw_s = (raw_before + raw_after) / 2
        lib.close()

    n = len(texts)
    ingest_rate, raw_rate = n / first_s, n / raw_s
    print(f"rows: {len(items)}, unique items: {n} ({first.merged} repeated rows merged), topics: {first.topics_new}")
    print(f"{'':28}{'seconds':>10}{'items/s':>10}")
    print(f"{'raw model.encode (mean)':28}{raw_s:>10.1f}{raw_rate:>10.1f}  (before {n / raw_before:.1f}/s, after {n / raw_after:.1f}/s)")
    print(f"{'aidlgraph ingest (first)':28}{first_s:>10.1f}{ingest_rate:>10.1f}")
    print(f"{'aidlgraph ingest (again)':28}{again_s:>10.2f}{'':>10}  embedded {again.embedded}")
    print(f"{'ingest (file changed, rows not)':28}{touched_s:>10.2f}{'':>10}  embedded {touched.embedded}, "
          f"unchanged {touched.unchanged} ({touched_s / first_s:.1%} of the first)")
    print(f"ingest / raw encode rate: {ingest_rate / raw_rate:.2f}x (target >= 0.90x)")
    print(f"unchanged re-ingest / first: {again_s / first_s:.1%} (target <= 2%)")
    print(f"distinct texts encoded: {len(set(texts))} of {n} (identical texts are encoded once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
