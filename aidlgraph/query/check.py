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

from . import config, migrations
from .errors import LibraryError
from .library import DB_NAME, INDEX_NAME, Library, database_error, write_lock


def verify(lib: Library) -> dict:
    """A report of every problem found; ``ok`` is true when there are none."""
    from . import graph as graphs
    from .index import VectorIndex, read_stamp

    db = lib.store.db
    problems: list[str] = []
    notes: list[str] = []
    damage = [r[0] for r in db.execute("PRAGMA quick_check(5)").fetchall()]
    if damage != ["ok"]:
        raise database_error(lib.path, sqlite3.DatabaseError("; ".join(damage)[:150] or "malformed"))
    version = migrations.version(db)
    if version != len(migrations.MIGRATIONS):
        problems.append(f"schema version {version}, expected {len(migrations.MIGRATIONS)}")
    if not lib.store.get_meta("model"):
        problems.append("the library does not record its model")
    elif config.model_name() != lib.model:
        problems.append(f"the library was built with model {lib.model!r} but AIDLGRAPH_MODEL is "
                        f"{config.model_name()!r}; unset it or use a library built with that model")
    items = db.execute("SELECT count(*) FROM items").fetchone()[0]
    missing = db.execute("SELECT count(*) FROM items i LEFT JOIN vectors v ON v.num = i.num "
                         "WHERE v.num IS NULL OR v.content_hash != i.content_hash").fetchone()[0]
    orphans = db.execute("SELECT count(*) FROM vectors v LEFT JOIN items i ON i.num = v.num WHERE i.num IS NULL").fetchone()[0]
    if missing:
        problems.append(f"{missing} items have no vector or a stale one")
    if orphans:
        problems.append(f"{orphans} vectors belong to no item")
    dim = lib.dim
    bad_dim = 0
    if dim:
        bad_dim = db.execute("SELECT count(*) FROM vectors WHERE length(vector) != ?", [dim * 4]).fetchone()[0]
        if bad_dim:
            problems.append(f"{bad_dim} vectors do not have {dim} dimensions")
    index_state = "missing"
    path = lib.path / INDEX_NAME
    if path.exists() and dim:
        try:
            index = VectorIndex.load(path, dim)
            stored_ids, stored_vectors = lib.store.vectors(dim=dim)
            stored = {int(n) for n in stored_ids}
            in_index = {int(n) for n in index.ids()}
            stamp = read_stamp(path)
            if in_index != stored:
                index_state = f"disagrees with the database ({len(in_index ^ stored)} ids differ)"
            elif not bad_dim and not _same_vectors(index, stored_ids, stored_vectors):
                index_state = "disagrees with the database (vectors differ)"
            elif stamp.get("generation") != lib.store.get_meta("generation", "0"):
                index_state = "stale (written for another generation)"
            else:
                index_state = "ok"
        except LibraryError:
            index_state = "unreadable (a damaged or truncated file)"
    elif not dim and items == 0:
        index_state = "ok"
    if index_state != "ok" and dim and not bad_dim:
        # What any command does on open: rebuild from the stored vectors, saved unless a writer is active.
        rebuilt = lib.rebuild_index(save=os.access(lib.path, os.W_OK), locked=False)
        notes.append(f"the FAISS index was {index_state}; rebuilt it from {rebuilt.size} stored vectors (no re-embedding)")
        index_state = "ok (rebuilt)"
    elif index_state != "ok":
        problems.append(f"FAISS index {index_state}")
    dangling = db.execute(
        "SELECT count(*) FROM edges e WHERE "
        "(e.kind = 'prereq' AND (e.src NOT IN (SELECT id FROM topics) OR e.dst NOT IN (SELECT id FROM topics))) OR "
        "(e.kind = 'about' AND (e.src NOT IN (SELECT id FROM items) OR e.dst NOT IN (SELECT id FROM topics))) OR "
        "(e.kind IN ('next', 'similar') AND (e.src NOT IN (SELECT id FROM items) OR e.dst NOT IN (SELECT id FROM items)))"
    ).fetchone()[0]
    if dangling:
        problems.append(f"{dangling} edges point at missing items or topics")
    cycle = graphs.find_cycle(lib.graph)
    if cycle:
        problems.append("prerequisite cycle: " + " -> ".join(lib.graph.nodes[n]["name"] for n in cycle))
    try:
        db.execute("INSERT INTO items_fts(items_fts) VALUES('integrity-check')")
    except sqlite3.DatabaseError:
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
            "vector_orphans": orphans, "index": index_state, "dangling_edges": dangling,
            "cycle": bool(cycle), "schema_version": version, "model": lib.model, "dim": dim}


def _same_vectors(index, ids, vectors, tolerance: float = 1e-5) -> bool:
    """True when the index holds exactly these vectors under these ids."""
    import faiss
    import numpy as np

    if index.size != len(ids):
        return False
    if not len(ids):
        return True
    try:
        flat = faiss.downcast_index(index.index.index)
        held = faiss.vector_to_array(flat.codes).view(np.float32).reshape(index.size, index.dim)
    except (AttributeError, ValueError, RuntimeError):  # not the IDMap2(FlatIP) this library writes
        return False
    order = np.argsort(index.ids())
    expected = vectors[np.argsort(ids)]
    return bool(np.allclose(held[order], expected, atol=tolerance))


def repair(lib: Library, progress: bool = False) -> list[str]:
    """Fix what ``verify`` finds; return what was done. Holds the write lock throughout."""
    done: list[str] = []
    with lib.writing():
        db = lib.store.db
        migrations.apply(db)
        with lib.store.transaction():
            n = db.execute("DELETE FROM vectors WHERE num NOT IN (SELECT num FROM items)").rowcount
            if n:
                done.append(f"removed {n} orphan vectors")
            n = db.execute(
                "DELETE FROM edges WHERE "
                "(kind = 'prereq' AND (src NOT IN (SELECT id FROM topics) OR dst NOT IN (SELECT id FROM topics))) OR "
                "(kind = 'about' AND (src NOT IN (SELECT id FROM items) OR dst NOT IN (SELECT id FROM topics))) OR "
                "(kind IN ('next', 'similar') AND (src NOT IN (SELECT id FROM items) OR dst NOT IN (SELECT id FROM items)))"
            ).rowcount
            if n:
                done.append(f"removed {n} dangling edges")
        try:
            db.execute("INSERT INTO items_fts(items_fts) VALUES('integrity-check')")
        except sqlite3.DatabaseError:
            db.execute("INSERT INTO items_fts(items_fts) VALUES('rebuild')")
            done.append("rebuilt the full-text index")
        stale = db.execute("SELECT i.num, i.title, i.text, i.content_hash FROM items i LEFT JOIN vectors v ON v.num = i.num "
                           "WHERE v.num IS NULL OR v.content_hash != i.content_hash").fetchall()
        if stale:
            model = lib.embedder()
            vectors = model.encode([f"{t}\n{x or ''}".strip() for _, t, x, _ in stale], progress=progress)
            with lib.store.transaction():
                lib.store.put_vectors([r[0] for r in stale], [r[3] for r in stale], vectors)
            done.append(f"embedded {len(stale)} items that had no current vector")
        with lib.store.transaction():
            lib.store.set_meta("generation", int(lib.store.get_meta("generation", "0")) + 1)
        lib._index = None
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
        return Library.open(path, build=False)
    except LibraryError:
        raise
    except sqlite3.DatabaseError as exc:
        raise LibraryError(
            f"{db}: the database is damaged ({exc}); move it away and rebuild with "
            "`aidlgraph init --force`, then re-ingest your sources") from None


__all__ = ["verify", "repair", "open_for_check"]
