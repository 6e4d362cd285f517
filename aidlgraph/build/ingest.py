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

from ..corpus import Sources, load_sources
from ..corpus.model import Batch, passage_embed_text, topic_text
from ..text import passages
from ..library import Library
from . import infer
from .apply import apply
from .headings import HeadingMatch, resolve_headings
from .new_topics import suggest_prerequisites
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
    read: list[str] = field(default_factory=list)                 # the files read, as named
    headings: list[str] = field(default_factory=list)             # how headings were placed, to check
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): nothing to read in it

    SHOWN_FILES = 6

    def summary(self) -> str:
        """One line per skipped file, then one line saying what was read and what changed."""
        parts = [f"{self.new} new", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        lines = [f"skipped {name}: {why}" for name, why in self.skipped] + self.headings
        line = (f"ingested {self.files} file(s){self._files_read()}: {', '.join(parts)} items; "
                f"{self.topics_new} new topics; {self.embedded} embedded")
        if self.inferred_tags:
            line += f"; {self.inferred_tags} items tagged by similarity"
        if self.merged:
            line += f"; {self.merged} repeated entries merged"
        line += f"; {len(self.duplicates)} possible duplicates (see `aidlgraph dupes`)"
        return "\n".join(lines + [line + f" in {self.seconds:.1f}s"])

    def _files_read(self) -> str:
        """" (a.md, b.md, ... and 3 more)" when more than one file was read."""
        if len(self.read) < 2:
            return ""
        names = [os.path.basename(name) for name in self.read[:self.SHOWN_FILES]]
        more = len(self.read) - len(names)
        return f" ({', '.join(names)}{f' and {more} more' if more else ''})"


def ingest(lib: Library, paths: Iterable[str | os.PathLike], prune: bool = False, progress: bool = False,
           locked: bool = False, wait: float = 0.0, strict: bool = False) -> IngestReport:
    """Ingest files or folders into ``lib``; see the module docstring for the guarantees.

    Files of a folder with nothing to read are skipped and listed in the report; ``strict``
    makes any of them an error (see ``corpus.load_sources``)."""
    sources = Sources()
    known = lib.store.source_digests()
    for path in paths:
        sources.extend(load_sources(path, known=known, strict=strict))
    return ingest_batches(lib, sources.batches, prune=prune, progress=progress, locked=locked, wait=wait,
                          sources=sources)


def ingest_batches(lib: Library, batches: list[Batch], prune: bool = False, progress: bool = False,
                   locked: bool = False, wait: float = 0.0, sources: Sources | None = None) -> IngestReport:
    """Ingest already loaded batches. ``locked``: the caller holds ``lib.writing()`` already;
    ``sources``: what was read and skipped, for the report."""
    if locked:
        report = _ingest(lib, batches, prune, progress)
    else:
        with lib.writing(wait=wait):
            report = _ingest(lib, batches, prune, progress)
    if sources is not None:
        report.read, report.skipped = list(sources.read), list(sources.skipped)
    return report


def _ingest(lib: Library, batches: list[Batch], prune: bool, progress: bool) -> IngestReport:
    started = time.perf_counter()
    snapshot = Snapshot.of(lib.store)
    placed = resolve_headings(lib, batches, snapshot)
    todo = plan(batches, snapshot, prune=prune)
    report = IngestReport(files=len(batches), unchanged=todo.unchanged, merged=todo.merged,
                          topics_new=todo.topics_new, prereqs=len(todo.prereqs))
    if todo.writes_nothing():
        with lib.store.transaction(bump=False):  # nothing to write but which files were read
            lib.store.record_sources(todo.batches)
    else:
        suggested = suggest_prerequisites(lib, todo, snapshot)
        connect(todo, suggested)
        report.headings = _heading_notes(placed, todo, suggested)
        vectors, parts = embed_items(lib, todo, progress)
        report.embedded = len(todo.to_embed)
        inferred = tag_untagged(lib, todo, vectors)
        report.inferred_tags = sum(1 for tags in inferred.values() if tags)
        apply(lib, todo, vectors, inferred, report, parts, suggested)
        if todo.new_topics or report.embedded:
            lib.invalidate()
            lib.topic_vectors()  # store new topics' vectors now, so read commands never embed them
    report.seconds = time.perf_counter() - started
    return report


def connect(todo: Plan, suggested: list[dict]) -> None:
    """New topics that received suggested prerequisites are part of the graph now: their items no
    longer need tags by similarity to join a path."""
    joined = {e["dst"] for e in suggested}
    if joined:
        todo.graph.add_edges_from((e["src"], e["dst"], e) for e in suggested)
        todo.bare -= joined
        todo.untagged = [i for i in todo.untagged if not set(todo.items[i][2]) & joined]


def _heading_notes(placed: list[HeadingMatch], todo: Plan, suggested: list[dict]) -> list[str]:
    """What a curator should check: headings matched only by meaning, and the topics headings created."""
    names = {t.id: t.name for ts in todo.new_topics.values() for t in ts}
    names.update((tid, row["name"]) for tid, row in todo.graph.nodes(data=True) if row.get("name"))
    notes = [f"heading {m.name!r} matched topic {names.get(m.topics[0], m.topics[0])!r} by meaning ({m.score:.2f})"
             for m in placed if m.how == "meaning"]
    before: dict[str, list[str]] = {}
    for e in suggested:
        before.setdefault(e["dst"], []).append(names.get(e["src"], e["src"]))
    for m in placed:
        tid = next((t.id for ts in todo.new_topics.values() for t in ts if t.name == m.name), None)
        if m.how == "new" and tid:
            after = before.get(tid)
            notes.append(f"new topic {m.name!r}: " + (f"suggested prerequisites {', '.join(after)}" if after
                                                       else "no prerequisite found; its items are tagged by similarity"))
    return notes


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


def tag_untagged(lib: Library, todo: Plan, vectors: np.ndarray) -> dict[str, list[tuple[str, float, str]]]:
    """Tags (provenance ``inferred``) for the plan's untagged items, by ``infer.place``: the
    described topics' texts and the curated topics of each item's nearest neighbours, both those
    already in the library and those arriving in this ingest. An item may stay untagged."""
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
    rows = vectors[[position[i] for i in todo.untagged]]
    renewed = {todo.num(i) for i in todo.to_embed} - {None}
    labelled = [i for i in todo.to_embed if i not in set(todo.untagged)]
    near = infer.merge(stored_neighbours(lib, rows, skip=renewed),
                       infer.nearest_labelled(rows, vectors[[position[i] for i in labelled]],
                                              [todo.items[i][2] for i in labelled]))
    tags = infer.place(rows, ids, matrix, near, described_topics(lib, todo))
    return dict(zip(todo.untagged, tags))


def described_topics(lib: Library, todo: Plan | None = None) -> set[str]:
    """Topics with a description, stored or arriving in ``todo``: those whose text can place an item."""
    described = {t["id"] for t in lib.store.topics() if t["description"]}
    if todo is not None:
        described |= {t.id for ts in todo.new_topics.values() for t in ts if t.description}
    return described


def stored_neighbours(lib: Library, vectors: np.ndarray, skip: set[int] = frozenset(),
                      k: int = infer.NEIGHBOURS) -> list[infer.Neighbours]:
    """Each vector's ``k`` nearest items in the library's index, with the topics a curator or an
    import gave them (``skip``: items being re-embedded, whose stored vectors are stale)."""
    if not len(vectors) or not lib.index.size:
        return [[] for _ in range(len(vectors))]
    scores, hits = lib.index.search(vectors, k + min(len(skip), 2 * k))
    labels = lib.store.curated_topics_of([int(h) for h in hits.ravel() if h >= 0])
    return [[(float(s), labels.get(int(h), [])) for s, h in zip(row_s, row_h) if h >= 0 and int(h) not in skip][:k]
            for row_s, row_h in zip(scores, hits)]
