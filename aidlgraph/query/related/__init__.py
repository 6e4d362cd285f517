"""Related items for a text or a draft: FAISS cosine + FTS5 BM25 fused by reciprocal rank,
boosted by graph proximity, each result with the reasons it matched.

A long draft is split into passages; each passage is searched on its own and the results are
merged, so a draft about five news items finds past items for each of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .library import Library

RRF_K = 60
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.5
CANDIDATES = 50
PASSAGE_WORDS = 120
MAX_PASSAGES = 24
MAX_TEXT = 200_000
TOPIC_MIN = 0.40
VOTERS = 20
VOTE_COSINE = 0.8  # only matches nearly as close as the best one vote
VOTE_MIN = 0.10
SHARED_TOPIC_BOOST = 2.0
NEIGHBOUR_TOPIC_BOOST = 0.10
STOPWORDS = set("""a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
she's should shouldn't so some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're we've
were weren't what what's when when's where where's which while who who's whom why why's with won't would wouldn't
you you'd you'll you're you've your yours yourself yourselves also new get got one two use used using will just
like make makes made way ways much many may might us via vs per its it's""".split())


@dataclass
class Hit:
    num: int
    fused: float = 0.0
    cosine: float = 0.0
    bm25_rank: int | None = None
    dense_rank: int | None = None
    passages: set[int] = field(default_factory=set)


def split_passages(text: str) -> list[str]:
    """Passages of a draft: by headings and blank lines, packed up to ~PASSAGE_WORDS words."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n|\n(?=#{1,6} )|\n(?=\s*(?:[-*+]|\d+[.)])\s)", text) if b.strip()]
    passages: list[str] = []
    current: list[str] = []
    for block in blocks:
        words = len(block.split())
        if current and (sum(len(c.split()) for c in current) + words > PASSAGE_WORDS or block.startswith("#")):
            passages.append("\n".join(current))
            current = []
        current.append(block)
    if current:
        passages.append("\n".join(current))
    passages = [p for p in passages if len(re.findall(r"\w+", p)) >= 3] or [text.strip()]
    return passages[:MAX_PASSAGES]


def terms(text: str) -> list[str]:
    """Content words of ``text`` (lowercase, no stopwords, at least two letters)."""
    words = re.findall(r"[a-z0-9][a-z0-9+#.\-]*[a-z0-9+#]|[a-z0-9]", text.lower())
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and len(w) > 1 and not w.isdigit()))


def fts_query(text: str) -> str:
    return " OR ".join(f'"{t}"' for t in terms(text)[:64])


def related(lib: Library, text: str, k: int = 10, kinds: list[str] | None = None, before: str | None = None,
            since: str | None = None, exclude_sources: list[str] = (), min_score: float | None = None,
            exclude_ids: set[str] = frozenset(), mode: str = "hybrid") -> dict:
    """Items related to ``text``; see the module docstring. ``mode`` is hybrid, dense or bm25."""
    text = (text or "").strip()
    if not text:
        raise InputError("nothing to search for: the text is empty; give a sentence, a file or standard input")
    if len(text) > MAX_TEXT:
        raise InputError(f"the text is {len(text)} characters; keep drafts under {MAX_TEXT}")
    if k < 1:
        raise InputError("-k must be at least 1")
    passages = split_passages(text) if len(text.split()) > PASSAGE_WORDS else [text]
    filtered = bool(kinds or before or since or exclude_sources or exclude_ids)
    want = max(CANDIDATES, k * (8 if filtered else 3))
    hits: dict[int, Hit] = {}
    rows: dict[int, dict] = {}  # item rows by num, fetched once per query
    query_topics: dict[str, float] = {}
    for n, passage in enumerate(passages):
        ranked: dict[int, float] = {}
        vector = None
        if mode in ("hybrid", "dense"):
            vector = lib.embed_query(passage)
            scores, ids = lib.index.search(vector, want)
            for rank, (score, num) in enumerate(zip(scores[0], ids[0])):
                if num < 0:
                    continue
                hit = hits.setdefault(int(num), Hit(int(num)))
                hit.cosine = max(hit.cosine, float(score))
                hit.dense_rank = rank if hit.dense_rank is None else min(hit.dense_rank, rank)
                ranked[int(num)] = ranked.get(int(num), 0.0) + DENSE_WEIGHT / (RRF_K + rank + 1)
        if mode in ("hybrid", "bm25"):
            for rank, (num, _) in enumerate(lib.store.fts(fts_query(passage), want)):
                hit = hits.setdefault(num, Hit(num))
                hit.bm25_rank = rank if hit.bm25_rank is None else min(hit.bm25_rank, rank)
                ranked[num] = ranked.get(num, 0.0) + BM25_WEIGHT / (RRF_K + rank + 1)
        for num, score in ranked.items():
            hit = hits[num]
            hit.passages.add(n)
            hit.fused = max(hit.fused, score)
        if mode == "hybrid":
            keep = lambda row: _keep(row, kinds, before, since, exclude_sources, exclude_ids)  # noqa: E731
            cosines = {num: hits[num].cosine for num in ranked}
            for tid, weight in _topic_votes(lib, ranked, cosines, vector, keep, rows).items():
                query_topics[tid] = max(query_topics.get(tid, 0.0), weight)
    if not hits:
        return {"query": text, "passages": len(passages), "topics": [], "results": []}

    rows.update(lib.store.items_by_num([n for n in hits if n not in rows]))  # voters' rows are fetched already
    top_rrf = ({"hybrid": DENSE_WEIGHT + BM25_WEIGHT, "dense": DENSE_WEIGHT, "bm25": BM25_WEIGHT}[mode]) / (RRF_K + 1)
    g = lib.graph
    names = {t: g.nodes[t]["name"] for t in g}
    neighbours = {n for t in query_topics if t in g for n in (*g.predecessors(t), *g.successors(t))}
    scored = []
    for num, hit in hits.items():
        row = rows.get(num)
        if row is None or not _keep(row, kinds, before, since, exclude_sources, exclude_ids):
            continue
        shared = [t for t in row["topics"] if t in query_topics]
        near = [t for t in row["topics"] if t in neighbours and t not in shared]
        boost = (SHARED_TOPIC_BOOST * max((query_topics[t] for t in shared), default=0.0)
                 + (NEIGHBOUR_TOPIC_BOOST if near and not shared else 0.0))
        score = hit.fused / top_rrf * (1.0 + boost)
        if min_score is None or score >= min_score:
            scored.append((score, row["id"], row, hit, shared, near))
    scored.sort(key=lambda s: (-s[0], s[1]))
    results = []
    for score, _, row, hit, shared, near in scored[:k]:  # reasons only for what is shown
        matched = [t for t in terms(" ".join(passages[p] for p in sorted(hit.passages)))
                   if re.search(rf"\b{re.escape(t)}", f"{row['title']} {row.get('text') or ''}".lower())][:8]
        why = []
        if shared:
            why.append("shares topics: " + ", ".join(names.get(t, t) for t in shared))
        elif near:
            why.append("near topics: " + ", ".join(names.get(t, t) for t in near[:3]))
        if matched:
            why.append("matched terms: " + ", ".join(matched))
        if hit.dense_rank is not None:
            why.append(f"meaning similarity {hit.cosine:.2f}")
        if len(passages) > 1:
            why.append("passage " + ", ".join(str(p + 1) for p in sorted(hit.passages)))
        results.append({
            "id": row["id"], "title": row["title"], "url": row.get("url") or "", "kind": row["kind"],
            "source": row.get("source") or "", "date": row.get("date") or "", "score": round(score, 4),
            "why": "; ".join(why), "topics": [names.get(t, t) for t in row["topics"]],
            "matched_terms": matched, "cosine": round(hit.cosine, 4),
        })
    _flag_duplicates(lib, results)
    return {"query": text, "passages": len(passages),
            "topics": [names.get(t, t) for t, _ in sorted(query_topics.items(), key=lambda x: -x[1])],
            "results": results}


def _topic_votes(lib: Library, ranked: dict[int, float], cosines: dict[int, float], vector, keep,
                 rows: dict[int, dict]) -> dict[str, float]:
    """What the query is about: the topics of its best first-stage matches (those nearly as
    close in meaning as the best one), each weighted by their fused scores (a share of the
    vote, 0..1), plus topics whose own description is close to the query. Items that share a
    well-voted topic are then boosted."""
    top = sorted(ranked.items(), key=lambda kv: -kv[1])[:VOTERS * 3]
    rows.update(lib.store.items_by_num([n for n, _ in top if n not in rows]))
    top = [(n, score) for n, score in top if n in rows and keep(rows[n])]  # filtered items don't vote
    if not top:
        return {}
    best = max(cosines[n] for n, _ in top)
    top = [(n, score) for n, score in top if cosines[n] >= VOTE_COSINE * best][:VOTERS]
    votes: dict[str, float] = {}
    total = sum(score for _, score in top)
    for num, score in top:
        topics = rows[num]["topics"] if num in rows else []
        for tid in topics:
            votes[tid] = votes.get(tid, 0.0) + score / total / len(topics)
    out = {t: v for t, v in votes.items() if v >= VOTE_MIN}
    if vector is not None:
        from .resolve import nearest_topics

        for tid, score in nearest_topics(lib, "", 3, vector=vector):
            if score >= TOPIC_MIN:
                out[tid] = max(out.get(tid, 0.0), score - TOPIC_MIN + VOTE_MIN)
    return out


def _keep(row: dict, kinds, before, since, exclude_sources, exclude_ids) -> bool:
    if kinds and row["kind"] not in kinds:
        return False
    if row["id"] in exclude_ids:
        return False
    source = (row.get("source") or "").lower()
    if any(s.lower() in source for s in exclude_sources):
        return False
    date = row.get("date") or ""
    if before and not (date and date < before):
        return False
    if since and not (date and date[:len(since)] >= since):
        return False
    return True


def _flag_duplicates(lib: Library, results: list[dict], threshold: float = 0.95) -> None:
    """Mark results that are near-duplicates of a higher-ranked one (flagged, never hidden)."""
    ids = [r["id"] for r in results]
    if len(ids) < 2:
        return
    marks = ", ".join("?" * len(ids))
    pairs = lib.store.db.execute(
        f"SELECT src, dst FROM edges WHERE kind = 'similar' AND confidence >= ? AND src IN ({marks}) AND dst IN ({marks})",
        [threshold, *ids, *ids]).fetchall()
    rank = {i: n for n, i in enumerate(ids)}
    for a, b in pairs:
        later, earlier = (a, b) if rank[a] > rank[b] else (b, a)
        results[rank[later]]["duplicate_of"] = earlier


def duplicates(lib: Library, threshold: float = 0.95, limit: int = 1000, include_other_links: bool = False) -> list[dict]:
    """Near-duplicate pairs across the library (cosine >= threshold), best first.

    Pairs whose items both have links, and different ones, are left out unless
    ``include_other_links``: same-titled slides of two courses are not one resource."""
    from .ingest import same_resource

    ids, vectors = lib.store.vectors(dim=lib.dim)
    if len(ids) < 2:
        return []
    scores, hits = lib.index.search(vectors, 6)
    pairs: dict[tuple[int, int], float] = {}
    for num, row_s, row_h in zip(ids, scores, hits):
        for s, h in zip(row_s, row_h):
            if h >= 0 and h != num and s >= threshold:
                key = (min(int(num), int(h)), max(int(num), int(h)))
                pairs[key] = max(pairs.get(key, 0.0), float(s))
    ordered = sorted(pairs.items(), key=lambda kv: -kv[1])
    rows = lib.store.items_by_num(sorted({n for pair, _ in ordered for n in pair}))
    out = []
    for (a, b), s in ordered:
        ra, rb = rows[a], rows[b]
        if not include_other_links and not same_resource(ra["url"], rb["url"]):
            continue
        if len(out) >= limit:
            break
        out.append({"score": round(s, 4),
                    "a": {"id": ra["id"], "title": ra["title"], "source": ra["source"], "url": ra["url"]},
                    "b": {"id": rb["id"], "title": rb["title"], "source": rb["source"], "url": rb["url"]}})
    return out
