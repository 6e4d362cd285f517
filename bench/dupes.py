"""`aidlgraph dupes` on labelled pairs: does it call duplicates duplicates, and keep parts of one
series, pieces of one issue and different works on one subject apart?

    python bench/dupes.py                   # the calibrate half of the pairs in data/curator_cases.yaml
    python bench/dupes.py --split report    # the held-out half: run once, at the end
    python bench/dupes.py --sweep           # calibrate half, across thresholds

The shipped corpus is built in a temporary directory; the inline items of the chosen half (re-posts
under other sources, new items) are ingested into it under their own sources; then `duplicates()`
runs over the whole library as the command does, and each labelled pair is looked up in its
output. Prints precision and recall of "duplicate", how series, same-issue and unrelated-similar
pairs were classified, and every duplicate found outside the labelled pairs (for a reader to judge).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "data" / "curator_cases.yaml"


def build(tmp: Path, pairs: list[dict], library: str | None):
    """A library of the shipped corpus plus the inline items of ``pairs``, and each pair as two
    item ids (regexes resolved against the shipped items only)."""
    import shutil

    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.library import Library

    path = tmp / "lib"
    if library:
        shutil.copytree(library, path, ignore=shutil.ignore_patterns(".write.lock"))
    else:
        create(path)
    lib = Library.open(path)
    shipped = lib.store.items()
    by_source: dict[str, list[dict]] = {}
    for p in pairs:
        for side in ("a", "b"):
            if isinstance(p[side], dict):
                by_source.setdefault(p[side]["source"], []).append(
                    {"title": p[side]["title"], "text": p[side]["text"], "kind": "news"})
    files = []
    for n, (source, items) in enumerate(by_source.items()):
        f = tmp / f"inline-{n}.yaml"
        f.write_text(yaml.safe_dump({"source": source, "items": items}, allow_unicode=True), encoding="utf-8")
        files.append(f)
    if files:
        ingest(lib, files)
    everything = lib.store.items()

    def resolve(side) -> str:
        if isinstance(side, dict):
            found = [r for r in everything if r["title"] == side["title"] and r["source"] == side["source"]]
        else:
            found = [r for r in shipped if re.search(side, r["title"], re.IGNORECASE)]
        if len(found) != 1:
            raise SystemExit(f"the pair side {side!r} matches {len(found)} items, not one")
        return found[0]["id"]

    return lib, [(resolve(p["a"]), resolve(p["b"]), p["label"]) for p in pairs]


def score(lib, labelled, threshold: float, verbose: bool = False) -> dict:
    from aidlgraph.query.related import duplicates

    found = duplicates(lib, threshold, include_other_links=True, include_series=True)
    relation = {frozenset((p["a"]["id"], p["b"]["id"])): p for p in found}
    outcome = Counter()
    labelled_keys = set()
    for a, b, label in labelled:
        key = frozenset((a, b))
        labelled_keys.add(key)
        got = relation.get(key)
        outcome[(label, got["relation"] if got else "not listed")] += 1
        if verbose:
            shown = f"{got['relation']} (cosine {got['score']:.2f}, shared words {got['shared_words']:.2f})" if got else "not listed"
            print(f"  {label:18} -> {shown:48} {lib.store.item(a)['title'][:38]!r} ~ {lib.store.item(b)['title'][:38]!r}")
    tp = outcome[("duplicate", "duplicate")]
    fp = sum(n for (label, got), n in outcome.items() if got == "duplicate" and label != "duplicate")
    fn = sum(n for (label, got), n in outcome.items() if label == "duplicate" and got != "duplicate")
    others = [p for p in found if p["relation"] == "duplicate" and frozenset((p["a"]["id"], p["b"]["id"])) not in labelled_keys]
    return {"outcome": outcome, "tp": tp, "fp": fp, "fn": fn, "others": others,
            "listed": Counter(p["relation"] for p in found)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("calibrate", "report"), default="calibrate")
    ap.add_argument("--sweep", action="store_true", help="calibrate half: precision/recall across thresholds")
    ap.add_argument("--library", help="a library of the shipped corpus to copy (built in a temp dir otherwise)")
    ap.add_argument("-v", "--verbose", action="store_true")
    opts = ap.parse_args()
    if opts.sweep and opts.split != "calibrate":
        ap.error("--sweep tunes: only on the calibrate half")
    from aidlgraph.query.related import dupes

    pairs = [p for p in yaml.safe_load(CASES.read_text(encoding="utf-8"))["pairs"] if p["split"] == opts.split]
    with tempfile.TemporaryDirectory() as tmp:
        lib, labelled = build(Path(tmp), pairs, opts.library)
        print(f"dupes on labelled pairs, {opts.split} half: {len(labelled)} pairs "
              f"({', '.join(f'{n} {k}' for k, n in sorted(Counter(l for *_, l in labelled).items()))}); "
              f"{lib.store.item_total()} items in the library")
        if opts.sweep:
            words_default = dupes.DUPLICATE_WORDS
            print(f"{'cosine':>7} {'words':>6}  {'precision':>9} {'recall':>7}  duplicates listed")
            for words in (0.0, 0.3, 0.45, 0.55, 0.65, 0.75):
                dupes.DUPLICATE_WORDS = words
                for threshold in (0.70, 0.75, 0.80, 0.85, 0.90, 0.95):
                    s = score(lib, labelled, threshold)
                    p, r = s["tp"] / max(s["tp"] + s["fp"], 1), s["tp"] / max(s["tp"] + s["fn"], 1)
                    print(f"{threshold:>7.2f} {words:>6.2f}  {p:>9.2f} {r:>7.2f}  {s['listed']['duplicate']}")
            dupes.DUPLICATE_WORDS = words_default
            return 0
        s = score(lib, labelled, dupes.DUPLICATE_MIN, verbose=opts.verbose)
        lib.close()
    p, r = s["tp"] / max(s["tp"] + s["fp"], 1), s["tp"] / max(s["tp"] + s["fn"], 1)
    print(f"threshold: cosine >= {dupes.DUPLICATE_MIN}, shared words >= {dupes.DUPLICATE_WORDS} "
          f"(same issue: cosine >= {dupes.OVERLAP_MIN}, shared words >= {dupes.OVERLAP_WORDS})")
    print(f"duplicate: precision {p:.2f} ({s['tp']}/{s['tp'] + s['fp']}), recall {r:.2f} ({s['tp']}/{s['tp'] + s['fn']})")
    for label in ("series", "same-issue", "unrelated-similar"):
        got = {g: n for (l, g), n in s["outcome"].items() if l == label}
        print(f"{label:18} " + ", ".join(f"{g}: {n}" for g, n in sorted(got.items())))
    print(f"listed over the whole library: " + ", ".join(f"{n} {k}" for k, n in sorted(s["listed"].items())))
    for o in s["others"]:
        print(f"  unlabelled duplicate: {o['score']:.2f} {o['a']['title'][:45]!r} ({o['a']['source']}) ~ "
              f"{o['b']['title'][:45]!r} ({o['b']['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
