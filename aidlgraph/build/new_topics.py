"""Prerequisites proposed for the topics an ingest creates, so that a new topic joins the graph.

A heading that matched no topic becomes a topic with nothing before it: a path to it would be one
step long, and a path through it impossible. At ingest, the suggester (``query.suggest``, the
model ``aidlgraph graph suggest`` runs and ``bench/prereq_lecturebank.py`` measures) scores every
existing topic as a prerequisite of each new one; the best ``PER_TOPIC`` clearing
``MIN_CONFIDENCE`` are written as prerequisite edges of source ``suggested``, the weakest
provenance, with the suggester's evidence as their reason. A path may use them (and says so); a
curator confirms one with ``graph accept`` (it becomes curated) or removes it with ``graph
reject``. Only prerequisites *of* the new topic are proposed: an unreviewed topic never inserts
itself into the paths of topics a curator already arranged.

The cost is bounded by the number of topics, not items: each topic's text evidence is a sample of
at most ``TEXTS_PER_TOPIC`` of its items.
"""
from __future__ import annotations

import numpy as np

from ..corpus.model import topic_text
from ..query import suggest as suggester
from .plan import Plan, Snapshot

PER_TOPIC = 3
MIN_CONFIDENCE = 0.5
TEXTS_PER_TOPIC = 40


def new_bare_topics(todo: Plan, snapshot: Snapshot) -> list[str]:
    """The topics this plan creates from headings that have no prerequisite edge and no
    description (a dataset's own topic column or an import's concepts are left as they come)."""
    headed = {b.origin for b in todo.batches if b.heading_topics}
    return [t.id for origin, ts in todo.new_topics.items() if origin in headed for t in ts
            if t.id in todo.bare and t.id not in snapshot.topics]


def suggest_prerequisites(lib, todo: Plan, snapshot: Snapshot) -> list[dict]:
    """Prerequisite edges (rows for ``store.add_edges``, source ``suggested``) for the plan's new
    bare topics; none when it creates none."""
    new = new_bare_topics(todo, snapshot)
    if not new:
        return []
    data, edges, trusted, rejected = _topic_data(lib, todo, snapshot)
    index = {tid: n for n, tid in enumerate(data.ids)}
    scorer = suggester.library_scorer(data, trusted)  # never trained on its own earlier suggestions
    proposals = suggester.propose(data, edges, scorer, rejected, limit=data.n * PER_TOPIC,
                                  min_confidence=MIN_CONFIDENCE, targets=np.array([index[t] for t in new]))
    rows, per_topic = [], {}
    for s in proposals:
        if per_topic.get(s.dst, 0) >= PER_TOPIC:
            continue
        per_topic[s.dst] = per_topic.get(s.dst, 0) + 1
        rows.append({"src": s.src, "dst": s.dst, "kind": "prereq", "source": "suggested",
                     "confidence": s.confidence, "reason": f"suggested at ingest: {s.why}"})
    return rows


def _topic_data(lib, todo: Plan, snapshot: Snapshot):
    """(TopicData, prerequisite edges, those not suggested, rejected pairs) over the library's
    topics and the plan's, as index arrays."""
    topics = {tid: row for tid, row in snapshot.topics.items()}
    for ts in todo.new_topics.values():
        for t in ts:
            topics[t.id] = {"id": t.id, "name": t.name, "aliases": list(t.aliases), "description": t.description}
    ids = sorted(topics)
    index = {tid: n for n, tid in enumerate(ids)}
    stored_ids, stored = lib.topic_vectors()
    vectors = dict(zip(stored_ids, stored))
    missing = [tid for tid in ids if tid not in vectors or tid in todo.bare]
    if missing:
        vectors.update(zip(missing, lib.embedder.encode([topic_text(topics[t]) for t in missing])))
    matrix = np.vstack([vectors[t] for t in ids]).astype(np.float32)
    texts: list[list[str]] = [[] for _ in ids]
    series: dict[tuple[str, str], dict[int, int]] = {}
    for dst, title, text, source, name, position in lib.store.topic_text_sample(TEXTS_PER_TOPIC):
        if dst in index:
            texts[index[dst]].append(f"{title}\n{text or ''}")
            if name and position is not None:
                first = series.setdefault((source or "", name), {})
                first[index[dst]] = min(first.get(index[dst], position), position)
    for item, _, topic_ids in todo.items.values():
        for tid in topic_ids:
            if tid in index and len(texts[index[tid]]) < TEXTS_PER_TOPIC:
                texts[index[tid]].append(f"{item.title}\n{item.text or ''}")
    names = [[topics[t]["name"], *topics[t].get("aliases", [])] for t in ids]
    data = suggester.TopicData(ids, [topics[t]["name"] for t in ids], matrix @ matrix.T,
                               suggester.mention_matrix(texts, names),
                               suggester.series_order(list(series.values()), len(ids)))
    rows = snapshot.prereqs + todo.prereqs
    edges = _pairs([(p["src"], p["dst"]) for p in rows], index)
    trusted = _pairs([(p["src"], p["dst"]) for p in rows if p["source"] != "suggested"], index)
    rejected = _pairs([pair for pair, d in lib.store.decisions().items() if d == "rejected"], index)
    return data, edges, trusted, rejected


def _pairs(pairs, index: dict[str, int]) -> np.ndarray:
    return np.array([(index[a], index[b]) for a, b in dict.fromkeys(pairs) if a in index and b in index],
                    dtype=np.int64).reshape(-1, 2)
