"""Related items for a text or a draft: FAISS cosine + FTS5 BM25 fused by reciprocal rank,
boosted by graph proximity, each result with the reasons it matched.

The stages are modules of their own, as in txtai's ``search``: ``retrieve`` (candidates per
passage), ``fuse`` (rank fusion and the topic vote), ``explain`` (reasons, near-duplicates),
``dupes`` (near-duplicate pairs across the library). A long draft is split into passages; each
passage is searched on its own and the results are merged, so a draft about five news items finds
past items for each of them.
"""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

from ...errors import InputError
from ...library import Library
from . import explain, fuse, retrieve
from .dupes import duplicates
from .retrieve import CANDIDATES, PASSAGE_WORDS, Hit, split_passages

MAX_TEXT = 200_000


@dataclass
class Filters:
    """Which items may be results: of these kinds, dated before/since, not from these sources."""

    kinds: list[str] = field(default_factory=list)
    before: str | None = None
    since: str | None = None
    exclude_sources: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.kinds or self.before or self.since or self.exclude_sources)

    def keep(self, row: dict) -> bool:
        if self.kinds and row["kind"] not in self.kinds:
            return False
        source = (row.get("source") or "").lower()
        if any(s.lower() in source for s in self.exclude_sources):
            return False
        date = row.get("date") or ""
        if self.before and not (date and date < self.before):
            return False
        if self.since and not (date and date[:len(self.since)] >= self.since):
            return False
        return True


DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def check_date(value: str | None, name: str) -> str | None:
    """A date filter as given (YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date), else an
    InputError naming the parameter: a date that is not one would silently filter everything.

    >>> check_date("2017-05", "since"), check_date(None, "before")
    ('2017-05', None)
    """
    if value is None:
        return None
    text = value.strip()
    match = DATE.fullmatch(text)
    try:
        if not match:
            raise ValueError
        year, month, day = (int(g) if g else 1 for g in match.groups())
        datetime.date(year, month, day)
    except ValueError:
        raise InputError(f"{name}: {value[:40]!r} is not a date; give YYYY, YYYY-MM or YYYY-MM-DD") from None
    return text


def related(lib: Library, text: str, k: int = 10, kinds: list[str] | None = None, before: str | None = None,
            since: str | None = None, exclude_sources: list[str] = (), min_score: float | None = None,
            mode: str = "hybrid") -> dict:
    """Items related to ``text``; see the module docstring. ``mode`` is hybrid, dense or bm25."""
    text = (text or "").strip()
    if not text:
        raise InputError("nothing to search for: the text is empty; give a sentence, a file or standard input")
    if len(text) > MAX_TEXT:
        raise InputError(f"the text is {len(text)} characters; keep drafts under {MAX_TEXT}")
    if k < 1:
        raise InputError("-k must be at least 1")
    if min_score is not None and not math.isfinite(min_score):
        raise InputError(f"min_score: {min_score} is not a usable score; give a number such as 0.5")
    filters = Filters(list(kinds or []), check_date(before, "before"), check_date(since, "since"), list(exclude_sources))
    passages = split_passages(text) if len(text.split()) > PASSAGE_WORDS else [text]
    hits, rows, query_topics = _search(lib, passages, max(CANDIDATES, k * (8 if filters else 3)), filters, mode)
    if not hits:
        return {"query": text, "passages": len(passages), "topics": [], "results": []}
    rows.update(lib.store.items_by_num([n for n in hits if n not in rows]))  # voters' rows are fetched already
    g = lib.graph
    names = {t: g.nodes[t]["name"] for t in g}
    neighbours = {n for t in query_topics if t in g for n in (*g.predecessors(t), *g.successors(t))}
    top = fuse.top_score(mode)
    scored = []
    for num, hit in hits.items():
        row = rows.get(num)
        if row is None or not filters.keep(row):
            continue
        boost, shared, near = fuse.boost(row["topics"], query_topics, neighbours)
        score = hit.fused / top * (1.0 + boost)
        if min_score is None or score >= min_score:
            scored.append((score, row["id"], row, hit, shared, near))
    scored.sort(key=lambda s: (-s[0], s[1]))
    results = [_result(score, row, hit, shared, near, passages, names) for score, _, row, hit, shared, near in scored[:k]]
    explain.flag_duplicates(lib.store, results)
    return {"query": text, "passages": len(passages),
            "topics": [names.get(t, t) for t, _ in sorted(query_topics.items(), key=lambda x: -x[1])],
            "results": results}


def _search(lib: Library, passages: list[str], want: int, filters: Filters, mode: str):
    """Candidates of every passage: (hits by num, item rows fetched for the vote, query topics)."""
    from ..resolve import nearest_topics

    hits: dict[int, Hit] = {}
    rows: dict[int, dict] = {}  # item rows by num, fetched once per query
    query_topics: dict[str, float] = {}
    for n, passage in enumerate(passages):
        dense_nums, vector = [], None
        if mode in ("hybrid", "dense"):
            vector = lib.embed_query(passage)
            for rank, (num, cosine) in enumerate(retrieve.dense(lib, vector, want)):
                hit = hits.setdefault(num, Hit(num))
                hit.cosine = max(hit.cosine, cosine)
                hit.dense_rank = rank if hit.dense_rank is None else min(hit.dense_rank, rank)
                dense_nums.append(num)
        bm25_nums = retrieve.lexical(lib, passage, want) if mode in ("hybrid", "bm25") else []
        for rank, num in enumerate(bm25_nums):
            hit = hits.setdefault(num, Hit(num))
            hit.bm25_rank = rank if hit.bm25_rank is None else min(hit.bm25_rank, rank)
        ranked = fuse.rrf(dense_nums, bm25_nums, mode)
        for num, score in ranked.items():
            hits[num].passages.add(n)
            hits[num].fused = max(hits[num].fused, score)
        if mode == "hybrid":
            voters = sorted(ranked, key=lambda num: -ranked[num])[:fuse.VOTERS * 3]
            rows.update(lib.store.items_by_num([num for num in voters if num not in rows]))
            kept = {num: rows[num] for num in voters if num in rows and filters.keep(rows[num])}  # filtered items don't vote
            cosines = {num: hits[num].cosine for num in ranked}
            nearest = nearest_topics(lib, "", 3, vector=vector)
            for tid, weight in fuse.topic_votes(ranked, cosines, kept, nearest).items():
                query_topics[tid] = max(query_topics.get(tid, 0.0), weight)
    return hits, rows, query_topics


def _result(score: float, row: dict, hit: Hit, shared: list[str], near: list[str], passages: list[str],
            names: dict[str, str]) -> dict:
    matched = explain.matched_terms(" ".join(passages[p] for p in sorted(hit.passages)), row)
    return {
        "id": row["id"], "title": row["title"], "url": row.get("url") or "", "kind": row["kind"],
        "source": row.get("source") or "", "date": row.get("date") or "", "score": round(score, 4),
        "why": explain.reasons(hit, shared, near, matched, names, len(passages)),
        "topics": [names.get(t, t) for t in row["topics"]], "matched_terms": matched, "cosine": round(hit.cosine, 4),
    }


__all__ = ["related", "duplicates", "split_passages", "Filters"]
