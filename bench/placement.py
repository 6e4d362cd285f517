"""Placement precision: how well ingest puts an item without topics (and a heading) in its place.

    python bench/placement.py               # report: the rules in the code, on the report splits
    python bench/placement.py --calibrate   # choose the rules on the calibration splits only
    python bench/placement.py --part tutorialbank|shipped|headings

The protocol was fixed before any figure was seen:

**Tagging** (``build.infer``), on two corpora. Items are shuffled (seed 2026); the first 20% are
the *report* split, the next 20% the *calibration* split, the rest the labelled library.
- *TutorialBank* (``../shared/datasets/tutorialbank``, 20k titles in 293 topics): the labelled
  rows are ingested with their topic column into a fresh library; each held-out title is then
  placed exactly as ingest places an untagged item (``ingest.stored_neighbours`` and
  ``infer.rank``/``infer.choose`` over ``lib.topic_vectors()``). Truth: every topic TutorialBank
  gives the same link (or title).
- *Shipped corpus* (``data/``: 92 items, curated topics from ``data/topics.yaml``): the same with
  the items' curated tags held out.
For the report, the calibration rows are ingested with their labels first, so the report split is
placed from the other 80%, as the issue asks. Printed: the share left untagged, accuracy@1 (the
first tag is one of the item's topics, over tagged items), accuracy@3 (one of its topics is among
the three best-ranked, over tagged items), the precision of every tag written, and accuracy@1/@3
over all items with no threshold, for scale.
*Calibration*: for each kind of evidence of ``infer.RULE`` (the topic's text, the neighbours'
vote) on its own, the minimum and margin that maximise the share tagged, averaged over the two
corpora, subject to accuracy@1 >= 0.80 on each calibration split. (First protocol, changed after
seeing calibration figures only: one score mixing both kinds by a calibrated weight; no weight
served both corpora, the chosen one left 97.6% and 100% of the calibration items untagged.)

**Headings** (``build.headings``), on the shipped topics, split in halves by topic (seed 2026):
- a heading naming a topic in other words: each alias of a topic, with that alias taken out of
  the topic's own text, must find the topic (a positive);
- a heading naming a topic the library lacks: each topic's name, with the topic taken out of the
  library, must find nothing (a negative).
Printed: precision (right matches / matches) and recall (right matches / positives).
*Calibration*: ``MEANING_MIN`` and ``MEANING_MARGIN`` maximise recall subject to precision >= 0.90
on the calibration half.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TSV = ROOT.parent / "shared/datasets/tutorialbank/resources-v2023-clean.tsv"
SEED = 2026
TARGET_ACCURACY = 0.80
TARGET_PRECISION = 0.90
MINIMA = tuple(round(x, 3) for x in np.arange(0.20, 0.951, 0.025))
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2)


@dataclass
class Held:
    """Held-out items of one corpus: their evidence (rule-free) and their true topics."""

    name: str
    evidence: list
    truth: list[set[str]]


def split(n: int) -> tuple[list[int], list[int], list[int]]:
    """(report, calibration, labelled) indices of ``n`` items: 20%, 20%, the rest."""
    order = list(range(n))
    random.Random(SEED).shuffle(order)
    k = round(n * 0.2)
    return order[:k], order[k:2 * k], order[2 * k:]


def held_out(lib, name: str, texts: list[str], truth: list[set[str]]) -> Held:
    """The evidence ingest would weigh for these texts as untagged items."""
    from aidlgraph.build import infer
    from aidlgraph.build.ingest import described_topics, stored_neighbours

    vectors = lib.embedder.encode(texts)
    ids, matrix = lib.topic_vectors()
    return Held(name, infer.evidence(vectors, ids, matrix, stored_neighbours(lib, vectors), described_topics(lib)), truth)


def scores(held: Held, rule) -> dict[str, float]:
    """The printed figures of one corpus under ``rule``."""
    from aidlgraph.build import infer

    tags = [infer.choose(e, rule) for e in held.evidence]
    ranked = [e.ranked(rule) for e in held.evidence]
    tagged = [n for n, t in enumerate(tags) if t]
    written = [(tid, n) for n in tagged for tid, _, _ in tags[n]]
    n = len(tags)

    def share(hits) -> float:
        return sum(hits) / len(hits) if hits else float("nan")

    return {
        "items": n, "untagged": 1 - len(tagged) / n,
        "acc@1": share([tags[i][0][0] in held.truth[i] for i in tagged]),
        "acc@3": share([bool(set(ranked[i][:3]) & held.truth[i]) for i in tagged]),
        "tag precision": share([tid in held.truth[i] for tid, i in written]),
        "all acc@1": share([bool(r) and r[0] in t for r, t in zip(ranked, held.truth)]),
        "all acc@3": share([bool(set(r[:3]) & t) for r, t in zip(ranked, held.truth)]),
    }


NEVER = 9.0  # a minimum no score reaches: that kind of evidence is switched off


def calibrate_rule(helds: list[Held]):
    """Each kind of evidence on its own: the minimum and margin that tag the most (averaged over
    the corpora) with accuracy@1 >= TARGET_ACCURACY on every corpus. The rule uses both."""
    from aidlgraph.build.infer import Rule

    def best(make) -> tuple[float, float]:
        chosen, chosen_key = (NEVER, 0.0), None
        for minimum in MINIMA:
            for margin in MARGINS:
                figures = [scores(h, make(float(minimum), margin)) for h in helds]
                if any(f["untagged"] < 1 and f["acc@1"] < TARGET_ACCURACY for f in figures):
                    continue
                key = (np.mean([1 - f["untagged"] for f in figures]), minimum, margin)
                if chosen_key is None or key > chosen_key:
                    chosen, chosen_key = (float(minimum), margin), key
        return chosen

    text = best(lambda m, g: Rule(m, g, NEVER, 0.0))
    vote = best(lambda m, g: Rule(NEVER, 0.0, m, g))
    return Rule(*text, *vote)


def print_figures(title: str, held: Held, rule) -> None:
    f = scores(held, rule)
    print(f"  {title}: {f['items']} items; untagged {f['untagged']:.1%}; accuracy@1 {f['acc@1']:.3f}, "
          f"accuracy@3 {f['acc@3']:.3f} (tagged items); tag precision {f['tag precision']:.3f}; "
          f"no threshold: accuracy@1 {f['all acc@1']:.3f}, accuracy@3 {f['all acc@3']:.3f}")


# -- the corpora --------------------------------------------------------------------------------
def tutorialbank(tmp: Path, calibrate: bool):
    """(calibration Held, report Held or None) for TutorialBank."""
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.library import Library
    from aidlgraph.text import normalise_name

    with TSV.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        header, rows = reader.fieldnames, [r for r in reader if (r.get("title") or "").strip()]
    key = [(r.get("url") or "").strip() or r["title"].strip() for r in rows]
    topics_of: dict[str, set[str]] = {}
    for k, r in zip(key, rows):
        topics_of.setdefault(k, set()).add(normalise_name(r["topic_name"]))
    report, cal, labelled = split(len(rows))

    def write(name: str, indices: list[int]) -> Path:
        path = tmp / name
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, delimiter="\t")
            writer.writeheader()
            writer.writerows(rows[i] for i in indices)
        return path

    lib = Library.open(create(tmp / "tb-lib", empty=True))
    ingest(lib, [write("tutorialbank-labelled.tsv", labelled)], progress=sys.stderr.isatty())

    def held(indices: list[int], name: str) -> Held:
        names = lib.store.topic_names()
        truth = [{names[t] for t in topics_of[key[i]] if t in names} for i in indices]
        return held_out(lib, name, [rows[i]["title"].strip() for i in indices], truth)

    cal_held = held(cal, "TutorialBank")
    if calibrate:
        return cal_held, None
    ingest(lib, [write("tutorialbank-calibration.tsv", cal)])
    return cal_held, held(report, "TutorialBank")


def shipped(tmp: Path, calibrate: bool):
    """(calibration Held, report Held or None) for the shipped corpus's curated tags."""
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest_batches
    from aidlgraph.corpus import Batch, load_path
    from aidlgraph.library import Library

    topics = load_path(ROOT / "data" / "topics.yaml")
    batches = load_path(ROOT / "data" / "items")
    items = [(b.origin, item) for b in batches for item in b.items if item.topics]
    report, cal, labelled = split(len(items))

    def only(indices: list[int]) -> list[Batch]:
        keep = {id(items[i][1]) for i in indices}
        return [Batch(origin=b.origin, items=[i for i in b.items if id(i) in keep]) for b in batches]

    lib = Library.open(create(tmp / "shipped-lib", empty=True))
    ingest_batches(lib, topics + only(labelled))
    names = lib.store.topic_names()

    def held(indices: list[int]) -> Held:
        from aidlgraph.text import normalise_name

        truth = [{names.get(normalise_name(t), t) for t in items[i][1].topics} for i in indices]
        return held_out(lib, "shipped", [items[i][1].embed_text() for i in indices], truth)

    cal_held = held(cal)
    if calibrate:
        return cal_held, None
    ingest_batches(lib, only(cal))
    return cal_held, held(report)


# -- headings -----------------------------------------------------------------------------------
def heading_cases(lib, topics) -> tuple[list[tuple[np.ndarray, list[str], np.ndarray, str | None, str]], list[str]]:
    """For every topic: (query vector, topic ids, topic matrix, the expected topic or None, its id)
    for each alias held out of it (positives) and for its name with it held out (negative)."""
    from aidlgraph.corpus.model import topic_text
    from aidlgraph.text import normalise_name

    ids = [t.id for t in topics]
    base = lib.embedder.encode([topic_text(t) for t in topics])
    taken = {}
    for t in topics:
        for name in [t.name, *t.aliases]:
            taken.setdefault(normalise_name(name), set()).add(t.id)
    cases = []
    for n, t in enumerate(topics):
        aliases = [a for a in t.aliases if normalise_name(a) != normalise_name(t.name) and taken[normalise_name(a)] == {t.id}]
        if aliases:
            queries = lib.embedder.encode(aliases)
            without = lib.embedder.encode([topic_text(type(t)(name=t.name, id=t.id, description=t.description,
                                                              aliases=[x for x in t.aliases if x != a])) for a in aliases])
            for q, v in zip(queries, without):
                matrix = base.copy()
                matrix[n] = v
                cases.append((q, ids, matrix, t.id, t.id))
        keep = [j for j in range(len(ids)) if j != n]
        cases.append((lib.embedder.encode([t.name])[0], [ids[j] for j in keep], base[keep], None, t.id))
    return cases


def heading_figures(cases, minimum: float, margin: float) -> tuple[float, float, int, int]:
    from aidlgraph.build.headings import match_by_meaning

    right = matches = positives = 0
    for q, ids, matrix, expected, _ in cases:
        hit = match_by_meaning(q[None, :], ids, matrix, minimum, margin)[0]
        positives += expected is not None
        if hit:
            matches += 1
            right += hit[0] == expected
    return (right / matches if matches else float("nan")), right / max(positives, 1), matches, positives


def headings(tmp: Path, calibrate: bool) -> None:
    from aidlgraph.build import headings as module
    from aidlgraph.build.bootstrap import create
    from aidlgraph.corpus import load_path
    from aidlgraph.library import Library

    topics = [t for b in load_path(ROOT / "data" / "topics.yaml") for t in b.topics]
    lib = Library.open(create(tmp / "headings-lib", empty=True))
    cases = heading_cases(lib, topics)
    order = sorted({c[4] for c in cases})
    random.Random(SEED).shuffle(order)
    cal_topics = set(order[:len(order) // 2])
    cal = [c for c in cases if c[4] in cal_topics]
    report = [c for c in cases if c[4] not in cal_topics]
    print("headings (shipped topics, halves by topic):")
    if calibrate:
        best = None
        for minimum in np.arange(0.30, 0.901, 0.01):
            for margin in (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1):
                precision, recall, _, _ = heading_figures(cal, minimum, margin)
                if precision >= TARGET_PRECISION and (best is None or (recall, minimum) > best[:2]):
                    best = (recall, round(float(minimum), 2), margin, precision)
        print(f"  calibrated: MEANING_MIN={best[1]}, MEANING_MARGIN={best[2]} "
              f"(calibration half: precision {best[3]:.3f}, recall {best[0]:.3f})")
        return
    precision, recall, matches, positives = heading_figures(report, module.MEANING_MIN, module.MEANING_MARGIN)
    negatives = len(report) - positives
    print(f"  MEANING_MIN={module.MEANING_MIN}, MEANING_MARGIN={module.MEANING_MARGIN}; report half: "
          f"{positives} held-out aliases, {negatives} held-out topics; {matches} matches; "
          f"precision {precision:.3f}, recall {recall:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate", action="store_true", help="choose the rules on the calibration splits")
    ap.add_argument("--part", choices=("all", "tagging", "tutorialbank", "shipped", "headings"), default="all")
    opts = ap.parse_args()
    from aidlgraph.build import infer

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        helds = []
        if opts.part in ("all", "tagging", "tutorialbank"):
            if TSV.exists():
                helds.append(tutorialbank(tmp, opts.calibrate))
            else:
                print(f"skipped TutorialBank: {TSV} is not here")
        if opts.part in ("all", "tagging", "shipped"):
            helds.append(shipped(tmp, opts.calibrate))
        if helds:
            print("tagging (build.infer):")
            if opts.calibrate:
                rule = calibrate_rule([c for c, _ in helds])
                print(f"  calibrated: {rule}")
                for c, _ in helds:
                    print_figures(f"{c.name}, calibration split", c, rule)
            else:
                print(f"  {infer.RULE}")
                for c, r in helds:
                    print_figures(f"{r.name}, report split", r, infer.RULE)
        if opts.part in ("all", "headings"):
            headings(tmp, opts.calibrate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
