"""Numbered schema migrations, applied in order and recorded in the database.

Never edit an applied migration: add the next one. Each function does one change.
"""
from __future__ import annotations

from typing import Callable

import sqlite_utils

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = []


def migration(fn: Callable[[sqlite_utils.Database], None]) -> Callable[[sqlite_utils.Database], None]:
    MIGRATIONS.append(fn)
    return fn


def apply(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        # One transaction per migration, taken before re-checking: the connection is in autocommit
        # mode (where `with conn:` commits nothing as a whole), and two processes opening an old
        # library at once must not both apply it, nor a kill leave half of one behind.
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            if not db.execute("SELECT 1 FROM _migrations WHERE name = ?", [fn.__name__]).fetchone():
                fn(db)
                db.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", [fn.__name__])
                applied.append(fn.__name__)
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
    return applied


def version(db: sqlite_utils.Database) -> int:
    if "_migrations" not in db.table_names():
        return 0
    return db.execute("SELECT count(*) FROM _migrations").fetchone()[0]


@migration
def m001_initial(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["items"].create(
        {
            "num": int, "id": str, "kind": str, "title": str, "url": str, "text": str,
            "source": str, "origin": str, "date": str, "authors": str, "series": str,
            "position": int, "free": int, "core": int, "minutes": float, "extra": str,
            "content_hash": str, "added": str,
        },
        pk="num",
    )
    db["items"].create_index(["id"], unique=True)
    db["items"].create_index(["origin"])
    db["items"].create_index(["kind"])
    db["topics"].create(
        {"id": str, "name": str, "aliases": str, "description": str, "minutes": float, "origin": str},
        pk="id",
    )
    db["edges"].create(
        {"src": str, "dst": str, "kind": str, "source": str, "confidence": float, "reason": str},
        pk=("src", "dst", "kind"),
    )
    db["edges"].create_index(["dst", "kind"])
    db["edges"].create_index(["kind"])
    db["vectors"].create({"num": int, "content_hash": str, "vector": bytes}, pk="num",
                         foreign_keys=[("num", "items", "num")])
    db["items"].enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True,
                           tokenize="porter")


@migration
def m002_decisions(db: sqlite_utils.Database) -> None:
    # A curator's accept/reject of a suggested prerequisite edge; rejected edges are never
    # proposed again.
    db["decisions"].create(
        {"src": str, "dst": str, "decision": str, "decided": str, "note": str}, pk=("src", "dst")
    )


@migration
def m003_query_cache(db: sqlite_utils.Database) -> None:
    # Query embeddings keyed by model and text, so a repeated query needs no model at all.
    db["query_cache"].create({"model": str, "text": str, "vector": bytes, "used": str},
                             pk=("model", "text"))


@migration
def m004_topic_vectors(db: sqlite_utils.Database) -> None:
    # Topic embeddings (name, aliases, description), for tagging new items and resolving queries.
    db["topic_vectors"].create({"id": str, "model": str, "content_hash": str, "vector": bytes}, pk="id")


@migration
def m005_sources(db: sqlite_utils.Database) -> None:
    # The digest of each ingested file and how many items it gave, so an unchanged file is
    # not even parsed when it is ingested again.
    db["sources"].create({"origin": str, "digest": str, "items": int, "ingested": str}, pk="origin")


@migration
def m006_medium_and_level(db: sqlite_utils.Database) -> None:
    # What a resource is (article, course, paper, ...) and for whom (beginner, advanced): what a
    # learner's path orders its readings by.
    db.execute("ALTER TABLE items ADD COLUMN medium TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE items ADD COLUMN level TEXT NOT NULL DEFAULT ''")


@migration
def m007_passages(db: sqlite_utils.Database) -> None:
    # The passages an answer can quote (sentences of an item's text), with their own vectors and
    # full-text index, so `ask` states what the archive says instead of listing whole items. A
    # NULL vector means the passage is the whole item: its vector is the item's.
    db["passages"].create({"num": int, "item_num": int, "position": int, "text": str, "vector": bytes}, pk="num")
    db["passages"].create_index(["item_num", "position"], unique=True)
    db["passages"].enable_fts(["text"], fts_version="FTS5", create_triggers=True, tokenize="porter")
