"""Second stage of ``related``: weighted reciprocal-rank fusion of the two candidate lists, and
the topic vote that boosts items sharing what the query is about."""
from __future__ import annotations

RRF_K = 60
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.5
TOPIC_MIN = 0.40
VOTERS = 20
VOTE_COSINE = 0.8  # only matches nearly as close as the best one vote
VOTE_MIN = 0.10
SHARED_TOPIC_BOOST = 2.0
NEIGHBOUR_TOPIC_BOOST = 0.10
MODE_WEIGHTS = {"hybrid": (DENSE_WEIGHT, BM25_WEIGHT), "dense": (DENSE_WEIGHT, 0.0), "bm25": (0.0, BM25_WEIGHT)}


def rrf(dense_nums: list[int], bm25_nums: list[int], mode: str = "hybrid") -> dict[int, float]:
    """Weighted reciprocal-rank fusion (k=60) of two ranked lists of nums.

    Examples
    --------
    >>> scores = rrf([1, 2], [2, 3])
    >>> sorted(scores, key=lambda n: -scores[n])
    [2, 1, 3]
    """
    dense_weight, bm25_weight = MODE_WEIGHTS[mode]
    out: dict[int, float] = {}
    for rank, num in enumerate(dense_nums):
        out[num] = out.get(num, 0.0) + dense_weight / (RRF_K + rank + 1)
    for rank, num in enumerate(bm25_nums):
        out[num] = out.get(num, 0.0) + bm25_weight / (RRF_K + rank + 1)
    return out


def top_score(mode: str) -> float:
    """The fused score of an item first in every list: scores are reported relative to it."""
    return sum(MODE_WEIGHTS[mode]) / (RRF_K + 1)


def topic_votes(ranked: dict[int, float], cosines: dict[int, float], rows: dict[int, dict],
                nearest: list[tuple[str, float]]) -> dict[str, float]:
    """What the query is about: the topics of its best first-stage matches (those nearly as close
    in meaning as the best one), each weighted by their fused scores (a share of the vote, 0..1),
    plus topics whose own description is close to the query (``nearest``: (topic, cosine)).
    ``rows`` holds the voters that passed the filters."""
    top = sorted(ranked.items(), key=lambda kv: -kv[1])[:VOTERS * 3]
    top = [(n, score) for n, score in top if n in rows]
    if not top:
        return {}
    best = max(cosines[n] for n, _ in top)
    top = [(n, score) for n, score in top if cosines[n] >= VOTE_COSINE * best][:VOTERS]
    votes: dict[str, float] = {}
    total = sum(score for _, score in top)
    for num, score in top:
        topics = rows[num]["topics"]
        for tid in topics:
            votes[tid] = votes.get(tid, 0.0) + score / total / len(topics)
    out = {t: v for t, v in votes.items() if v >= VOTE_MIN}
    for tid, score in nearest:
        if score >= TOPIC_MIN:
            out[tid] = max(out.get(tid, 0.0), score - TOPIC_MIN + VOTE_MIN)
    return out


def boost(item_topics: list[str], query_topics: dict[str, float], neighbours: set[str]) -> tuple[float, list[str], list[str]]:
    """(boost, shared topics, neighbouring topics) of an item given what the query is about."""
    shared = [t for t in item_topics if t in query_topics]
    near = [t for t in item_topics if t in neighbours and t not in shared]
    value = (SHARED_TOPIC_BOOST * max((query_topics[t] for t in shared), default=0.0)
             + (NEIGHBOUR_TOPIC_BOOST if near and not shared else 0.0))
    return value, shared, near
