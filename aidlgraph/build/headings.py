"""Headings to topics: a reading list's field headings are matched to the library's topics before
planning, so that only a heading that names nothing the library knows becomes a new topic.

A Markdown page proposes its field headings as topic names (``Batch.heading_topics``; which
headings are field headings is the loader's business, see ``corpus.sections``). Each distinct
name is matched, in this order:

1. **by name**: a topic's name, id or alias (``"Linear Algebra"``);
2. **by its parts**: ``"Segmentation, Object Detection"`` or ``"TensorFlow and Keras"`` split on
   commas, "and", "&" and "/", each part by name; the parts that match are the heading's topics
   (a part that matches nothing, such as "Keras", adds nothing);
3. **by meaning**: the heading's embedding against the topics' (name, aliases, description), when
   the best clears ``MEANING_MIN`` and beats the second best by ``MEANING_MARGIN``; both numbers
   are calibrated by ``bench/placement.py`` (hold a topic's alias out of its text and ask whether
   the alias still finds it; hold a whole topic out and ask whether its name wrongly finds another).

The items' topic references are rewritten to the matched topic ids and the matched declarations
dropped, so ``plan`` sees them as references to existing topics; what matches nothing stays
declared and becomes a new topic. Matching needs the library's topic vectors and the model, which
is why it is a build step and not part of the loader, and why ``plan`` stays pure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..corpus.model import Batch, Topic, topic_text
from ..corpus.sections import split_parts
from ..text import normalise_name

# Calibrated by `python bench/placement.py --part headings` on the calibration half of the shipped
# topics (the report half's figures are in docs/design.md).
MEANING_MIN = 0.52
MEANING_MARGIN = 0.075


@dataclass
class HeadingMatch:
    """How one heading name was placed: the topic ids it names, and how (name, parts, meaning,
    or new when it named nothing and becomes a topic of its own)."""

    name: str
    topics: list[str] = field(default_factory=list)
    how: str = "new"
    score: float | None = None


def match_by_name(name: str, lookup: dict[str, str]) -> tuple[list[str], str]:
    """Topic ids a heading names by a name, id or alias, whole or by its parts, and how.

    >>> lookup = {"semantic segmentation": "seg", "segmentation": "seg", "object detection": "det", "tensorflow": "tf"}
    >>> match_by_name("Segmentation, Object Detection", lookup), match_by_name("TensorFlow and Keras", lookup)
    ((['seg', 'det'], 'parts'), (['tf'], 'parts'))
    >>> match_by_name("Graph Neural Networks", lookup)
    ([], 'new')
    """
    whole = lookup.get(normalise_name(name))
    if whole:
        return [whole], "name"
    parts = split_parts(name)
    if len(parts) > 1:
        found = [lookup.get(normalise_name(p)) for p in parts]
        ids = list(dict.fromkeys(t for t in found if t))
        if ids:
            return ids, "parts"
    return [], "new"


def match_by_meaning(vectors: np.ndarray, topic_ids: list[str], topic_matrix: np.ndarray,
                     minimum: float = MEANING_MIN, margin: float = MEANING_MARGIN) -> list[tuple[str, float] | None]:
    """For each heading vector, the one topic it means (id, cosine), or None when no topic is
    close enough or two are nearly as close (the heading is then about neither for sure).

    >>> m = np.eye(3, dtype=np.float32)
    >>> match_by_meaning(np.array([[0.9, 0.1, 0.0], [0.6, 0.59, 0.0]], np.float32), ["a", "b", "c"], m, 0.5, 0.05)
    [('a', 0.8999999761581421), None]
    """
    if not len(topic_ids) or not len(vectors):
        return [None] * len(vectors)
    scores = np.asarray(vectors, np.float32) @ np.asarray(topic_matrix, np.float32).T
    out: list[tuple[str, float] | None] = []
    for row in scores:
        order = np.argsort(-row)[:2]
        best = float(row[order[0]])
        second = float(row[order[1]]) if len(order) > 1 else -1.0
        out.append((topic_ids[order[0]], best) if best >= minimum and best - second >= margin else None)
    return out


def resolve_headings(lib, batches: list[Batch], snapshot) -> list[HeadingMatch]:
    """Match the heading topics of ``batches`` to existing topics and rewrite the batches (see
    the module docstring). Returns how each distinct heading name was placed."""
    loose = [b for b in batches if b.heading_topics and not b.unchanged and b.topics]
    if not loose:
        return []
    described = [t for b in batches if not b.heading_topics for t in b.topics]
    lookup = dict(snapshot.names)
    for topic in described:
        for name in [topic.name, topic.id.replace("-", " "), *topic.aliases]:
            lookup.setdefault(normalise_name(name), topic.id)
    names = list(dict.fromkeys(t.name for b in loose for t in b.topics))
    matches = {}
    for name in names:
        ids, how = match_by_name(name, lookup)
        matches[name] = HeadingMatch(name, ids, how)
    unmatched = [n for n in names if not matches[n].topics]
    if unmatched:
        ids, matrix = _topic_matrix(lib, described)
        found = match_by_meaning(lib.embedder.encode(unmatched), ids, matrix)
        for name, hit in zip(unmatched, found):
            if hit:
                matches[name] = HeadingMatch(name, [hit[0]], "meaning", round(hit[1], 4))
    for batch in loose:
        _rewrite(batch, matches)
    return list(matches.values())


def _topic_matrix(lib, described: list[Topic]) -> tuple[list[str], np.ndarray]:
    """The library's topic vectors, and those of topics described in this very ingest."""
    ids, matrix = lib.topic_vectors()
    extra = [t for t in {t.id: t for t in described}.values() if t.id not in set(ids)]
    if extra:
        fresh = lib.embedder.encode([topic_text(t) for t in extra])
        ids = list(ids) + [t.id for t in extra]
        matrix = np.vstack([matrix, fresh]) if len(matrix) else fresh
    return ids, matrix


def _rewrite(batch: Batch, matches: dict[str, HeadingMatch]) -> None:
    """Point the batch's items at the matched topic ids; keep only unmatched names declared."""
    key = {normalise_name(name): m for name, m in matches.items()}
    for item in batch.items:
        topics: list[str] = []
        for ref in item.topics:
            match = key.get(normalise_name(ref))
            for tid in (match.topics if match and match.topics else [ref]):
                if tid not in topics:
                    topics.append(tid)
        item.topics = topics
    batch.topics = [t for t in batch.topics if not matches.get(t.name, HeadingMatch(t.name)).topics]
