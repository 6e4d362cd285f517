"""From what a user typed to a topic: exact name or alias, then fuzzy, then nearest by embedding.

The first two never load a model; only a query that matches no name pays for an embedding (and
that embedding is cached in the library).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from ..errors import UnknownTopicError
from ..library import Library
from ..text import clean_query, normalise_name

FUZZY_MIN = 0.86
EMBED_MIN = 0.45


@dataclass
class Resolution:
    topic_id: str
    name: str
    how: str  # "name", "alias", "fuzzy", "similarity"
    score: float

    def describe(self, query: str) -> str:
        how = {"name": "by name", "alias": "by alias", "fuzzy": f"by spelling ({self.score:.2f})",
               "similarity": f"by meaning ({self.score:.2f})"}[self.how]
        return f'resolved "{query}" -> topic "{self.name}" {how}'


def resolve_topic(lib: Library, query: str) -> Resolution:
    """The topic ``query`` names, or UnknownTopicError with the nearest suggestions."""
    query = clean_query(query)
    topics = {t["id"]: t for t in lib.store.topics()}
    if not topics:
        raise UnknownTopicError("the library has no topics yet; ingest a topics file or a reading list first")
    key = normalise_name(query)
    for tid, t in topics.items():
        if normalise_name(t["name"]) == key or tid == query:
            return Resolution(tid, t["name"], "name", 1.0)
    for tid, t in topics.items():
        if any(normalise_name(a) == key for a in t["aliases"]):
            return Resolution(tid, t["name"], "alias", 1.0)
    best = _fuzzy(key, topics)
    if best and best[1] >= FUZZY_MIN:
        return Resolution(best[0], topics[best[0]]["name"], "fuzzy", best[1])
    ranked = nearest_topics(lib, query, 5)
    if ranked and ranked[0][1] >= EMBED_MIN:
        tid, score = ranked[0]
        return Resolution(tid, topics[tid]["name"], "similarity", score)
    suggestions = [topics[t]["name"] for t, _ in ranked[:3]]
    raise UnknownTopicError(
        f'no topic close to "{query}"; nearest: {", ".join(suggestions) or "none"}. '
        "Try one of those, or `aidlgraph topics` for the list", suggestions)


def _fuzzy(key: str, topics: dict[str, dict]) -> tuple[str, float] | None:
    best: tuple[str, float] | None = None
    for tid, t in topics.items():
        for name in [t["name"], *t["aliases"]]:
            score = difflib.SequenceMatcher(None, key, normalise_name(name)).ratio()
            if best is None or score > best[1]:
                best = (tid, score)
    return best


def nearest_topics(lib: Library, text: str, k: int = 5, vector: np.ndarray | None = None) -> list[tuple[str, float]]:
    """The ``k`` topics whose embeddings are closest to ``text`` (cosine, best first)."""
    ids, matrix = lib.topic_vectors()
    if not ids:
        return []
    vector = lib.embed_query(text) if vector is None else vector
    scores = matrix @ vector
    order = np.argsort(-scores)[:k]
    return [(ids[i], float(scores[i])) for i in order]


def resolve_many(lib: Library, names: list[str]) -> list[str]:
    return [resolve_topic(lib, n).topic_id for n in names if n.strip()]
