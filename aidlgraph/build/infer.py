"""Placing items that came without topics: precision first, so an item may stay untagged.

Two kinds of evidence say what an item is about, and either may place it:

- **the topic's own text**: the cosine between the item and each topic's name, aliases and
  description. Strong where topics are described (the shipped topics), weak where a topic is a
  bare name from a column or a heading ("Others", "Machine Learning");
- **the item's neighbours**: its ``NEIGHBOURS`` nearest items in meaning, each voting for the
  topics a curator (or an import) gave it, with its similarity; a topic's vote is its share of
  the neighbours' similarity. Strong where many items are labelled, silent where few are.

For each kind, the best topic is taken only when it reaches that kind's minimum and beats the
next topic by its margin; when the first two are close to each other but both stand the margin
clear of the third, both are taken (an item about detection *and* segmentation). Otherwise the
item stays untagged: a wrong topic sends it into the wrong reading paths, while an untagged item
is still found by ``related`` and ``ask``. The four numbers in ``RULE`` are calibrated by
``bench/placement.py --calibrate`` on calibration splits of TutorialBank and the shipped corpus
(never on the splits it reports).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 10
CANDIDATES = 5  # topics kept per item and per kind of evidence


@dataclass(frozen=True)
class Rule:
    """How evidence becomes tags (see the module docstring)."""

    text_min: float     # the least cosine to a topic's text that places an item
    text_margin: float  # how far it must stand above the next topic's
    vote_min: float     # the least share of the neighbours' vote that places an item
    vote_margin: float
    most: int = 2


# Calibrated by `python bench/placement.py --calibrate` (the figures are in docs/design.md).
RULE = Rule(text_min=0.45, text_margin=0.05, vote_min=0.825, vote_margin=0.2)

Neighbours = list[tuple[float, list[str]]]  # (similarity, topic ids) of one item's nearest labelled items


@dataclass
class Evidence:
    """One item's best topics by each kind of evidence, best first, as (topic id, score)."""

    text: list[tuple[str, float]]
    votes: list[tuple[str, float]]

    def ranked(self, rule: Rule = RULE) -> list[str]:
        """Every candidate topic, strongest first: by how far its better evidence goes toward
        that kind's minimum (what ``choose`` takes comes first)."""
        strength: dict[str, float] = {}
        for pairs, minimum in ((self.text, rule.text_min), (self.votes, rule.vote_min)):
            for tid, score in pairs:
                strength[tid] = max(strength.get(tid, 0.0), score / minimum)
        return sorted(strength, key=lambda t: -strength[t])


def evidence(vectors: np.ndarray, topic_ids: list[str], topic_matrix: np.ndarray, neighbours: list[Neighbours],
             described: set[str] | None = None, top: int = CANDIDATES) -> list[Evidence]:
    """Each item's evidence (see ``Evidence``). Text evidence counts only for the ``described``
    topics (default: all): a bare name from a column or heading is no description, and measured
    on TutorialBank's 293 bare topic names it placed items no better than 30% right at any cosine.

    Examples
    --------
    >>> m = np.eye(3, dtype=np.float32)
    >>> evidence(np.array([[0.8, 0.6, 0.0]], np.float32), ["a", "b", "c"], m, [[(0.9, ["b"]), (0.3, [])]], top=2)
    [Evidence(text=[('a', 0.8), ('b', 0.6)], votes=[('b', 0.75)])]
    >>> evidence(np.array([[0.8, 0.6, 0.0]], np.float32), ["a", "b", "c"], m, [[]], described={"b", "c"}, top=2)
    [Evidence(text=[('b', 0.6), ('c', 0.0)], votes=[])]
    """
    if not len(vectors):
        return []
    cols = [j for j, t in enumerate(topic_ids) if described is None or t in described]
    if cols:
        cosine = np.asarray(vectors, np.float32) @ np.asarray(topic_matrix, np.float32)[cols].T
    else:
        cosine = np.zeros((len(vectors), 0), np.float32)
    known = set(topic_ids)
    out = []
    for row, near in zip(cosine, neighbours):
        order = np.argsort(-row, kind="stable")[:top]
        text = [(topic_ids[cols[j]], round(float(row[j]), 4)) for j in order]
        mass = sum(max(s, 0.0) for s, _ in near)
        votes: dict[str, float] = {}
        for sim, labels in near:
            for tid in set(labels) & known:
                votes[tid] = votes.get(tid, 0.0) + max(sim, 0.0) / mass
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])[:top]
        out.append(Evidence(text, [(t, round(v, 4)) for t, v in ranked]))
    return out


def clear(ranked: list[tuple[str, float]], minimum: float, margin: float, most: int = 2) -> list[tuple[str, float]]:
    """The first one (or two) of ``ranked`` when they reach ``minimum`` and stand ``margin``
    above the next; else none.

    >>> clear([("a", 0.7), ("b", 0.5)], 0.45, 0.1), clear([("a", 0.7), ("b", 0.65), ("c", 0.6)], 0.45, 0.1)
    ([('a', 0.7)], [])
    >>> clear([("a", 0.7), ("b", 0.65), ("c", 0.4)], 0.45, 0.1)
    [('a', 0.7), ('b', 0.65)]
    """
    for take in range(1, most + 1):
        if len(ranked) < take:
            break
        chosen = ranked[:take]
        after = ranked[take][1] if len(ranked) > take else 0.0
        if chosen[-1][1] >= minimum and chosen[-1][1] - after >= margin:
            return chosen
    return []


def choose(ev: Evidence, rule: Rule = RULE) -> list[tuple[str, float, str]]:
    """The tags ``rule`` takes from one item's evidence, as (topic id, score, why); maybe none."""
    tags: list[tuple[str, float, str]] = []
    for tid, score in clear(ev.text, rule.text_min, rule.text_margin, rule.most):
        tags.append((tid, score, f"similar to the topic's description (score {score:.2f})"))
    for tid, score in clear(ev.votes, rule.vote_min, rule.vote_margin, rule.most):
        if all(tid != t for t, _, _ in tags):
            tags.append((tid, score, f"its nearest items are about it (score {score:.2f})"))
    return tags[:rule.most]


def place(vectors: np.ndarray, topic_ids: list[str], topic_matrix: np.ndarray, neighbours: list[Neighbours],
          described: set[str] | None = None, rule: Rule = RULE) -> list[list[tuple[str, float, str]]]:
    """The tags of each item under ``rule`` (possibly none), as (topic id, score, why)."""
    return [choose(e, rule) for e in evidence(vectors, topic_ids, topic_matrix, neighbours, described)]


def nearest_labelled(vectors: np.ndarray, pool: np.ndarray, labels: list[list[str]],
                     k: int = NEIGHBOURS) -> list[Neighbours]:
    """For each row of ``vectors``, its ``k`` nearest rows of ``pool`` (cosine) with their labels:
    the neighbours that are part of the same ingest, not yet in the index.

    >>> pool = np.eye(2, dtype=np.float32)
    >>> nearest_labelled(np.array([[1.0, 0.0]], np.float32), pool, [["a"], ["b"]], k=1)
    [[(1.0, ['a'])]]
    """
    if not len(pool) or not len(vectors):
        return [[] for _ in range(len(vectors))]
    pool = np.asarray(pool, np.float32)
    out = []
    for start in range(0, len(vectors), 512):  # bounded memory whatever the sizes
        sims = np.asarray(vectors[start:start + 512], np.float32) @ pool.T
        top = np.argpartition(-sims, min(k, sims.shape[1]) - 1, axis=1)[:, :k]
        for row, cols in zip(sims, top):
            cols = cols[np.argsort(-row[cols], kind="stable")]
            out.append([(float(row[j]), labels[j]) for j in cols])
    return out


def merge(a: list[Neighbours], b: list[Neighbours], k: int = NEIGHBOURS) -> list[Neighbours]:
    """Each item's ``k`` nearest of two neighbour lists."""
    return [sorted(x + y, key=lambda n: -n[0])[:k] for x, y in zip(a, b)]
