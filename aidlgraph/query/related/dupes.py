"""Pairs of items that say the same thing, across the library, each with what relates them:

- ``duplicate``: the same resource or story twice (a re-post under another source, copied or
  reworded; or one link listed twice);
- ``same issue``: two pieces of one issue or post that overlap (the editorial and the news item
  on the same story): worth a look, but not duplicates;
- ``series``: parts of one series (Part 1 and Part 2, lecture 8 and lecture 13): close in
  meaning by design, never duplicates (listed only when asked for);
- ``different links``: close in meaning but linking to different pages (same-titled slides of
  two courses; listed only when asked for).

Flagged, never merged. The thresholds are calibrated on the ``calibrate`` half of the labelled
``pairs`` in data/curator_cases.yaml (bench/dupes.py prints precision and recall).
"""
from __future__ import annotations

import difflib
import re

from ...text import same_resource, terms
from .explain import appeared_in, issue_dates
from .fuse import specificity

DUPLICATE_MIN = 0.80   # cosine of two items from different sources to be candidates for duplicates
DUPLICATE_WORDS = 0.55  # ... and the share of the shorter item's words (by specificity) the other has
OVERLAP_MIN = 0.55     # cosine of two pieces of one issue that overlap ...
OVERLAP_WORDS = 0.25   # ... and share that much of their words (pieces of one event on different stories do not)
NEIGHBOURS = 10
WRITING = {"news", "post", "issue"}  # what an issue is written of; a reading list's entries do not "overlap"
_PART = re.compile(r"^(.*?)\b(?:part|lecture|chapter|episode|lesson|article|session|unit|week|no\.?|#)\s*(\d+)\b",
                   re.IGNORECASE)


def duplicates(lib, threshold: float = DUPLICATE_MIN, limit: int = 1000, include_other_links: bool = False,
               include_series: bool = False) -> list[dict]:
    """Related pairs across the library (see the module docstring), duplicates first, then
    overlaps within one issue, each group closest first. ``threshold`` is the duplicates'
    cosine; ``include_other_links`` and ``include_series`` add those kinds of pairs."""
    nums, vectors = lib.vectors()
    if len(nums) < 2:
        return []
    scores, hits = lib.index.search(vectors, NEIGHBOURS + 1)
    lowest = min(threshold, OVERLAP_MIN)
    pairs: dict[tuple[int, int], float] = {}
    for num, row_s, row_h in zip(nums, scores, hits):
        for s, h in zip(row_s, row_h):
            if h >= 0 and h != num and s >= lowest:
                key = (min(int(num), int(h)), max(int(num), int(h)))
                pairs[key] = max(pairs.get(key, 0.0), float(s))
    rows = lib.store.items_by_num(sorted({n for pair in pairs for n in pair}))
    words = {n: terms(f"{r['title']} {r.get('text') or ''}") for n, r in rows.items()}
    frequency, _ = lib.store.term_matches(sorted({t for ws in words.values() for t in ws}), [])
    total = lib.store.item_total()
    dates = issue_dates(lib)
    out = []
    for (a, b), cosine in pairs.items():
        ra, rb = rows[a], rows[b]
        shared = shared_words(words[a], words[b], frequency, total)
        relation = classify(ra, rb, cosine, shared, threshold)
        if relation is None or (relation == "series" and not include_series) \
                or (relation == "different links" and not include_other_links):
            continue
        out.append({"score": round(cosine, 4), "relation": relation, "shared_words": round(shared, 2),
                    "a": _side(ra, dates), "b": _side(rb, dates)})
    order = {"duplicate": 0, "same issue": 1, "series": 2, "different links": 3}
    out.sort(key=lambda p: (order[p["relation"]], -p["score"], p["a"]["id"], p["b"]["id"]))
    return out[:limit]


def classify(a: dict, b: dict, cosine: float, shared: float, threshold: float = DUPLICATE_MIN) -> str | None:
    """What relates two close items (rows), or None when they are merely similar."""
    if same_series(a, b):
        return "series"
    if a.get("url") and b.get("url") and same_resource(a["url"], b["url"]):
        return "duplicate"  # one link listed twice
    if (a.get("source") or "") == (b.get("source") or ""):
        if {a["kind"], b["kind"]} & WRITING and cosine >= OVERLAP_MIN and shared >= OVERLAP_WORDS:
            return "same issue"
        return None
    if cosine >= threshold and shared >= DUPLICATE_WORDS:
        return "duplicate" if same_resource(a.get("url"), b.get("url")) else "different links"
    return None


def same_series(a: dict, b: dict) -> bool:
    """Parts of one series: the same ``series`` field, or titles that differ only in their part,
    lecture or chapter number.

    >>> same_series({"title": "Finite Difference Methods in CUDA C/C++, Part 1"},
    ...             {"title": "Finite Difference Methods in CUDA C++, Part 2"})
    True
    >>> same_series({"title": "Wide Residual Networks"}, {"title": "Wide Residual Networks (paper)"})
    False
    """
    if a.get("series") and a.get("series") == b.get("series"):
        return True
    ma, mb = _PART.match(a["title"]), _PART.match(b["title"])
    if not (ma and mb) or ma.group(2) == mb.group(2):
        return False
    return difflib.SequenceMatcher(None, ma.group(1).lower(), mb.group(1).lower()).ratio() >= 0.85


def shared_words(a: list[str], b: list[str], frequency: dict[str, int], total: int) -> float:
    """The share of the shorter item's words (weighted by specificity) that the other item has
    too: a re-post keeps most of its original's names and rare words, a different work on the
    same subject does not."""
    def weight(term: str) -> float:
        return specificity(frequency.get(term, 0), total) if frequency.get(term) else 1.0

    sa, sb = set(a), set(b)
    smaller = min(sum(weight(t) for t in sa), sum(weight(t) for t in sb))
    return sum(weight(t) for t in sa & sb) / smaller if smaller else 0.0


def _side(row: dict, dates: dict[str, str]) -> dict:
    return {"id": row["id"], "title": row["title"], "source": row.get("source") or "", "url": row.get("url") or "",
            "kind": row["kind"], "date": row.get("date") or "", "appeared_in": appeared_in(row, dates)}
