"""Library health: verify that the database, the vectors and the FAISS index agree, and repair
what can be repaired (the index is rebuilt from stored vectors, never by re-embedding, unless an
item has no vector at all).

``verify`` repairs on its own only what every command repairs on open: a FAISS index that is
stale, damaged or missing (after a crash between an ingest's commit and its index write) is
rebuilt from the stored vectors, as ``Library.index`` does, and the rebuild is reported in
``notes``, not as a problem; so is a temporary file left by an interrupted index write. What
needs a decision or the model (dangling edges, orphan or missing vectors) waits for ``repair``."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from .. import graph as graphs
from ..config import settings
from ..corpus.model import embed_text
from ..errors import LibraryError
from ..index import VectorIndex, kind_for, read_stamp, sound_rows
from ..library import DB_NAME, INDEX_NAME, Library, database_error, write_lock
from ..store import migrations

RECALL_MIN = 0.95  # an approximate index must find this share of the exact top 10


def verify(lib: Library) -> dict:
    """A report of every problem found; ``ok`` is true when there are none."""
    store = lib.store
    problems: list[str] = []
    notes: list[str] = []
    damage = store.quick_check(5)
    if damage != ["ok"]:
        raise database_error(lib.path, sqlite3.DatabaseError("; ".join(damage)[:150] or "malformed"))
    version = store.schema_version()
    if version != len(migrations.MIGRATIONS):
        problems.append(f"schema version {version}, expected {len(migrations.MIGRATIONS)}")
    if not store.get_meta("model"):
        problems.append("the library does not record its model")
    elif settings().model != lib.model:
        problems.append(f"the library was built with model {lib.model!r} but AIDLGRAPH_MODEL is "
                        f"{settings().model!r}; unset it or use a library built with that model")
    items = store.item_total()
    missing = store.count_stale_vectors()
    orphans = store.count_orphan_vectors()
    if missing:
        problems.append(f"{missing} items have no vector or a stale one")
    if orphans:
        problems.append(f"{orphans} vectors belong to no item")
    dim = lib.dim
    bad_dim = 0
    if dim:
        bad_dim = store.count_vectors_not_of_dim(dim)
        if bad_dim:
            problems.append(f"{bad_dim} vectors do not have {dim} dimensions")
    damaged = _report_damage(lib, problems)
    index_state, index_kind = "missing", None
    path = lib.path / INDEX_NAME
    if path.exists() and dim:
        index_state, index_kind, low_recall = _index_state(lib, path, dim, bad_dim)
        if low_recall:
            problems.append(low_recall)
    elif not dim and items == 0:
        index_state = "ok"
    if index_state != "ok" and dim and not bad_dim:
        # What any command does on open: rebuild from the stored vectors, saved unless a writer is active.
        rebuilt = lib.rebuild_index(save=not lib.readonly, locked=False)
        notes.append(f"the FAISS index was {index_state}; rebuilt it from {rebuilt.size} stored vectors (no re-embedding)")
        index_state, index_kind = "ok (rebuilt)", rebuilt.describe()
    elif index_state != "ok":
        problems.append(f"FAISS index {index_state}")
    dangling = store.count_dangling_edges()
    if dangling:
        problems.append(f"{dangling} edges point at missing items or topics")
    cycle = graphs.find_cycle(lib.graph)
    if cycle:
        problems.append("prerequisite cycle: " + " -> ".join(lib.graph.nodes[n]["name"] for n in cycle))
    fts = store.fts_consistent()
    if fts is None:
        notes.append("the full-text index was not checked: the library is read-only here")
    elif not fts:
        problems.append("the full-text index disagrees with the items")
    leftovers = [*lib.path.glob(".vectors-*.tmp"), *lib.path.glob(".stamp-*.tmp")]
    if leftovers:
        # Harmless; removed under the write lock (they may be a running writer's own).
        with contextlib.suppress(LibraryError, OSError), write_lock(lib.path):
            for tmp in leftovers:
                tmp.unlink(missing_ok=True)
        gone = sum(1 for tmp in leftovers if not tmp.exists())
        notes.append(f"{len(leftovers)} temporary files left by an interrupted index write"
                     + (f"; removed {gone}" if gone else "; a writer is active, so they were kept"))
    return {"ok": not problems, "problems": problems, "notes": notes, "items": items, "vectors_missing": missing,
            "vector_orphans": orphans, "vectors_damaged": [d["id"] for d in damaged["items"]],
            "topic_vectors_damaged": [d["id"] for d in damaged["topics"]], "index": index_state, "index_kind": index_kind, "dangling_edges": dangling,
            "cycle": bool(cycle), "schema_version": version, "model": lib.model, "dim": dim}


def damaged_vectors(lib: Library) -> dict[str, list[dict]]:
    """The stored vectors that are not finite unit vectors (``index.sound_rows``): a byte flipped
    inside a blob, which SQLite's own checks cannot see. ``items``: [{num, id, title}], ``topics``:
    [{id, title}] (topic vectors of the library's model), ``unsound``: how many stored vectors are
    damaged, orphans (of no item) included."""
    store, dim = lib.store, lib.dim
    items: list[dict] = []
    bad: list[int] = []
    if dim:
        ids, vectors = store.vectors(dim=dim)
        bad = [int(n) for n in ids[~sound_rows(vectors)]]
        items = [{"num": r["num"], "id": r["id"], "title": r["title"]} for r in store.items_to_embed(bad)]
    names = {t["id"]: t["name"] for t in store.topics()}
    topics = [{"id": tid, "title": names.get(tid, tid)} for tid, (_, vector) in sorted(store.topic_vectors(lib.model).items())
              if (dim and len(vector) != dim) or not sound_rows(vector[None, :])[0]]
    return {"items": items, "topics": topics, "unsound": len(bad)}


def _report_damage(lib: Library, problems: list[str]) -> dict[str, list[dict]]:
    """``damaged_vectors``, with a problem line for each kind found."""
    damaged = damaged_vectors(lib)
    if damaged["unsound"]:  # reported here (as damaged or orphan vectors), not as a warning too
        lib.warnings.append(lib.damage_warning(damaged["unsound"]))
    if damaged["items"]:
        problems.append(f"{len(damaged['items'])} stored item vectors are damaged (not finite or not unit length): "
                        f"{_names(damaged['items'])}")
    if damaged["topics"]:
        problems.append(f"{len(damaged['topics'])} stored topic vectors are damaged: {_names(damaged['topics'])}")
    return damaged


def _names(rows: list[dict], most: int = 5) -> str:
    shown = ", ".join(f"{r['id']} {r['title'][:50]!r}" for r in rows[:most])
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def _index_state(lib: Library, path: Path, dim: int, bad_dim: int) -> tuple[str, dict | None, str | None]:
    """(state of the index file, what it is, a problem with its recall or None). The state is "ok"
    when it holds exactly the stored vectors under their ids, for the current generation, and is
    the kind (exact or approximate) and has the parameters its stamp records; an approximate index
    must also find RECALL_MIN of the exact top 10 for sampled items."""
    stamp = read_stamp(path)
    recorded = stamp.get("index") or {"kind": "flat"}
    try:
        index = VectorIndex.load(path, dim, params=recorded)
    except LibraryError:
        return "unreadable (a damaged or truncated file)", None, None
    stored_ids, stored_vectors = lib.vectors()  # the sound ones: the index never holds the others
    stored = {int(n) for n in stored_ids}
    held_ids, held_vectors = index.items()
    in_index = {int(n) for n in held_ids}
    described = index.describe()
    if in_index != stored:
        return f"disagrees with the database ({len(in_index ^ stored)} ids differ)", described, None
    if not bad_dim and not _same_vectors(held_ids, held_vectors, stored_ids, stored_vectors):
        return "disagrees with the database (vectors differ)", described, None
    if stamp.get("generation") != lib.store.generation or stamp.get("library") != lib.library_id:
        return "stale (written for another generation)", described, None
    if any(recorded.get(key) != described.get(key) for key in ("kind", "nlist", "nprobe")):
        return "not what its stamp records (kind or parameters differ)", described, None
    if index.kind != kind_for(index.size, index.kind):
        return (f"{'exact' if index.kind == 'flat' else 'approximate'} for {index.size} vectors, where the "
                f"library uses the other kind (approximate from {described['approximate_from']})"), described, None
    if index.kind == "ivf" and len(stored_ids):
        recall = index.recall(stored_ids, stored_vectors)
        described["recall_at_10_checked"] = round(recall, 4)
        if recall < RECALL_MIN:
            return "ok", described, (f"the approximate index finds {recall:.2f} of the exact top 10 (below {RECALL_MIN}); "
                                     "run `aidlgraph check --repair` to rebuild it")
    return "ok", described, None


def _same_vectors(held_ids, held_vectors, ids, vectors, tolerance: float = 1e-5) -> bool:
    """True when the index holds exactly these vectors under these ids."""
    import numpy as np

    if len(held_ids) != len(ids):
        return False
    if not len(ids):
        return True
    return bool(np.allclose(held_vectors[np.argsort(held_ids)], vectors[np.argsort(ids)], atol=tolerance))


def repair(lib: Library, progress: bool = False) -> list[str]:
    """Fix what ``verify`` finds; return what was done. Holds the write lock throughout."""
    done: list[str] = []
    store = lib.store
    with lib.writing():
        store.upgrade()
        with store.transaction():
            n = store.delete_orphan_vectors()
            if n:
                done.append(f"removed {n} orphan vectors")
            n = store.delete_dangling_edges()
            if n:
                done.append(f"removed {n} dangling edges")
        if not store.fts_consistent():
            with store.transaction():
                store.rebuild_fts()
            done.append("rebuilt the full-text index")
        stale = store.items_needing_vectors()
        if stale:
            vectors = lib.embedder.encode([embed_text(r["title"], r["text"]) for r in stale], progress=progress)
            with store.transaction():
                store.put_vectors([r["num"] for r in stale], [r["content_hash"] for r in stale], vectors)
            done.append(f"embedded {len(stale)} items that had no current vector")
        damaged = damaged_vectors(lib)
        if damaged["items"]:
            rows = store.items_to_embed([d["num"] for d in damaged["items"]])
            vectors = lib.embedder.encode([embed_text(r["title"], r["text"]) for r in rows], progress=progress)
            with store.transaction():
                store.put_vectors([r["num"] for r in rows], [r["content_hash"] for r in rows], vectors)
            done.append(f"re-embedded {len(rows)} items whose stored vectors were damaged: {_names(rows, 20)}")
        if damaged["topics"]:
            lib.invalidate()
            lib.topic_vectors()  # damaged topic vectors count as stale: embedded again and stored
            done.append(f"re-embedded {len(damaged['topics'])} damaged topic vectors: {_names(damaged['topics'], 20)}")
        with store.transaction():
            pass  # a new generation: every reader reloads what it derived from the library
        lib.rebuild_index(save=True)
        done.append(f"rebuilt the FAISS index from {lib.index.size} stored vectors")
        for tmp in list(lib.path.glob(".vectors-*.tmp")) + list(lib.path.glob(".stamp-*.tmp")):
            with contextlib.suppress(OSError):
                tmp.unlink()
                done.append(f"removed leftover {tmp.name}")
    return done


def open_for_check(path: Path) -> Library:
    """Open a library for checking, turning an unreadable database into one clear error."""
    db = Path(path) / DB_NAME
    if not db.exists():
        raise LibraryError(f"{path}: no library here; run `aidlgraph init` to create one")
    try:
        return Library.open(path)
    except LibraryError:
        raise
    except sqlite3.DatabaseError as exc:
        raise LibraryError(
            f"{db}: the database is damaged ({exc}); move it away and rebuild with "
            "`aidlgraph init --force`, then re-ingest your sources") from None


__all__ = ["verify", "repair", "open_for_check"]
