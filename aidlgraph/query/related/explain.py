"""Why a result was found, in words a curator reads: shared topics, matched terms, meaning
similarity, which passages of the draft found it; and near-duplicates among the results.
Computed only for the results shown (txtai's ``explain`` is likewise separate from ranking)."""
from __future__ import annotations

import re

from ...text import terms

DUPLICATE_MIN = 0.95


def matched_terms(passage_text: str, row: dict, limit: int = 8) -> list[str]:
    """Content words of the passages that start a word of the item's title or text."""
    haystack = f"{row['title']} {row.get('text') or ''}".lower()
    return [t for t in terms(passage_text) if re.search(rf"\b{re.escape(t)}", haystack)][:limit]


def reasons(hit, shared: list[str], near: list[str], matched: list[str], names: dict[str, str],
            passages: int) -> str:
    why = []
    if shared:
        why.append("shares topics: " + ", ".join(names.get(t, t) for t in shared))
    elif near:
        why.append("near topics: " + ", ".join(names.get(t, t) for t in near[:3]))
    if matched:
        why.append("matched terms: " + ", ".join(matched))
    if hit.dense_rank is not None:
        why.append(f"meaning similarity {hit.cosine:.2f}")
    if passages > 1:
        why.append("passage " + ", ".join(str(p + 1) for p in sorted(hit.passages)))
    return "; ".join(why)


def flag_duplicates(store, results: list[dict], threshold: float = DUPLICATE_MIN) -> None:
    """Mark results that are near-duplicates of a higher-ranked one (flagged, never hidden)."""
    ids = [r["id"] for r in results]
    if len(ids) < 2:
        return
    rank = {i: n for n, i in enumerate(ids)}
    for a, b in store.similar_pairs(ids, threshold):
        later, earlier = (a, b) if rank[a] > rank[b] else (b, a)
        results[rank[later]]["duplicate_of"] = earlier
