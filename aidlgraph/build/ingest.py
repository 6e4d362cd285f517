"""Ingest: sources -> items, topics and edges in the store, vectors in FAISS.

All parsing and validation happens before the first write; all writes to the database happen in
one transaction; the FAISS index is saved after the commit (a crash in between is detected by
the generation stamp and repaired from the stored vectors). Unchanged items (same content hash)
are not embedded again.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from . import graph as graphs
from .corpus import Batch, Item, Topic, load_path, normalise_name
from .errors import InputError, LibraryError, UnknownTopicError
from .library import Library

SIMILAR_K = 5
SIMILAR_MIN = 0.55
DUPLICATE_MIN = 0.95
INFER_MIN = 0.30
INFER_MARGIN = 0.04
INFER_MAX = 2


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
    try:
        if locked:
            return _ingest(lib, batches, prune, progress)
        with lib.writing(wait=wait):
            return _ingest(lib, batches, prune, progress)
    except BaseException:
        lib._index = None  # it may hold changes the database rolled back: reload it on next use
        raise


def _ingest(lib: Library, batches: list[Batch], prune: bool, progress: bool) -> IngestReport:
    started = time.perf_counter()
    store = lib.store
    report = IngestReport(files=len(batches))
    for batch in batches:  # files as they were last ingested: their items stand as they are
        if batch.unchanged:
            report.unchanged += len(store.items_of_origin(batch.origin))
    batches = [b for b in batches if not b.unchanged]

    # 1. Topics and prerequisites: resolve names to ids, new topics join, the graph stays acyclic.
    lookup = store.topic_names()
    stored_topics = {t["id"]: t for t in store.topics()}
    existing_ids = set(stored_topics)
    new_topics: dict[str, list[Topic]] = {}  # topics to write: new, or declared anew and changed
    stated: dict[str, set[str]] = {}  # origin -> topics whose prerequisites that file states
    for batch in batches:
        for topic in batch.topics:
            known = lookup.get(normalise_name(topic.name)) or lookup.get(normalise_name(topic.id.replace("-", " ")))
            declares = bool(topic.description or topic.aliases or topic.minutes)
            if batch.states_prereqs and declares and known in (None, topic.id):
                stated.setdefault(batch.origin, set()).add(topic.id)
            if known and not (declares and known == topic.id):
                continue
            if topic.id in existing_ids and not declares:
                continue
            if _same_topic(stored_topics.get(topic.id), topic):
                continue
            new_topics.setdefault(batch.origin, []).append(topic)
            for name in [topic.name, topic.id.replace("-", " "), *topic.aliases]:
                lookup.setdefault(normalise_name(name), topic.id)
            lookup[normalise_name(topic.name)] = topic.id
    report.topics_new = sum(1 for ts in new_topics.values() for t in ts if t.id not in existing_ids)

    def resolve(ref: str, what: str) -> str:
        tid = lookup.get(normalise_name(ref)) or (ref if ref in existing_ids else None)
        if tid is None:
            close = _close_names(ref, lookup)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownTopicError(
                f"{what} names unknown topic {ref!r}{hint}; add it to your topics file or fix the name", close)
        return tid

    prereq_rows = []
    for batch in batches:
        name = Path(batch.origin).name
        for p in batch.prereqs:
            src, dst = resolve(p.src, f"{name}: a prerequisite"), resolve(p.dst, f"{name}: a prerequisite")
            if src == dst:
                raise InputError(f"{name}: topic {p.dst!r} is listed as its own prerequisite; remove that line")
            prereq_rows.append({"src": src, "dst": dst, "kind": "prereq", "source": p.source,
                                "confidence": p.confidence, "reason": p.reason})
    report.prereqs = len(prereq_rows)
    topics_after = dict(stored_topics)
    for ts in new_topics.values():
        for t in ts:
            topics_after[t.id] = {"id": t.id, "name": t.name}
    g = graphs.build(topics_after.values(), store.edges("prereq") + prereq_rows)
    graphs.require_acyclic(g)

    # 2. Items: resolve topics, merge repeats within the sources, find what changed.
    items: dict[str, tuple[Item, str, list[str]]] = {}
    for batch in batches:
        name = Path(batch.origin).name
        for item in batch.items:
            topic_ids = list(dict.fromkeys(resolve(t, f"{name}: item {item.title[:60]!r}") for t in item.topics))
            if item.id in items:
                first, origin, ids = items[item.id]
                ids.extend(t for t in topic_ids if t not in ids)
                report.merged += 1
                continue
            items[item.id] = (item, batch.origin, topic_ids)
    for item, _, ids in items.values():  # merged topics are part of the content
        item.topics = list(ids)
    stored = store.item_hashes()
    hashes = {iid: item.content_hash for iid, (item, _, _) in items.items()}  # computed once
    changed = [iid for iid in items if stored.get(iid, (None, None, None))[1] != hashes[iid]]
    changed_set = set(changed)
    moved = [(origin, stored[iid][0]) for iid, (item, origin, _) in items.items()
             if iid in stored and iid not in changed_set and stored[iid][2] != origin]
    report.unchanged += len(items) - len(changed)
    have_vector = {r[0]: r[1] for r in store.db.execute("SELECT num, content_hash FROM vectors").fetchall()}
    to_embed = [iid for iid in items
                if iid in changed_set or (stored.get(iid) and have_vector.get(stored[iid][0]) != hashes[iid])]

    # 3. Embed what changed (the slow part; everything above is cheap).
    vectors = np.zeros((0, lib.dim or 0), dtype=np.float32)
    if to_embed:
        # Identical texts get identical vectors: encode each distinct text once (TutorialBank
        # lists 23% of its titles more than once, with different links).
        texts = [items[i][0].embed_text() for i in to_embed]
        distinct = list(dict.fromkeys(texts))
        position = {text: n for n, text in enumerate(distinct)}
        encoded = lib.embedder().encode(distinct, progress=progress)
        vectors = encoded[[position[t] for t in texts]]
    report.embedded = len(to_embed)

    # 4. Infer topics for items that came without any.
    inferred: dict[str, list[tuple[str, float]]] = {}
    # Items with no topics, or only bare ones (a heading or a column value with no description
    # and no place in the prerequisite graph), are also tagged to the nearest described topics.
    bare = {t.id for ts in new_topics.values() for t in ts
            if not t.description and not g.in_degree(t.id) and not g.out_degree(t.id)}
    untagged = [i for i in to_embed if all(t in bare for t in items[i][2])]
    if untagged and len(topics_after) > len(bare):
        inferred = _infer_topics(lib, new_topics, untagged, to_embed, vectors, exclude=bare)
        report.inferred_tags = sum(1 for v in inferred.values() if v)

    # 5. Write everything in one transaction, then the index.
    index = lib.index
    origins = {b.origin for b in batches}
    gone = {iid: num for origin in (origins if prune else ()) for iid, num in store.items_of_origin(origin).items()
            if iid not in items}
    # A topics file states all curated prerequisites of its topics, except those a curator
    # accepted with `graph accept`: the ones it no longer lists are dropped.
    stated_ids = sorted(set().union(*stated.values())) if stated else []
    dropped = [tuple(r) for start in range(0, len(stated_ids), 500) for r in store.db.execute(
        f"SELECT src, dst FROM edges WHERE kind = 'prereq' AND source = 'curated' AND dst IN "
        f"({', '.join('?' * len(stated_ids[start:start + 500]))}) AND NOT EXISTS (SELECT 1 FROM decisions d WHERE "
        "d.src = edges.src AND d.dst = edges.dst AND d.decision = 'accepted')", stated_ids[start:start + 500]).fetchall()]
    dropped = [e for e in dropped if e not in {(r["src"], r["dst"]) for r in prereq_rows}]
    current = {(e["src"], e["dst"]): (e["source"], e["reason"]) for e in store.edges("prereq")}
    prereqs_written = [r for r in prereq_rows if current.get((r["src"], r["dst"])) != (r["source"], r["reason"])]
    if not (changed or to_embed or moved or gone or new_topics or dropped or prereqs_written):
        with store.transaction():  # nothing to write but which files were read
            store.record_sources(batches)
        report.seconds = time.perf_counter() - started
        return report

    with store.transaction():
        for origin, ts in new_topics.items():
            store.upsert_topics(ts, origin)
        store.db.conn.executemany("DELETE FROM edges WHERE kind = 'prereq' AND src = ? AND dst = ?", dropped)
        store.add_edges(prereqs_written)
        nums: dict[str, int] = {}
        about = []
        for iid in changed:
            item, origin, topic_ids = items[iid]
            num = store.upsert_item(item, origin, stored.get(iid, (None,))[0], hashes[iid])
            nums[iid] = num
            if iid in stored:
                store.db.execute("DELETE FROM edges WHERE src = ? AND kind IN ('about', 'next')", [iid])
            about += [{"src": iid, "dst": t, "kind": "about", "source": "curated", "confidence": 1.0} for t in topic_ids]
            about += [{"src": iid, "dst": t, "kind": "about", "source": "inferred", "confidence": round(s, 4),
                       "reason": f"similar to the topic (score {s:.2f})"} for t, s in inferred.get(iid, [])]
        store.add_edges(about)
        store.db.conn.executemany("UPDATE items SET origin = ? WHERE num = ?", moved)
        if changed:
            report.updated = sum(1 for i in changed if i in stored)
            report.new = len(changed) - report.updated
        emb_nums = [nums.get(i) or stored[i][0] for i in to_embed]
        if to_embed:
            store.put_vectors(emb_nums, [hashes[i] for i in to_embed], vectors)
        removed_nums = list(gone.values())
        store.delete_items(removed_nums)
        report.removed = len(removed_nums)
        _series_edges(store, [items[i][0] for i in changed])
        index.remove(removed_nums + emb_nums)
        index.add(np.asarray(emb_nums, dtype=np.int64), vectors)
        report.duplicates = _similar_edges(store, index, to_embed, emb_nums, vectors, renewed=set(stored))
        store.record_sources(batches)
        generation = int(store.get_meta("generation", "0")) + 1
        store.set_meta("generation", generation)
    lib.invalidate()
    try:
        lib.save_index(index)
    except OSError as exc:
        raise LibraryError(
            f"the items were stored, but writing the vector index failed ({exc.strerror or exc}); "
            "the next command rebuilds it from the stored vectors (or run `aidlgraph check --repair`)") from None
    if new_topics or report.embedded:
        lib.topic_vectors()  # store new topics' vectors now, so read commands never embed them
    report.seconds = time.perf_counter() - started
    return report


def same_resource(url_a: str | None, url_b: str | None) -> bool:
    """Two near-identical items are the same resource unless both have different links
    (e.g. lecture slides titled "PCA" from two courses)."""
    a, b = (url_a or "").strip().rstrip("/"), (url_b or "").strip().rstrip("/")
    return not (a and b and a.split("://")[-1].lower() != b.split("://")[-1].lower())


def _same_topic(row: dict | None, topic: Topic) -> bool:
    return row is not None and (row["name"], row["aliases"], row["description"] or "", row["minutes"]) == (
        topic.name, topic.aliases, topic.description, topic.minutes)


def _close_names(ref: str, lookup: dict[str, str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(normalise_name(ref), list(lookup), n=3, cutoff=0.75)


def _infer_topics(lib: Library, new_topics: dict[str, list[Topic]], untagged: list[str], to_embed: list[str],
                  vectors: np.ndarray, exclude: set[str] = frozenset()) -> dict[str, list[tuple[str, float]]]:
    """Tag items to the nearest topics by embedding similarity (provenance ``inferred``)."""
    from .library import topic_text

    ids, matrix = lib.topic_vectors()
    keep = [n for n, t in enumerate(ids) if t not in exclude]
    ids, matrix = [ids[n] for n in keep], matrix[keep] if len(matrix) else matrix
    extra = [t for ts in new_topics.values() for t in ts if t.id not in set(ids) and t.id not in exclude]
    if extra:
        fresh = lib.embedder().encode([topic_text({"name": t.name, "aliases": t.aliases, "description": t.description}) for t in extra])
        ids = ids + [t.id for t in extra]
        matrix = np.vstack([matrix, fresh]) if len(matrix) else fresh
    if not len(ids):
        return {}
    position = {iid: n for n, iid in enumerate(to_embed)}
    scores = vectors[[position[i] for i in untagged]] @ matrix.T
    out: dict[str, list[tuple[str, float]]] = {}
    for row, iid in zip(scores, untagged):
        order = np.argsort(-row)[:INFER_MAX]
        best = float(row[order[0]])
        out[iid] = [(ids[j], float(row[j])) for j in order
                    if row[j] >= INFER_MIN and row[j] >= best - INFER_MARGIN]
    return out


def _series_edges(store, items: list[Item]) -> None:
    """``next`` edges between consecutive parts of each series touched by this ingest."""
    series = {(i.source, i.series) for i in items if i.series}
    for source, name in series:
        rows = store.db.execute(
            "SELECT id FROM items WHERE source = ? AND series = ? ORDER BY coalesce(position, 0), num", [source, name]).fetchall()
        ids = [r[0] for r in rows]
        store.db.execute(
            f"DELETE FROM edges WHERE kind = 'next' AND src IN ({', '.join('?' * len(ids))})", ids)
        store.add_edges({"src": a, "dst": b, "kind": "next", "source": "series", "confidence": 1.0,
                         "reason": f"next in series {name!r}"} for a, b in zip(ids, ids[1:]))


def _similar_edges(store, index, item_ids: list[str], nums: list[int], vectors: np.ndarray,
                   renewed: set[str] = frozenset()) -> list[tuple[str, str, float]]:
    """Link each (re-)embedded item to its nearest neighbours; return likely duplicates."""
    if not len(nums):
        return []
    scores, hits = index.search(vectors, SIMILAR_K + 1)
    keep = (hits >= 0) & (hits != np.asarray(nums, dtype=np.int64)[:, None]) & (scores >= SIMILAR_MIN)
    pairs = list(zip(np.nonzero(keep)[0].tolist(), hits[keep].tolist(), scores[keep].tolist()))
    wanted = sorted({hit for _, hit, _ in pairs} | {int(n) for n in nums})
    id_of, urls = {}, {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for n, i, u in store.db.execute(
                f"SELECT num, id, url FROM items WHERE num IN ({', '.join('?' * len(chunk))})", chunk).fetchall():
            id_of[n], urls[n] = i, u
    # only items stored before this ingest can have similar-edges to replace
    store.db.conn.executemany("DELETE FROM edges WHERE src = ? AND kind = 'similar'",
                              [(iid,) for iid in item_ids if iid in renewed])
    rows, dupes, seen = [], [], set()
    for row, hit, score in pairs:
        if hit not in id_of:
            continue
        iid, other = item_ids[row], id_of[hit]
        rows.append({"src": iid, "dst": other, "kind": "similar", "source": "inferred",
                     "confidence": round(score, 4), "reason": ""})
        if score >= DUPLICATE_MIN and (other, iid) not in seen and same_resource(urls.get(int(nums[row])), urls.get(hit)):
            seen.add((iid, other))
            dupes.append((iid, other, score))
    store.add_edges(rows)
    return dupes
