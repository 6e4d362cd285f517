"""What a curator meets: `related` on multi-story drafts, short queries and junk, and the
"already covered" flag, scored on data/curator_cases.yaml over the shipped corpus.

    python bench/curator.py                       # the calibrate half (what the floors were tuned on)
    python bench/curator.py --split report        # the held-out half: run once, at the end
    python bench/curator.py --sweep               # calibrate half, across relevance floors and covered thresholds

Scores (each case as data/curator_cases.yaml defines it):
- drafts: per paragraph, the expected past item is among the top 3 results of that paragraph's
  part; a paragraph the archive has nothing on gets no results at all.
- queries: the expected item is in the top 3; a junk or out-of-archive query gets `results: []`
  and a `note`.
- covered: a copy, light edit or paraphrase of a shipped item is flagged as covered by that item;
  a related new story or an unrelated one is not flagged.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "data" / "curator_cases.yaml"


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def score_drafts(lib, related, cases, verbose: bool, **options) -> tuple[int, int, int, int]:
    """(expected found, expected, empty nulls, nulls) over the paragraphs of the drafts."""
    found = expected = empty = nulls = 0
    for case in cases:
        out = related(lib, case["text"], k=60, **options)
        parts = out["parts"]
        if len(parts) != len(paragraphs(case["text"])):
            print(f"  {case['id']}: {len(parts)} parts for {len(paragraphs(case['text']))} paragraphs")
        for n, p in enumerate(parts, 1):
            want = case["expect"].get(n, "missing")
            top = [r["title"] for r in p["results"][:3]]
            if want is None:
                nulls += 1
                ok = not p["results"]
                empty += ok
            else:
                expected += 1
                ok = any(re.search(want, t, re.I) for t in top)
                found += ok
            if verbose:
                print(f"  {'ok ' if ok else 'BAD'} {case['id']} part {n} want {want!r}: {top}")
    return found, expected, empty, nulls


def score_queries(lib, related, cases, verbose: bool, **options) -> tuple[int, int, int, int]:
    found = expected = empty = nulls = 0
    for case in cases:
        out = related(lib, case["text"], k=10, **options)
        top = [r["title"] for r in out["results"][:3]]
        if case["expect"] is None:
            nulls += 1
            ok = not out["results"] and bool(out.get("note"))
            empty += ok
        else:
            expected += 1
            ok = any(re.search(case["expect"], t, re.I) for t in top)
            found += ok
        if verbose:
            print(f"  {'ok ' if ok else 'BAD'} {case['id']} want {case['expect']!r}: {top}")
    return found, expected, empty, nulls


def score_covered(lib, related, cases, verbose: bool, **options) -> tuple[int, int, int, int]:
    """(flagged right, covered cases, not flagged, new cases)."""
    flagged = covered = clean = new = 0
    for case in cases:
        out = related(lib, case["text"], k=10, **options)
        flags = [p["covered"] for p in out["parts"] if p.get("covered")]
        if case["covered"] is None:
            new += 1
            ok = not flags
            clean += ok
        else:
            covered += 1
            ok = any(re.search(case["covered"], f["title"], re.I) for f in flags)
            flagged += ok
        if verbose:
            got = [f"{f['title'][:40]} ({f['how']}, {f['similarity']:.2f}, words {f['shared_words']:.2f})" for f in flags]
            print(f"  {'ok ' if ok else 'BAD'} {case['id']} {case['how']:<11} want {case['covered']!r}: {got}")
    return flagged, covered, clean, new


def report(name: str, scores: tuple[int, int, int, int], what: tuple[str, str]) -> float:
    a, b, c, d = scores
    print(f"{name:8} {what[0]} {a}/{b} ({a / max(b, 1):.2f})   {what[1]} {c}/{d} ({c / max(d, 1):.2f})")
    return (a + c) / max(b + d, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("calibrate", "report"), default="calibrate")
    ap.add_argument("--sweep", action="store_true", help="calibrate half: scores across floors and covered thresholds")
    ap.add_argument("--library", help="a library of the shipped corpus to reuse (built in a temp dir otherwise)")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()
    if opts.sweep and opts.split != "calibrate":
        ap.error("--sweep tunes: only on the calibrate half")
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library
    from aidlgraph.query.related import explain, fuse, related

    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    pick = {name: [c for c in cases[name] if c["split"] == opts.split] for name in ("drafts", "queries", "covered")}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(opts.library) if opts.library else create(Path(tmp) / "lib")
        lib = Library.open(path)
        print(f"curator cases, {opts.split} half: {len(pick['drafts'])} drafts "
              f"({sum(len(paragraphs(c['text'])) for c in pick['drafts'])} paragraphs), "
              f"{len(pick['queries'])} queries, {len(pick['covered'])} covered checks")
        if opts.sweep:
            sweep(lib, related, fuse, explain, pick)
            return 0
        d = score_drafts(lib, related, pick["drafts"], opts.verbose)
        q = score_queries(lib, related, pick["queries"], opts.verbose)
        c = score_covered(lib, related, pick["covered"], opts.verbose)
        report("drafts", d, ("paragraphs with their item in the top 3", "paragraphs with nothing, offered nothing"))
        report("queries", q, ("item in the top 3", "junk/out-of-archive with no results and a note"))
        report("covered", c, ("copies/edits/paraphrases flagged", "new stories not flagged"))
        lib.close()
    return 0


def sweep(lib, related, fuse, explain, pick) -> None:
    """Scores on the calibrate half across relevance floors, vote confidences and covered thresholds."""
    print(f"{'floor':>6} {'vote':>5}  {'draft hits':>10} {'draft nulls':>11} {'query hits':>10} {'query nulls':>11}  balanced")
    default_vote = fuse.VOTE_CONFIDENCE
    for vote in (0.45, 0.50, 0.55, 0.60, 0.70, 9.0):
        fuse.VOTE_CONFIDENCE = vote
        for floor in (0.30, 0.35, 0.40, 0.45, 0.50, 0.55):
            d = score_drafts(lib, related, pick["drafts"], False, floor=floor)
            q = score_queries(lib, related, pick["queries"], False, floor=floor)
            hits = (d[0] + q[0]) / max(d[1] + q[1], 1)
            nulls = (d[2] + q[2]) / max(d[3] + q[3], 1)
            print(f"{floor:>6.2f} {vote:>5.2f}  {d[0]:>4}/{d[1]:<5} {d[2]:>5}/{d[3]:<5} {q[0]:>4}/{q[1]:<5} "
                  f"{q[2]:>5}/{q[3]:<5}  {(hits + nulls) / 2:.3f}")
    fuse.VOTE_CONFIDENCE = default_vote
    print(f"\n{'verbatim':>8} {'reworded':>8} {'words':>6}  covered flagged   new not flagged")
    defaults = (explain.COVERED_VERBATIM, explain.COVERED_REWORDED, explain.COVERED_WORDS)
    for verbatim in (0.80, 0.85, 0.90):
        for reworded in (0.60, 0.65, 0.70, 0.75):
            for words in (0.0, 0.25, 0.40):
                explain.COVERED_VERBATIM, explain.COVERED_REWORDED, explain.COVERED_WORDS = verbatim, reworded, words
                c = score_covered(lib, related, pick["covered"], False)
                print(f"{verbatim:>8.2f} {reworded:>8.2f} {words:>6.2f}  {c[0]:>7}/{c[1]:<7} {c[2]:>7}/{c[3]}")
    explain.COVERED_VERBATIM, explain.COVERED_REWORDED, explain.COVERED_WORDS = defaults


if __name__ == "__main__":
    sys.exit(main())
