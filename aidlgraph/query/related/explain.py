"""Why a result was found, in words a curator reads: the part of the draft it answers, the topics
that boosted it, the rare words it shares (as BM25 matched them: whole words, stemmed, no stop
words), its meaning similarity, and where and when it appeared; whether a part is already covered
by a past item; near-duplicates among the results. Computed only for what is shown (txtai's
``explain`` is likewise separate from ranking)."""
from __future__ import annotations

from .fuse import specificity

DUPLICATE_MIN = 0.95
SHOWN_TERMS = 8
SHOWN_SPECIFICITY = 0.30   # a word half the library contains explains nothing
# A part is already covered by its closest item when they are near-verbatim (cosine at least
# COVERED_VERBATIM), or the same story reworded: cosine at least COVERED_REWORDED and the item
# holds at least COVERED_WORDS of the part's words (weighted by specificity; words the library
# has never seen weigh most, so a new name keeps a related new story from being flagged).
# Calibrated on the `calibrate` half of `covered` in data/curator_cases.yaml (bench/curator.py).
COVERED_VERBATIM = 0.85
COVERED_REWORDED = 0.65
COVERED_WORDS = 0.25
COVERED_MIN_TERMS = 6     # a search of a few words is a question, not a story that could repeat one


def shown_terms(matched: list[str], frequency: dict[str, int], total: int, limit: int = SHOWN_TERMS) -> list[str]:
    """The matched words worth showing: specific enough to explain something, the most specific
    ``limit`` of them, in the order the draft has them."""
    ranked = sorted((t for t in matched if specificity(frequency.get(t, 0), total) >= SHOWN_SPECIFICITY),
                    key=lambda t: -specificity(frequency.get(t, 0), total))[:limit]
    keep = set(ranked)
    return [t for t in matched if t in keep]


def issue_dates(lib) -> dict[str, str]:
    """source -> the date of that source's issue item (an issue's items carry their own dates,
    e.g. a 2016 paper in a 2017 issue; a curator cites the issue's)."""
    def compute() -> dict[str, str]:
        return {r["source"]: r["date"] for r in lib.store.items(kind="issue") if r.get("source") and r.get("date")}

    return lib.derived("related.issue_dates", compute)


def appeared_in(row: dict, dates: dict[str, str] | None = None) -> str:
    """Where and when an item appeared, as a curator cites it: "AIDL Weekly Issue 3, 2017" (the
    issue's date when the library has the issue, else the item's own).

    >>> appeared_in({"source": "AIDL Weekly Issue 3", "date": "2016"}, {"AIDL Weekly Issue 3": "2017"})
    'AIDL Weekly Issue 3, 2017'
    >>> appeared_in({"source": "Resources on ResNet", "date": ""})
    'Resources on ResNet'
    """
    source = (row.get("source") or "").strip()
    date = ((dates or {}).get(source) or row.get("date") or "").strip()
    return ", ".join(x for x in (source, date) if x)


def reasons(hit, shared: list[str], near: list[str], matched: list[str], names: dict[str, str],
            part: int | None) -> str:
    """One line: which part it answers (in a draft of several), the topics that boosted it,
    the words it shares, its meaning similarity."""
    why = [f"answers part {part}"] if part else []
    if shared:
        why.append("shares topics: " + ", ".join(names.get(t, t) for t in shared))
    elif near:
        why.append("near topics: " + ", ".join(names.get(t, t) for t in near[:3]))
    if matched:
        why.append("matched terms: " + ", ".join(matched))
    why.append(f"meaning similarity {hit.cosine:.2f}")
    return "; ".join(why)


def covered(row: dict, hit, part_terms: list[str], frequency: dict[str, int], total: int,
            dates: dict[str, str] | None = None) -> dict | None:
    """The past item a part repeats (near-verbatim, or the same story reworded), or None."""
    if len(part_terms) < COVERED_MIN_TERMS:
        return None

    def weight(term: str) -> float:
        return specificity(frequency[term], total) if frequency.get(term) else 1.0

    whole = sum(weight(t) for t in part_terms)
    share = sum(weight(t) for t in hit.matched) / whole if whole else 0.0
    if hit.cosine >= COVERED_VERBATIM:
        how = "near-verbatim"
    elif hit.cosine >= COVERED_REWORDED and share >= COVERED_WORDS:
        how = "reworded"
    else:
        return None
    return {"id": row["id"], "title": row["title"], "source": row.get("source") or "", "date": row.get("date") or "",
            "appeared_in": appeared_in(row, dates), "similarity": round(hit.cosine, 4), "shared_words": round(share, 2),
            "how": how}


def flag_duplicates(store, results: list[dict], threshold: float = DUPLICATE_MIN) -> None:
    """Mark results that are near-duplicates of a higher-ranked one (flagged, never hidden)."""
    ids = [r["id"] for r in results]
    if len(ids) < 2:
        return
    rank = {i: n for n, i in enumerate(ids)}
    for a, b in store.similar_pairs(ids, threshold):
        later, earlier = (a, b) if rank[a] > rank[b] else (b, a)
        results[rank[later]]["duplicate_of"] = earlier
