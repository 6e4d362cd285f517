"""Library health: verify that the database, the vectors and the FAISS index agree, and repair
what can be repaired (the index is rebuilt from stored vectors, never by re-embedding, unless an
item has no vector at all)."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from . import migrations
from .errors import LibraryError
from .library import DB_NAME, INDEX_NAME, Library


def verify(lib: Library) -> dict:
    """A report of every problem found; ``ok`` is true when there are none."""
    from . import graph as graphs
    from .index import VectorIndex, read_stamp

    db = lib.store.db
    problems: list[str] = []
    version = migrations.version(db)
    if version != len(migrations.MIGRATIONS):
        problems.append(f"schema version {version}, expected {len(migrations.MIGRATIONS)}")
    if not lib.store.get_meta("model"):
        problems.append("the library does not record its model")
    items = db.execute("SELECT count(*) FROM items").fetchone()[0]
    missing = db.execute("SELECT count(*) FROM items i LEFT JOIN vectors v ON v.num = i.num "
                         "WHERE v.num IS NULL OR v.content_hash != i.content_hash").fetchone()[0]
    orphans = db.execute("SELECT count(*) FROM vectors v LEFT JOIN items i ON i.num = v.num WHERE i.num IS NULL").fetchone()[0]
    if missing:
        problems.append(f"{missing} items have no vector or a stale one")
    if orphans:
        problems.append(f"{orphans} vectors belong to no item")
    dim = lib.dim
    if dim:
        bad_dim = db.execute("SELECT count(*) FROM vectors WHERE length(vector) != ?", [dim * 4]).fetchone()[0]
        if bad_dim:
            problems.append(f"{bad_dim} vectors do not have {dim} dimensions")
    index_state = "missing"
    path = lib.path / INDEX_NAME
    if path.exists() and dim:
        try:
            index = VectorIndex.load(path, dim)
            stored = {int(r[0]) for r in db.execute("SELECT num FROM vectors").fetchall()}
            in_index = {int(n) for n in index.ids()}
            stamp = read_stamp(path)
            if in_index != stored:
                index_state = f"disagrees with the database ({len(in_index ^ stored)} ids differ)"
            elif stamp.get("generation") != lib.store.get_meta("generation", "0"):
                index_state = "stale (written for another generation)"
            else:
                index_state = "ok"
        except LibraryError as exc:
            index_state = f"unreadable ({exc})"
    elif not dim and items == 0:
        index_state = "ok"
    if index_state != "ok":
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
    leftovers = [p.name for p in lib.path.glob(".vectors-*.tmp")] + [p.name for p in lib.path.glob(".stamp-*.tmp")]
    if leftovers:
        problems.append(f"{len(leftovers)} temporary files left by an interrupted write")
    return {"ok": not problems, "problems": problems, "items": items, "vectors_missing": missing,
            "vector_orphans": orphans, "index": index_state, "dangling_edges": dangling,
            "cycle": bool(cycle), "schema_version": version, "model": lib.model, "dim": dim}


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


__all__ = ["verify", "repair", "open_for_check", "os"]
