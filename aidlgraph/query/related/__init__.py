"""Related items for a text or a draft: FAISS cosine + FTS5 BM25 fused by reciprocal rank,
boosted by graph proximity, each result with the reasons it matched.

A draft is many questions: it is cut into its parts (paragraphs; one story each in a curator's
draft), each part is searched on its own, and the parts' results are interleaved (every part's
best match first, then every part's second...), so each story of a five-story draft finds its own
past items, and each result says which part of the draft it answers.

An item is offered only when it is close to its part (``fuse.relevance`` at least the floor), so
a part about something the archive lacks gets nothing, and a text about nothing at all gets
``results: []`` and a ``note``. A part whose best match is near-verbatim is flagged as already
covered (``explain.covered``).

The stages are modules of their own, as in txtai's ``search``: ``retrieve`` (parts and their
candidates), ``fuse`` (rank fusion, relevance and the topic vote), ``explain`` (reasons,
already-covered, near-duplicates), ``dupes`` (duplicate pairs across the library).
"""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field

from ...errors import InputError
from ...library import Library
from ...text import terms
from . import explain, fuse, retrieve
from .dupes import DUPLICATE_MIN, duplicates
from .retrieve import CANDIDATES, MAX_PARTS, Hit, Part, split_parts, split_passages

MAX_TEXT = 200_000
NOTHING_CLOSE = "nothing close in the archive"


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


@dataclass
class Found:
    """One result of one part, ranked."""

    score: float
    row: dict
    hit: Hit
    shared: list[str]   # the part's voted topics the item has (they boosted it)
    near: list[str]     # prerequisite neighbours of a voted topic the item has


@dataclass
class PartResult:
    """What one part of the draft found: its results best first, what it is about, whether the
    archive already covers it, and its nearest item when nothing passed the floor."""

    part: Part
    found: list[Found]
    topics: dict[str, float]
    covered: dict | None = None
    nearest: tuple[dict, Hit] | None = None


@dataclass
class Search:
    """One call of ``related``: the library and the options every part is searched with."""

    lib: Library
    k: int
    filters: Filters
    mode: str
    floor: float
    min_score: float | None
    want: int = CANDIDATES                                   # candidates per list and passage
    total: int = 0                                           # items in the library
    dates: dict[str, str] = field(default_factory=dict)      # source -> its issue's date


def related(lib: Library, text: str, k: int = 10, kinds: list[str] | None = None, before: str | None = None,
            since: str | None = None, exclude_sources: list[str] = (), min_score: float | None = None,
            mode: str = "hybrid", floor: float | None = None) -> dict:
    """Items related to ``text``; see the module docstring. ``mode`` is hybrid, dense or bm25;
    ``floor`` is the relevance a part's best match needs for the part to get any result
    (default ``fuse.RELEVANCE_FLOOR``; 0 offers every candidate)."""
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
    search = Search(lib, k, filters, mode, fuse.RELEVANCE_FLOOR if floor is None else floor, min_score,
                    want=max(CANDIDATES, k * (8 if filters else 3)), total=lib.store.item_total(),
                    dates=explain.issue_dates(lib))
    parts = split_parts(text)
    skipped, parts = parts[MAX_PARTS:], parts[:MAX_PARTS]
    searched = [_search_part(search, part) for part in parts]
    names = {t: lib.graph.nodes[t]["name"] for t in lib.graph}
    results = _interleave(searched, search, names)
    explain.flag_duplicates(lib.store, results)
    topics: dict[str, float] = {}
    for s in searched:
        for t, w in s.topics.items():
            topics[t] = max(topics.get(t, 0.0), w)
    out = {"query": text, "passages": sum(len(p.passages) for p in parts),
           "topics": [names.get(t, t) for t, _ in sorted(topics.items(), key=lambda x: -x[1])],
           "results": results, "parts": [_part_json(n, s, names) for n, s in enumerate(searched, 1)]}
    if skipped:
        out["skipped_parts"] = len(skipped)  # the draft's parts after the first MAX_PARTS, not searched
    if not results:
        out["note"] = _nothing_note(searched, search)
    return out


def _search_part(search: Search, part: Part) -> PartResult:
    """Search one part: candidates of its passages, how relevant each is, the gate (is anything
    close?), the topic vote when the best match is confidently close, the ranking, and whether
    the closest match already covers the part."""
    lib = search.lib
    hits, nearest_topics = _candidates(search, part)
    part_terms = terms(part.text)[:64]
    frequency, matched = lib.store.term_matches(part_terms, list(hits))
    for num, hit in hits.items():
        hit.matched = matched.get(num, [])
        hit.relevance = fuse.relevance(hit.cosine, fuse.lexical(hit.matched, frequency, search.total))
        hit.shown = explain.shown_terms(hit.matched, frequency, search.total)
    lowest = search.floor - fuse.RESULT_GAP if search.floor > 0 else float("-inf")  # floor 0: every candidate
    close = [n for n, h in hits.items() if h.relevance >= lowest]
    rows = lib.store.items_by_num(close)
    kept = {n: rows[n] for n in close if n in rows and search.filters.keep(rows[n])}
    best = max((hits[n].relevance for n in kept), default=float("-inf"))
    if not kept or best < search.floor:
        return PartResult(part, [], {}, nearest=_nearest(search, hits))
    query_topics: dict[str, float] = {}
    if search.mode == "hybrid" and best >= fuse.VOTE_CONFIDENCE:
        query_topics = fuse.topic_votes({n: hits[n].fused for n in kept}, {n: hits[n].cosine for n in kept},
                                        kept, nearest_topics)
    found = _rank(search, hits, kept, query_topics)
    if not found:
        return PartResult(part, [], query_topics, nearest=_nearest(search, hits))
    closest = max(found, key=lambda f: f.hit.cosine)
    covered = explain.covered(closest.row, closest.hit, part_terms, frequency, search.total, search.dates)
    return PartResult(part, found[:search.k], query_topics, covered)


def _rank(search: Search, hits: dict[int, Hit], kept: dict[int, dict], query_topics: dict[str, float]) -> list[Found]:
    """The kept candidates by fused score, boosted by the voted topics (and their prerequisite
    neighbours), best first; --min-score applied."""
    g = search.lib.graph
    neighbours = {n for t in query_topics if t in g for n in (*g.predecessors(t), *g.successors(t))}
    top = fuse.top_score(search.mode)
    found = []
    for num, row in kept.items():
        boost, shared, near = fuse.boost(row["topics"], query_topics, neighbours)
        score = hits[num].fused / top * (1.0 + boost)
        if search.min_score is None or score >= search.min_score:
            found.append(Found(score, row, hits[num], shared if boost else [], near if boost else []))
    found.sort(key=lambda f: (-f.score, f.row["id"]))
    return found


def _nearest(search: Search, hits: dict[int, Hit]) -> tuple[dict, Hit] | None:
    """The most relevant candidate the filters keep (row, hit), for saying how far off it is."""
    best = sorted(hits.values(), key=lambda h: -h.relevance)[:10]
    rows = search.lib.store.items_by_num([h.num for h in best])
    return next(((rows[h.num], h) for h in best if h.num in rows and search.filters.keep(rows[h.num])), None)


def _candidates(search: Search, part: Part) -> tuple[dict[int, Hit], list[tuple[str, float]]]:
    """The candidates of every passage of a part (by num), and the topics nearest its passages."""
    from ..resolve import nearest_topics

    lib, mode, want = search.lib, search.mode, search.want
    hits: dict[int, Hit] = {}
    topics: dict[str, float] = {}
    for n, passage in enumerate(part.passages):
        vector = lib.embed_query(passage)  # bm25 mode too: relevance is measured in meaning as well
        dense = retrieve.dense(lib, vector, want) if mode in ("hybrid", "dense") else []
        lexical = retrieve.lexical(lib, passage, want) if mode in ("hybrid", "bm25") else []
        ranked = fuse.rrf(dense, lexical, mode)
        cosine = dict(dense)
        cosine.update(retrieve.cosines(lib, [num for num in ranked if num not in cosine], vector))
        for rank, (num, _) in enumerate(dense):
            hit = hits.setdefault(num, Hit(num))
            hit.dense_rank = rank if hit.dense_rank is None else min(hit.dense_rank, rank)
        for rank, (num, _) in enumerate(lexical):
            hit = hits.setdefault(num, Hit(num))
            hit.bm25_rank = rank if hit.bm25_rank is None else min(hit.bm25_rank, rank)
        for num, score in ranked.items():
            hit = hits[num]
            hit.passages.add(n)
            hit.fused = max(hit.fused, score)
            hit.cosine = max(hit.cosine, cosine.get(num, 0.0))
        if mode == "hybrid":
            for tid, score in nearest_topics(lib, "", 3, vector=vector):
                topics[tid] = max(topics.get(tid, -1.0), score)
    return hits, sorted(topics.items(), key=lambda t: -t[1])


def _interleave(searched: list[PartResult], search: Search, names: dict[str, str]) -> list[dict]:
    """The parts' results as one list: every part's first result, then every part's second, ...
    (by score within a round); an item found by several parts is listed once, under the part
    where it ranks best, and names all of them."""
    entries = sorted(((rank, -f.score, p, f) for p, s in enumerate(searched) for rank, f in enumerate(s.found)),
                     key=lambda e: (e[0], e[1], e[2]))
    parts_of: dict[int, list[int]] = {}
    for _, _, p, f in entries:
        parts_of.setdefault(f.hit.num, []).append(p + 1)
    covered = {s.covered["id"] for s in searched if s.covered}
    results, seen = [], set()
    for _, _, p, f in entries:
        if f.hit.num in seen:
            continue
        seen.add(f.hit.num)
        results.append(_result(f, p + 1, sorted(parts_of[f.hit.num]), len(searched), f.row["id"] in covered,
                               names, search.dates))
        if len(results) == search.k:
            break
    return results


def _result(f: Found, part: int, parts: list[int], n_parts: int, covered: bool, names: dict[str, str],
            dates: dict[str, str]) -> dict:
    row, hit = f.row, f.hit
    shown = hit.shown
    return {
        "id": row["id"], "title": row["title"], "url": row.get("url") or "", "kind": row["kind"],
        "source": row.get("source") or "", "date": row.get("date") or "", "appeared_in": explain.appeared_in(row, dates),
        "score": round(f.score, 4), "relevance": round(hit.relevance, 4),
        "why": explain.reasons(hit, f.shared, f.near, shown, names, part if n_parts > 1 else None),
        "topics": [names.get(t, t) for t in row["topics"]], "matched_terms": shown, "cosine": round(hit.cosine, 4),
        "part": part, "parts": parts, "covered": covered,
    }


def _part_json(n: int, s: PartResult, names: dict[str, str]) -> dict:
    out = {"part": n, "excerpt": s.part.excerpt,
           "results": [{"id": f.row["id"], "title": f.row["title"], "score": round(f.score, 4),
                        "relevance": round(f.hit.relevance, 4)} for f in s.found],
           "topics": [names.get(t, t) for t, _ in sorted(s.topics.items(), key=lambda x: -x[1])]}
    if s.covered:
        out["covered"] = s.covered
    if not s.found:
        out["note"] = NOTHING_CLOSE
    return out


def _nothing_note(searched: list[PartResult], search: Search) -> str:
    """Why there are no results, in one line: nothing close, or nothing close that the filters keep."""
    nearest = [s.nearest for s in searched if s.nearest]
    if not nearest:
        return NOTHING_CLOSE + (" that the filters keep" if search.filters else "")
    row, hit = max(nearest, key=lambda rh: rh[1].relevance)
    if hit.relevance >= search.floor:  # close enough, but --min-score left it out
        return f"{NOTHING_CLOSE} above the minimum score"
    return (f"{NOTHING_CLOSE}: the nearest item, \"{row['title']}\", has relevance {hit.relevance:.2f}, "
            f"under the floor of {search.floor:.2f}")


__all__ = ["related", "duplicates", "DUPLICATE_MIN", "split_parts", "split_passages", "Filters", "NOTHING_CLOSE"]
