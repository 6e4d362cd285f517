"""Second stage of ``related``: weighted reciprocal-rank fusion of the two candidate lists, how
close each candidate really is (``relevance``, what the floor is applied to), and the topic
vote that boosts items sharing what a part is about, held only when the part's best match is
close enough to trust.

Where the numbers come from: RRF's k and weights, VOTERS, VOTE_COSINE and the boosts were tuned
on TutorialBank queries drawn with seed 7 (bench/related_tutorialbank.py reports seeds 13 and
29); RELEVANCE_FLOOR, the relevance weights and VOTE_CONFIDENCE on the ``calibrate`` half of
data/curator_cases.yaml (bench/curator.py --sweep), never on its ``report`` half.
"""
from __future__ import annotations

import math

RRF_K = 60
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.5
TOPIC_MIN = 0.40
VOTERS = 20
VOTE_COSINE = 0.8  # only matches nearly as close as the best one vote
VOTE_MIN = 0.10
VOTE_AGREEMENT = 2  # voters that must share a topic (when there are that many) ...
VOTE_ALONE = 0.30   # ... unless the one voter holding it carries this share of the vote
SHARED_TOPIC_BOOST = 2.0
NEIGHBOUR_TOPIC_BOOST = 0.10
MODE_WEIGHTS = {"hybrid": (DENSE_WEIGHT, BM25_WEIGHT), "dense": (DENSE_WEIGHT, 0.0), "bm25": (0.0, BM25_WEIGHT)}

# relevance = cosine + LEXICAL_WEIGHT * (the specificity of the part's words the item contains,
# summed, each counted above SPECIFIC_MIN and the sum capped at LEXICAL_CAP)
LEXICAL_WEIGHT = 0.10
SPECIFIC_MIN = 0.45
LEXICAL_CAP = 3.0
RELEVANCE_FLOOR = 0.45     # a part whose best match is below it gets nothing: "nothing close in the archive"
RESULT_GAP = 0.10          # once a part has a close match, items down to RELEVANCE_FLOOR - RESULT_GAP join it
VOTE_CONFIDENCE = 0.50     # the topic vote is held only when the part's best match is this close


def rrf(dense: list[tuple[int, float]], bm25: list[tuple[int, float]], mode: str = "hybrid") -> dict[int, float]:
    """Weighted reciprocal-rank fusion (k=60) of two ranked lists of (num, score).

    Examples
    --------
    >>> scores = rrf([(1, 0.9), (2, 0.8)], [(2, 7.0), (3, 5.0)])
    >>> sorted(scores, key=lambda n: -scores[n])
    [2, 1, 3]
    """
    dense_weight, bm25_weight = MODE_WEIGHTS[mode]
    out: dict[int, float] = {}
    for weight, ranked in ((dense_weight, dense), (bm25_weight, bm25)):
        for rank, (num, _) in enumerate(ranked):
            out[num] = out.get(num, 0.0) + weight / (RRF_K + rank + 1)
    return out


def top_score(mode: str) -> float:
    """The fused score of an item first in every list: scores are reported relative to it."""
    return sum(MODE_WEIGHTS[mode]) / (RRF_K + 1)


def specificity(frequency: int, total: int) -> float:
    """How much a shared word says, 0..1: its idf over the library, relative to a word only one
    item has. Scale-free, so the same floor holds for a library of 90 items or of 20,000.

    >>> round(specificity(1, 20000), 2), round(specificity(5000, 20000), 2)
    (0.96, 0.14)
    """
    if total < 2 or frequency <= 0:
        return 0.0
    return max(0.0, math.log((total + 1) / (frequency + 0.5)) / math.log(total + 1))


def lexical(matched: list[str], frequency: dict[str, int], total: int) -> float:
    """The lexical evidence of an item: the specificity above SPECIFIC_MIN of each word of the
    part it contains, summed and capped (three rare names shared say as much as it gets)."""
    return min(LEXICAL_CAP, sum(max(0.0, specificity(frequency.get(t, 0), total) - SPECIFIC_MIN) for t in matched)
               / (1.0 - SPECIFIC_MIN))


def relevance(cosine: float, evidence: float) -> float:
    """How close an item is to a part, on the cosine's scale: its meaning similarity, plus the
    lexical evidence (rare words both contain), which finds a story the embedding under-rates
    (a product name, a company)."""
    return cosine + LEXICAL_WEIGHT * evidence


def topic_votes(ranked: dict[int, float], cosines: dict[int, float], rows: dict[int, dict],
                nearest: list[tuple[str, float]]) -> dict[str, float]:
    """What the query is about: the topics of its best first-stage matches (those nearly as close
    in meaning as the best one), each weighted by their fused scores (a share of the vote, 0..1),
    plus topics whose own description is close to the query (``nearest``: (topic, cosine)).
    ``rows`` holds the voters: the candidates that passed the filters and the relevance floor.
    The caller holds the vote only when the part's best match is confidently close."""
    top = sorted(ranked.items(), key=lambda kv: -kv[1])[:VOTERS * 3]
    top = [(n, score) for n, score in top if n in rows]
    if not top:
        return {}
    best = max(cosines[n] for n, _ in top)
    top = [(n, score) for n, score in top if cosines[n] >= VOTE_COSINE * best][:VOTERS]
    votes: dict[str, float] = {}
    voters: dict[str, int] = {}
    total = sum(score for _, score in top)
    for num, score in top:
        topics = rows[num]["topics"]
        for tid in topics:
            votes[tid] = votes.get(tid, 0.0) + score / total / len(topics)
            voters[tid] = voters.get(tid, 0) + 1
    # a topic only one of several close items has is a guess, unless that item carries the vote
    agree = min(VOTE_AGREEMENT, len(top))
    out = {t: v for t, v in votes.items() if v >= VOTE_MIN and (voters[t] >= agree or v >= VOTE_ALONE)}
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
