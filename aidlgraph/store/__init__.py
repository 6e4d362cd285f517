"""The library's truth: SQLite (via sqlite-utils) holding items, topics, edges, vectors and FTS.

The store knows nothing about models or FAISS; it stores what it is given and answers queries.
Writes happen inside one transaction (``with store.transaction():``), so a failed ingest leaves
the database as it was.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import sqlite_utils

from . import migrations
from .corpus import Item, Topic, normalise_name
from .errors import LibraryError

PROVENANCE = {"curated": 3, "imported": 2, "series": 1, "inferred": 0}


class Store:
    """One ``library.db``. Write paths use plain SQL, never sqlite-utils' insert helpers, which
    commit on their own."""

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            else:
                conn = sqlite3.connect(str(self.path), check_same_thread=False)
            # Autocommit mode: transactions are explicit (see transaction()), because
            # sqlite-utils' own `with conn:` blocks would otherwise commit half an ingest.
            conn.isolation_level = None
            conn.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                migrations.apply(self.db)
            elif migrations.version(self.db) < len(migrations.MIGRATIONS):
                raise LibraryError(f"{self.path}: the library's schema is older than this aidlgraph; run any write command (e.g. `aidlgraph check --repair`) to upgrade it")
        except sqlite3.DatabaseError as exc:
            # `check --repair` cannot help here: it needs a database it can open.
            raise LibraryError(
                f"{self.path}: not a readable library database ({exc}); restore it from a backup, or move it "
                f"away and rebuild with `aidlgraph --library {self.path.parent} init --force`, then re-ingest your sources"
            ) from None

    # -- plumbing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: BEGIN IMMEDIATE takes the write lock up front."""
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        self.db.conn.close()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, str(value)])

    def schema_version(self) -> int:
        return migrations.version(self.db)

    # -- topics -----------------------------------------------------------------------------
    def topics(self) -> list[dict]:
        rows = self.db.execute("SELECT id, name, aliases, description, minutes, origin FROM topics ORDER BY name").fetchall()
        return [
            {"id": r[0], "name": r[1], "aliases": json.loads(r[2] or "[]"), "description": r[3] or "",
             "minutes": r[4], "origin": r[5] or ""}
            for r in rows
        ]

    def topic(self, topic_id: str) -> dict | None:
        for t in self.db.query("SELECT * FROM topics WHERE id = ?", [topic_id]):
            t["aliases"] = json.loads(t["aliases"] or "[]")
            return t
        return None

    def topic_names(self) -> dict[str, str]:
        """Normalised name or alias -> topic id (names win over aliases)."""
        lookup: dict[str, str] = {}
        rows = self.db.execute("SELECT id, name, aliases FROM topics").fetchall()
        for tid, name, aliases in rows:
            for alias in json.loads(aliases or "[]"):
                lookup.setdefault(normalise_name(alias), tid)
        for tid, name, _ in rows:
            lookup[normalise_name(name)] = tid
            lookup[normalise_name(tid.replace("-", " "))] = tid
        return lookup

    def upsert_topics(self, topics: Iterable[Topic], origin: str) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO topics (id, name, aliases, description, minutes, origin) VALUES (?, ?, ?, ?, ?, ?)",
            ((t.id, t.name, json.dumps(t.aliases), t.description, t.minutes, origin) for t in topics),
        )

    def add_edges(self, rows: Iterable[dict], replace: bool = True) -> None:
        """Insert edges. An edge never replaces one of stronger provenance on the same pair:
        curated beats imported beats series and inferred."""
        rows = list(rows)
        weak = [r for r in rows if r.get("source", "curated") != "curated"]
        if weak:
            existing: dict[tuple, str] = {}
            for kind in {r["kind"] for r in weak}:
                srcs = sorted({r["src"] for r in weak if r["kind"] == kind})
                for start in range(0, len(srcs), 500):
                    chunk = srcs[start:start + 500]
                    for src, dst, knd, source in self.db.execute(
                            f"SELECT src, dst, kind, source FROM edges WHERE kind = ? AND source IN ('curated', 'imported') "
                            f"AND src IN ({', '.join('?' * len(chunk))})", [kind, *chunk]).fetchall():
                        existing[(src, dst, knd)] = source
            rows = [r for r in rows if PROVENANCE.get(r.get("source", "curated"), 0)
                    >= PROVENANCE.get(existing.get((r["src"], r["dst"], r["kind"]), ""), 0)]
        if not rows:
            return
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.db.conn.executemany(
            f"{verb} INTO edges (src, dst, kind, source, confidence, reason) VALUES (?, ?, ?, ?, ?, ?)",
            ((r["src"], r["dst"], r["kind"], r.get("source", "curated"), r.get("confidence", 1.0), r.get("reason", ""))
             for r in rows),
        )

    def edges(self, kind: str | None = None) -> list[dict]:
        if kind:
            return list(self.db.query("SELECT * FROM edges WHERE kind = ?", [kind]))
        return list(self.db.query("SELECT * FROM edges"))

    def edges_of(self, node: str, kind: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM edges WHERE kind = ? AND (src = ? OR dst = ?)", [kind, node, node]))

    def item_hashes(self) -> dict[str, tuple[int, str, str]]:
        """item id -> (num, content_hash, origin) for every stored item."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.db.execute("SELECT id, num, content_hash, origin FROM items").fetchall()}

    def items_of_origin(self, origin: str) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, num FROM items WHERE origin = ?", [origin]).fetchall()}

    def upsert_item(self, item: Item, origin: str, num: int | None, content_hash: str | None = None) -> int:
        row = {
            "id": item.id, "kind": item.kind, "title": item.title, "url": item.url, "text": item.text,
            "source": item.source, "origin": origin, "date": item.date, "authors": json.dumps(item.authors),
            "series": item.series, "position": item.position,
            "free": None if item.free is None else int(item.free), "core": int(item.core),
            "minutes": item.minutes, "extra": json.dumps(item.extra, default=str),
            "content_hash": content_hash or item.content_hash,
        }
        if num is None:
            cur = self.db.execute(
                f"INSERT INTO items ({', '.join(row)}, added) VALUES ({', '.join('?' * len(row))}, datetime('now'))",
                list(row.values()))
            return cur.lastrowid
        sets = ", ".join(f"{k} = ?" for k in row)
        self.db.execute(f"UPDATE items SET {sets} WHERE num = ?", [*row.values(), num])
        return num

    def delete_items(self, nums: Iterable[int]) -> list[str]:
        ids = []
        for num in nums:
            row = self.db.execute("SELECT id FROM items WHERE num = ?", [num]).fetchone()
            if not row:
                continue
            ids.append(row[0])
            self.db.execute("DELETE FROM vectors WHERE num = ?", [num])
            self.db.execute("DELETE FROM edges WHERE src = ? OR (dst = ? AND kind IN ('next', 'similar'))", [row[0], row[0]])
            self.db.execute("DELETE FROM items WHERE num = ?", [num])
        return ids

    def item(self, item_id: str) -> dict | None:
        rows = self.items_where("i.id = ?", [item_id])
        return rows[0] if rows else None

    def items_by_num(self, nums: list[int]) -> dict[int, dict]:
        out: dict[int, dict] = {}
        for start in range(0, len(nums), 500):
            chunk = [int(n) for n in nums[start:start + 500]]
            for row in self.items_where(f"i.num IN ({', '.join('?' * len(chunk))})", chunk):
                out[row["num"]] = row
        return out

    def items_where(self, where: str = "1", args: list | None = None, limit: int | None = None) -> list[dict]:
        sql = (
            "SELECT i.*, (SELECT json_group_array(e.dst) FROM edges e WHERE e.src = i.id AND e.kind = 'about') AS topic_ids "
            f"FROM items i WHERE {where} ORDER BY i.source, coalesce(i.position, 0), i.num"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._item_row(r) for r in self.db.query(sql, args or [])]

    @staticmethod
    def _item_row(row: dict) -> dict:
        row["authors"] = json.loads(row.get("authors") or "[]")
        row["extra"] = json.loads(row.get("extra") or "{}")
        row["topics"] = json.loads(row.pop("topic_ids", None) or "[]")
        row["free"] = None if row.get("free") is None else bool(row["free"])
        row["core"] = bool(row.get("core"))
        return row

    def items_about(self, topic_ids: list[str]) -> dict[str, list[tuple[dict, dict]]]:
        """topic id -> [(item, about-edge)] for items tagged with those topics."""
        out: dict[str, list] = {t: [] for t in topic_ids}
        if not topic_ids:
            return out
        marks = ", ".join("?" * len(topic_ids))
        edges = list(self.db.query(f"SELECT * FROM edges WHERE kind = 'about' AND dst IN ({marks})", topic_ids))
        ids = sorted({e["src"] for e in edges})
        items = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in self.items_where(f"i.id IN ({', '.join('?' * len(chunk))})", chunk):
                items[row["id"]] = row
        for e in edges:
            if e["src"] in items:
                out[e["dst"]].append((items[e["src"]], e))
        return out

    def count_items(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind").fetchall()}

    def count_edges(self) -> dict[str, int]:
        counts = {"prereq": 0, "about": 0, "next": 0, "similar": 0}
        counts.update({r[0]: r[1] for r in self.db.execute("SELECT kind, count(*) FROM edges GROUP BY kind").fetchall()})
        return counts

    # -- vectors ----------------------------------------------------------------------------
    def put_vectors(self, nums: list[int], hashes: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO vectors (num, content_hash, vector) VALUES (?, ?, ?)",
            ((int(n), h, v.tobytes()) for n, h, v in zip(nums, hashes, vectors)),
        )

    def vectors(self, nums: list[int] | None = None, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(nums, matrix) of stored vectors, all of them or those of ``nums``."""
        if nums is None:
            rows = self.db.execute("SELECT num, vector FROM vectors ORDER BY num").fetchall()
        else:
            rows = []
            for start in range(0, len(nums), 500):
                chunk = [int(n) for n in nums[start:start + 500]]
                rows += self.db.execute(f"SELECT num, vector FROM vectors WHERE num IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, dim or 0), dtype=np.float32)
        return ids, np.vstack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    # -- full-text --------------------------------------------------------------------------
    def fts(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(num, bm25 score, higher is better) for items matching any of the query's words."""
        if not query:
            return []
        rows = self.db.execute(
            "SELECT rowid, -bm25(items_fts, 3.0, 1.0) AS score FROM items_fts WHERE items_fts MATCH ? "
            "ORDER BY bm25(items_fts, 3.0, 1.0) LIMIT ?",
            [query, limit],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def source_digests(self) -> dict[str, str]:
        """origin -> digest of the files whose items are all still stored as that ingest left them."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT s.origin, s.digest FROM sources s WHERE s.items = "
            "(SELECT count(*) FROM items i WHERE i.origin = s.origin)").fetchall()}

    def record_sources(self, batches) -> None:
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO sources (origin, digest, items, ingested) VALUES "
            "(?, ?, (SELECT count(*) FROM items WHERE origin = ?), datetime('now'))",
            [(b.origin, b.digest, b.origin) for b in batches if b.digest and not b.unchanged])

    def decisions(self) -> dict[tuple[str, str], str]:
        return {(r[0], r[1]): r[2] for r in self.db.execute("SELECT src, dst, decision FROM decisions").fetchall()}

    def decide(self, src: str, dst: str, decision: str, note: str = "") -> None:
        self.db.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, datetime('now'), ?)", [src, dst, decision, note])


def item_public(row: dict) -> dict:
    """The stable JSON shape of an item (DESIGN.md)."""
    return {"id": row["id"], "title": row["title"], "url": row.get("url") or "", "kind": row["kind"],
            "source": row.get("source") or "", "topics": row.get("topics", [])}


__all__ = ["Store", "item_public"]
