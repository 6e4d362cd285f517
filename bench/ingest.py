"""Ingest speed: a small file into an existing library in a cold process, a 20k-row ingest against
raw sentence-transformers, and an unchanged re-ingest.

    python bench/ingest.py [--limit N] [--runs 5]

Prints, in one run, with the aims:

- a 10-item YAML file (a weekly issue's worth, without topics, so they are tagged by similarity)
  ingested by a fresh ``aidlgraph ingest`` process into a copy of the default library (the
  shipped corpus): median and worst of ``--runs`` (aim: at most 1.0 s);
- TutorialBank (``../shared/datasets/tutorialbank``, 20,244 rows) ingested into an empty library,
  against raw sentence-transformers ``model.encode`` (its defaults: batch 32) on the same texts in
  the same run, measured before and after the ingest so a change in machine load shows (aim:
  ingest at least as fast). Every row is given a description (its topic, medium, authors, venue
  and year), so its text is distinct: TutorialBank repeats 23% of its titles, and ingest encodes
  identical texts once, which would flatter it;
- the smallest cosine between the vectors ingest stored (ONNX) and sentence-transformers' for the
  same texts;
- an unchanged re-ingest as a share of the first (aim: at most 2%), and a touched file whose rows
  did not change.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"
SMALL = """source: AIDL Weekly Issue 99
items:
  - title: FlashAttention-3 explained
    text: A walkthrough of the asynchrony and low-precision tricks that make attention fast on Hopper GPUs.
  - title: A gentle introduction to diffusion models
    text: Score matching, denoising and the sampler zoo, with code.
  - title: Why batch normalization works
    text: An essay on internal covariate shift and the smoothing of the loss landscape.
  - title: A Kaggle grandmaster on tabular data
    text: Gradient boosting still beats deep networks on most tables; when it does not.
  - title: Profiling PyTorch training loops
    text: Finding the data loader bottleneck with the profiler and Nsight.
  - title: How much linear algebra do I need?
    kind: question
    text: Vectors, matrices, eigenvalues; what to read first.
  - title: Segment Anything, one year on
    text: Promptable segmentation models and what people built on them.
  - title: Quantization for inference on CPUs
    text: int8 weights, calibration and the accuracy lost in practice.
  - title: A reading list for reinforcement learning
    text: Sutton and Barto, Spinning Up, and David Silver's lectures.
  - title: Tokenizers from scratch
    text: Byte-pair encoding, WordPiece and unigram models compared.
"""


def distinct_rows(limit: int | None) -> list[dict]:
    """TutorialBank's rows, each with a description that makes its text distinct."""
    with open(TSV, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))[:limit]
    seen: set[str] = set()
    out = []
    for row in rows:
        about = f"{row['topic_name']}: {row['medium'] or 'resource'} by {row['author'] or 'unknown authors'}"
        about += f" ({row['venue']}, {row['year']})" if row["venue"] and row["year"] else ""
        if (row["title"], about) in seen:
            about += f", entry {row['id']}"
        seen.add((row["title"], about))
        out.append({"title": row["title"], "url": row["url"], "topic_name": row["topic_name"],
                    "author": row["author"], "year": row["year"], "description": about})
    return out


def cold_small_ingest(library: Path, work: Path, runs: int) -> list[float]:
    """Wall seconds of ``aidlgraph ingest SMALL`` in a fresh process, each into a fresh copy."""
    source = work / "issue-99.yaml"
    source.write_text(SMALL, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("AIDLGRAPH_HOME", "AIDLGRAPH_BACKEND")}
    walls = []
    for n in range(runs):
        copy = work / f"copy-{n}"
        shutil.copytree(library, copy)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "aidlgraph", "--library", str(copy), "ingest", str(source)],
                              env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0 or "10 new" not in done.stdout:
            raise SystemExit(f"the small ingest failed: {done.stdout}{done.stderr}")
        shutil.rmtree(copy)
    return walls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="only the first N TutorialBank rows (quick runs)")
    ap.add_argument("--runs", type=int, default=5, help="cold small ingests (the median and the worst are shown)")
    opts = ap.parse_args()
    if not TSV.exists():
        print(f"skipped: {TSV} is not here")
        return 0
    from aidlgraph import embed
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.corpus import load_path
    from aidlgraph.embed.onnx_backend import OnnxEmbedder
    from aidlgraph.library import Library

    load_before = os.getloadavg()
    onnx = embed.load(None, "auto")  # makes the ONNX export if this cache has none
    if not isinstance(onnx, OnnxEmbedder):
        print("note: no ONNX export could be made here; ingest runs on sentence-transformers")
    st = embed.load(None, "torch").model
    with tempfile.TemporaryDirectory(prefix="aidlgraph-bench-ingest-") as tmp:
        tmp = Path(tmp)
        shipped = create(tmp / "shipped", empty=False)
        small = cold_small_ingest(shipped, tmp, opts.runs)

        source = tmp / "tutorialbank.tsv"
        rows = distinct_rows(opts.limit)
        with open(source, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, list(rows[0]), delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        parsed = [i for b in load_path(source) for i in b.items]
        items = {i.id: i for i in parsed}
        # rows that are one item (TutorialBank has two rows with one link): ingest merges them, so
        # the stored vector is not that of either row's text alone; the cosine leaves them out
        repeated = {iid for iid, n in Counter(i.id for i in parsed).items() if n > 1}
        texts = [i.embed_text() for i in items.values()]
        lib = Library.open(create(tmp / "lib", empty=True))

        st.encode(texts[:64])  # warm both paths up
        onnx.encode(texts[:64])
        started = time.perf_counter()
        reference = st.encode(texts)
        raw_before = time.perf_counter() - started

        started = time.perf_counter()
        first = ingest(lib, [source], progress=sys.stderr.isatty())
        first_s = time.perf_counter() - started

        started = time.perf_counter()
        again = ingest(lib, [source])
        again_s = time.perf_counter() - started

        # the file changed (an empty row added), its rows did not: parsed again, nothing embedded
        edited = source.read_text(encoding="utf-8").replace("\n", "\n\t\t\t\t\t\n", 1)
        source.write_text(edited, encoding="utf-8")
        started = time.perf_counter()
        touched = ingest(lib, [source])
        touched_s = time.perf_counter() - started

        started = time.perf_counter()
        st.encode(texts)
        raw_after = time.perf_counter() - started
        started = time.perf_counter()
        onnx.encode(texts)
        onnx_s = time.perf_counter() - started

        rows_by_id = lib.store.items_by_id(list(items))
        nums = [rows_by_id[i]["num"] for i in items]
        ids, stored = lib.store.vectors(nums, dim=lib.dim)
        order = {int(n): k for k, n in enumerate(ids)}
        stored = stored[[order[n] for n in nums]]
        reference = np.asarray(reference, dtype=np.float32)
        reference /= np.linalg.norm(reference, axis=1, keepdims=True)
        cosines = (stored * reference).sum(axis=1)[[k for k, iid in enumerate(items) if iid not in repeated]]
        lib.close()

    n = len(texts)
    raw_s = (raw_before + raw_after) / 2
    ingest_rate, raw_rate = n / first_s, n / raw_s
    small_med, small_max = statistics.median(small), max(small)
    print(f"machine: {os.cpu_count()} cores; load average {load_before[0]:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end (timings on a busy machine are noisy)")
    print(f"10-item file into the default library, cold `aidlgraph ingest` process: median {small_med:.2f} s, "
          f"worst {small_max:.2f} s of {len(small)} (aim <= 1.0 s: {'met' if small_med <= 1.0 else 'MISSED'})")
    print(f"TutorialBank: {len(rows)} rows, {n} items, {len(set(texts))} distinct texts; {first.topics_new} topics")
    print(f"{'':34}{'seconds':>9}{'items/s':>10}")
    print(f"{'sentence-transformers encode':34}{raw_s:>9.1f}{raw_rate:>10.1f}  (before {n / raw_before:.1f}/s, "
          f"after {n / raw_after:.1f}/s; batch 32)")
    print(f"{'ONNX encode (what ingest uses)':34}{onnx_s:>9.1f}{n / onnx_s:>10.1f}")
    print(f"{'aidlgraph ingest (first)':34}{first_s:>9.1f}{ingest_rate:>10.1f}  embedded {first.embedded}")
    print(f"{'aidlgraph ingest (unchanged)':34}{again_s:>9.2f}{'':>10}  embedded {again.embedded}")
    print(f"{'ingest (file touched, rows not)':34}{touched_s:>9.2f}{'':>10}  embedded {touched.embedded}, "
          f"unchanged {touched.unchanged}")
    print(f"ingest / sentence-transformers encode rate: {ingest_rate / raw_rate:.2f}x "
          f"(aim >= 1.00x: {'met' if ingest_rate >= raw_rate else 'MISSED'})")
    print(f"unchanged re-ingest / first: {again_s / first_s:.1%} (aim <= 2%: {'met' if again_s <= 0.02 * first_s else 'MISSED'}); "
          f"touched file: {touched_s / first_s:.1%}")
    print(f"ONNX (stored by ingest) vs sentence-transformers vectors over {len(cosines)} texts ({len(repeated)} "
          f"item merged from rows sharing a link left out): min cosine {cosines.min():.6f}, "
          f"mean {cosines.mean():.7f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
