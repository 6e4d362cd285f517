"""Ingest: sources -> items, topics and edges in the store, vectors in FAISS.

Four steps, each its own function: ``plan`` (pure: what to write, every check before the first
write), embed what changed (the slow part), tag items that came without topics, ``apply`` (one
transaction; the index is saved after the commit by ``Library.writing``, and a crash in between is
detected by the generation stamp and repaired from the stored vectors). Unchanged items (same
content hash) are not embedded again.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..corpus import load_path
from ..corpus.model import Batch, passage_embed_text, topic_text
from ..text import passages
from ..library import Library
from . import infer
from .apply import apply
from .plan import Plan, Snapshot, plan


@dataclass
class IngestReport:
    files: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    merged: int = 0
    topics_new: int = 0
    prereqs: int = 0
    embedded: int = 0
    inferred_tags: int = 0
    duplicates: list[tuple[str, str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        line = (f"ingested {self.files} file(s): {', '.join(parts)} items; {self.topics_new} new topics; "
                f"{self.embedded} embedded")
        if self.inferred_tags:
            line += f"; {self.inferred_tags} items tagged by similarity"
        if self.merged:
            line += f"; {self.merged} repeated entries merged"
        line += f"; {len(self.duplicates)} possible duplicates (see `aidlgraph dupes`)"
        return line + f" in {self.seconds:.1f}s"


def ingest(lib: Library, paths: Iterable[str | os.PathLike], prune: bool = False, progress: bool = False,
           locked: bool = False, wait: float = 0.0) -> IngestReport:
    """Ingest files or folders into ``lib``; see the module docstring for the guarantees."""
    batches: list[Batch] = []
    known = lib.store.source_digests()
    for path in paths:
        batches.extend(load_path(path, known=known))
    return ingest_batches(lib, batches, prune=prune, progress=progress, locked=locked, wait=wait)


def ingest_batches(lib: Library, batches: list[Batch], prune: bool = False, progress: bool = False,
                   locked: bool = False, wait: float = 0.0) -> IngestReport:
    """Ingest already loaded batches. ``locked``: the caller holds ``lib.writing()`` already."""
    if locked:
        return _ingest(lib, batches, prune, progress)
    with lib.writing(wait=wait):
        return _ingest(lib, batches, prune, progress)


def _ingest(lib: Library, batches: list[Batch], prune: bool, progress: bool) -> IngestReport:
    started = time.perf_counter()
    todo = plan(batches, Snapshot.of(lib.store), prune=prune)
    report = IngestReport(files=len(batches), unchanged=todo.unchanged, merged=todo.merged,
                          topics_new=todo.topics_new, prereqs=len(todo.prereqs))
    if todo.writes_nothing():
        with lib.store.transaction(bump=False):  # nothing to write but which files were read
            lib.store.record_sources(todo.batches)
    else:
        vectors, parts = embed_items(lib, todo, progress)
        report.embedded = len(todo.to_embed)
        inferred = tag_untagged(lib, todo, vectors)
        report.inferred_tags = sum(1 for tags in inferred.values() if tags)
        apply(lib, todo, vectors, inferred, report, parts)
        if todo.new_topics or report.embedded:
            lib.invalidate()
            lib.topic_vectors()  # store new topics' vectors now, so read commands never embed them
    report.seconds = time.perf_counter() - started
    return report


def embed_items(lib: Library, todo: Plan, progress: bool = False) -> tuple[np.ndarray, dict]:
    """(vectors of ``todo.to_embed`` in order, their passages: item id -> (texts, vectors or None)).

    Identical texts get identical vectors: each distinct text is encoded once (TutorialBank lists
    23% of its titles more than once, with different links). An item whose text is one passage is
    answered from its own vector; longer texts have each passage embedded with the item's title,
    in the same batch."""
    if not todo.to_embed:
        return np.zeros((0, lib.dim or 0), dtype=np.float32), {}
    texts = [todo.items[i][0].embed_text() for i in todo.to_embed]
    parts: dict[str, list[str]] = {}
    for iid in todo.to_embed:
        item = todo.items[iid][0]
        parts[iid] = passages(item.text) or [item.title]
    wanted = texts + [passage_embed_text(todo.items[i][0].title, p) for i in todo.to_embed if len(parts[i]) > 1
                      for p in parts[i]]
    distinct = list(dict.fromkeys(wanted))
    position = {text: n for n, text in enumerate(distinct)}
    encoded = lib.embedder.encode(distinct, progress=progress)
    out = {}
    for iid in todo.to_embed:
        title = todo.items[iid][0].title
        vecs = (encoded[[position[passage_embed_text(title, p)] for p in parts[iid]]]
                if len(parts[iid]) > 1 else None)
        out[iid] = (parts[iid], vecs)
    return encoded[[position[t] for t in texts]], out


def tag_untagged(lib: Library, todo: Plan, vectors: np.ndarray) -> dict[str, list[tuple[str, float]]]:
    """Tag the plan's untagged items to the nearest described topics (provenance ``inferred``)."""
    if not todo.untagged or len(todo.graph) <= len(todo.bare):
        return {}
    ids, matrix = lib.topic_vectors()
    keep = [n for n, t in enumerate(ids) if t not in todo.bare]
    ids, matrix = [ids[n] for n in keep], matrix[keep] if len(matrix) else matrix
    extra = [t for ts in todo.new_topics.values() for t in ts if t.id not in set(ids) and t.id not in todo.bare]
    if extra:
        fresh = lib.embedder.encode([topic_text(t) for t in extra])
        ids = ids + [t.id for t in extra]
        matrix = np.vstack([matrix, fresh]) if len(matrix) else fresh
    position = {iid: n for n, iid in enumerate(todo.to_embed)}
    tags = infer.nearest_topics(vectors[[position[i] for i in todo.untagged]], ids, matrix)
    return dict(zip(todo.untagged, tags))
