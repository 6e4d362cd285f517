"""Tagging items that came without topics to the nearest topics by embedding similarity."""
from __future__ import annotations

import numpy as np

INFER_MIN = 0.30
INFER_MARGIN = 0.04
INFER_MAX = 2


def nearest_topics(vectors: np.ndarray, topic_ids: list[str], topic_matrix: np.ndarray,
                   minimum: float = INFER_MIN, margin: float = INFER_MARGIN,
                   most: int = INFER_MAX) -> list[list[tuple[str, float]]]:
    """For each row of ``vectors``, up to ``most`` topics scoring at least ``minimum`` and within
    ``margin`` of the best, as (topic id, cosine), best first.

    Examples
    --------
    >>> m = np.eye(3, dtype=np.float32)
    >>> nearest_topics(np.array([[0.8, 0.6, 0.0]], np.float32), ["a", "b", "c"], m, margin=0.1)
    [[('a', 0.800000011920929)]]
    """
    if not len(topic_ids) or not len(vectors):
        return [[] for _ in range(len(vectors))]
    scores = np.asarray(vectors, dtype=np.float32) @ np.asarray(topic_matrix, dtype=np.float32).T
    out = []
    for row in scores:
        order = np.argsort(-row)[:most]
        best = float(row[order[0]])
        out.append([(topic_ids[j], float(row[j])) for j in order if row[j] >= minimum and row[j] >= best - margin])
    return out
