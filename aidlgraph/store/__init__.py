"""The library's truth: SQLite (via sqlite-utils) holding items, topics, edges, vectors and FTS.

Every SQL statement of aidlgraph is in this package: the rest of the code asks the store for
rows and hands it rows to write. The store knows nothing about models or FAISS.

Writes happen inside one transaction (``with store.transaction():``), and every write
transaction adds one to the library's ``generation`` as it commits: readers (the server, the bot,
``ask``'s caches, the FAISS index stamp) ask only that number whether the library changed. The
connection runs in autocommit mode and writes use plain SQL, because sqlite-utils' helpers wrap
themselves in ``with conn:`` and would commit half an ingest.

Two small tables are caches, not library state, and are written outside transactions, without a
generation change, by read commands too: ``query_cache`` (query embeddings) and
``topic_vectors`` (topic embeddings, keyed by their text's hash).
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
from .rows import item_row, topic_row
from ..corpus.model import Item, Topic
from ..errors import DiskFullError, LibraryError, free_text, is_disk_full
from ..text import normalise_name

# How much an edge's source is trusted; an edge never replaces a stronger one on the same pair.
# "suggested": a prerequisite the suggester proposed for a topic an ingest created, standing until
# a curator accepts (it becomes curated) or rejects it (it is removed).
PROVENANCE = {"curated": 3, "imported": 2, "series": 1, "inferred": 0, "suggested": -1}
CHUNK = 500  # ids per IN (...) list: SQLite's default limit on bound parameters is 999

_DANGLING = (
    "(kind = 'prereq' AND (src NOT IN (SELECT id FROM topics) OR dst NOT IN (SELECT id FROM topics))) OR "
    "(kind = 'about' AND (src NOT IN (SELECT id FROM items) OR dst NOT IN (SELECT id FROM topics))) OR "
    "(kind IN ('next', 'similar') AND (src NOT IN (SELECT id FROM items) OR dst NOT IN (SELECT id FROM items)))"
)


def _decode(blob: bytes, dim: int | None) -> np.ndarray:
    """A stored vector; a blob of the wrong size (truncated, or of another model) comes back as a
    row of NaN, which the library's soundness check leaves out, rather than failing every read."""
    if dim and len(blob) == 4 * dim:
        return np.frombuffer(blob, dtype=np.float32)
    if not dim and len(blob) % 4 == 0:
        return np.frombuffer(blob, dtype=np.float32)
    return np.full(dim or 1, np.nan, dtype=np.float32)


def _marks(values) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Store:
    """One ``library.db``.

    ``readonly`` opens it without write access (``mode=ro``); ``immutable`` also tells SQLite
    that nobody can change it, which a read-only directory needs for a WAL database (no ``-shm``
    file can be made there)."""

    def __init__(self, path: Path, readonly: bool = False, immutable: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                flags = "mode=ro" + ("&immutable=1" if immutable else "")
                conn = sqlite3.connect(f"file:{self.path}?{flags}", uri=True, check_same_thread=False)
            else:
                conn = sqlite3.connect(str(self.path), check_same_thread=False)
            conn.isolation_level = None  # autocommit: transactions are explicit (see transaction())
            conn.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                migrations.apply(self.db)
            elif migrations.version(self.db) < len(migrations.MIGRATIONS):
                raise LibraryError(f"{self.path}: the library's schema is older than this aidlgraph and the library is "
                                   "read-only here; run `aidlgraph check --repair` with write access to upgrade it")
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc, self.path):
                # SQLite could not make its -shm/-wal files; Library.open reads the file as it is.
                raise DiskFullError(f"disk full: cannot open {self.path} for writing ({free_text(self.path)}); "
                                    "free space and re-run") from None
            # `check --repair` cannot help here: it needs a database it can open.
            raise LibraryError(
                f"{self.path}: not a readable library database ({exc}); restore it from a backup, or move it "
                f"away and rebuild with `aidlgraph --library {self.path.parent} init --force`, then re-ingest your sources"
            ) from None

    # -- plumbing ---------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def transaction(self, bump: bool = True) -> Iterator[None]:
        """All-or-nothing, and the library's generation moves on when it commits. BEGIN IMMEDIATE
        takes SQLite's write lock up front. ``bump=False`` is for bookkeeping that changes nothing
        a reader sees (which files an ingest read, when nothing in them changed)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            if bump:
                self.set_meta("generation", int(self.get_meta("generation", "0")) + 1)
            conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite may have rolled back already (a full disk does), and a failing ROLLBACK
            # ("cannot rollback - no transaction is active") must not hide why the write failed.
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and is_disk_full(exc, self.path):
                raise DiskFullError(f"disk full while writing {self.path} ({free_text(self.path)}); "
                                    "free space and re-run; nothing was changed") from None
            raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent read of several statements (a deferred transaction, read only)."""
        conn = self.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def set_busy_timeout(self, milliseconds: int) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (before the file is moved into place)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def quick_check(self, limit: int = 5) -> list[str]:
        return [r[0] for r in self.conn.execute(f"PRAGMA quick_check({int(limit)})").fetchall()]

    def upgrade(self) -> list[str]:
        return migrations.apply(self.db)

    def schema_version(self) -> int:
        return migrations.version(self.db)

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, str(value)])

    @property
    def generation(self) -> str:
        """How many write transactions the library has seen: the one "has it changed?" answer."""
        return self.get_meta("generation", "0") or "0"

    # -- topics -----------------------------------------------------------------------------
    def topics(self) -> list[dict]:
        rows = self.db.query("SELECT id, name, aliases, description, minutes, origin FROM topics ORDER BY name")
        return [topic_row(r) for r in rows]

    def topic(self, topic_id: str) -> dict | None:
        for row in self.db.query("SELECT * FROM topics WHERE id = ?", [topic_id]):
            return topic_row(row)
        return None

    def topic_names(self) -> dict[str, str]:
        """Normalised name or alias -> topic id (names win over aliases)."""
        lookup: dict[str, str] = {}
        rows = self.conn.execute("SELECT id, name, aliases FROM topics").fetchall()
        for tid, name, aliases in rows:
            for alias in json.loads(aliases or "[]"):
                lookup.setdefault(normalise_name(alias), tid)
        for tid, name, _ in rows:
            lookup[normalise_name(name)] = tid
            lookup[normalise_name(tid.replace("-", " "))] = tid
        return lookup

    def upsert_topics(self, topics: Iterable[Topic], origin: str) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO topics (id, name, aliases, description, minutes, origin) VALUES (?, ?, ?, ?, ?, ?)",
            ((t.id, t.name, json.dumps(t.aliases), t.description, t.minutes, origin) for t in topics),
        )

    def topics_with_items(self, topic_ids: Iterable[str], exclude_kinds: tuple[str, ...] = ("issue",)) -> set[str]:
        """Those of ``topic_ids`` that some item (not of ``exclude_kinds``) is about."""
        tids = sorted(set(topic_ids))
        out: set[str] = set()
        for chunk in _chunks(tids):
            rows = self.conn.execute(
                "SELECT DISTINCT e.dst FROM edges e JOIN items i ON i.id = e.src WHERE e.kind = 'about' "
                f"AND i.kind NOT IN ({_marks(exclude_kinds) or 'NULL'}) AND e.dst IN ({_marks(chunk)})",
                [*exclude_kinds, *chunk])
            out.update(r[0] for r in rows.fetchall())
        return out

    def item_counts_by_topic(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT dst, count(*) FROM edges WHERE kind = 'about' GROUP BY dst").fetchall())

    def topic_texts(self) -> list[tuple[str, str, str, str, str | None, int | None]]:
        """(topic id, title, text, source, series, position) of every item about each topic."""
        return self.conn.execute(
            "SELECT e.dst, i.title, i.text, i.source, i.series, i.position FROM edges e JOIN items i ON i.id = e.src "
            "WHERE e.kind = 'about'").fetchall()

    def topic_text_sample(self, per_topic: int) -> list[tuple[str, str, str, str, str | None, int | None]]:
        """As ``topic_texts``, but at most ``per_topic`` items per topic (the first stored): what
        scoring a new topic's prerequisites at ingest needs, at a cost bounded by the topics."""
        return self.conn.execute(
            "SELECT dst, title, text, source, series, position FROM (SELECT e.dst, i.title, i.text, i.source, "
            "i.series, i.position, row_number() OVER (PARTITION BY e.dst ORDER BY i.num) AS n FROM edges e "
            "JOIN items i ON i.id = e.src WHERE e.kind = 'about') WHERE n <= ?", [int(per_topic)]).fetchall()

    def curated_topics_of(self, nums: list[int]) -> dict[int, list[str]]:
        """item num -> the topics a curator or an import gave it (not those inferred by similarity):
        the labels an untagged item's neighbours vote with."""
        out: dict[int, list[str]] = {}
        for chunk in _chunks(sorted({int(n) for n in nums})):
            for num, dst in self.conn.execute(
                    # +e.kind: look the edges up by item (src), not by kind, which scans every tag
                    "SELECT i.num, e.dst FROM items i JOIN edges e ON e.src = i.id AND +e.kind = 'about' "
                    f"WHERE e.source IN ('curated', 'imported') AND i.num IN ({_marks(chunk)})", chunk).fetchall():
                out.setdefault(num, []).append(dst)
        return out

    # -- edges ------------------------------------------------------------------------------
    def add_edges(self, rows: Iterable[dict]) -> None:
        """Insert edges. An edge never replaces one of stronger provenance on the same pair:
        curated beats imported beats series and inferred."""
        rows = list(rows)
        weak = [r for r in rows if r.get("source", "curated") != "curated"]
        if weak:
            existing: dict[tuple, str] = {}
            for kind in {r["kind"] for r in weak}:
                srcs = sorted({r["src"] for r in weak if r["kind"] == kind})
                for chunk in _chunks(srcs):
                    for src, dst, knd, source in self.conn.execute(
                            f"SELECT src, dst, kind, source FROM edges WHERE kind = ? AND source IN ('curated', 'imported') "
                            f"AND src IN ({_marks(chunk)})", [kind, *chunk]).fetchall():
                        existing[(src, dst, knd)] = source
            rows = [r for r in rows if (r["src"], r["dst"], r["kind"]) not in existing
                    or PROVENANCE.get(r.get("source", "curated"), 0) >= PROVENANCE[existing[(r["src"], r["dst"], r["kind"])]]]
        if rows:
            self.conn.executemany(
                "INSERT OR REPLACE INTO edges (src, dst, kind, source, confidence, reason) VALUES (?, ?, ?, ?, ?, ?)",
                ((r["src"], r["dst"], r["kind"], r.get("source", "curated"), r.get("confidence", 1.0),
                  r.get("reason", "")) for r in rows))

    def edges(self, kind: str | None = None) -> list[dict]:
        if kind:
            return list(self.db.query("SELECT * FROM edges WHERE kind = ?", [kind]))
        return list(self.db.query("SELECT * FROM edges"))

    def edges_of(self, node: str, kind: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM edges WHERE kind = ? AND (src = ? OR dst = ?)", [kind, node, node]))

    def edge(self, src: str, dst: str, kind: str) -> dict | None:
        for row in self.db.query("SELECT * FROM edges WHERE src = ? AND dst = ? AND kind = ?", [src, dst, kind]):
            return row
        return None

    def delete_edges(self, pairs: Iterable[tuple[str, str]], kind: str) -> None:
        self.conn.executemany("DELETE FROM edges WHERE kind = ? AND src = ? AND dst = ?",
                              [(kind, src, dst) for src, dst in pairs])

    def delete_edges_from(self, item_ids: Iterable[str], kinds: tuple[str, ...]) -> None:
        """Remove the ``kinds`` edges that start at these items (before they are written anew)."""
        self.conn.executemany(f"DELETE FROM edges WHERE src = ? AND kind IN ({_marks(kinds)})",
                              [(iid, *kinds) for iid in item_ids])

    def replace_series_edges(self, source: str, series: str) -> None:
        """``next`` edges between consecutive parts of one series, as the items stand now."""
        ids = [r[0] for r in self.conn.execute(
            "SELECT id FROM items WHERE source = ? AND series = ? ORDER BY coalesce(position, 0), num",
            [source, series]).fetchall()]
        self.conn.execute(f"DELETE FROM edges WHERE kind = 'next' AND src IN ({_marks(ids)})", ids)
        self.add_edges({"src": a, "dst": b, "kind": "next", "source": "series", "confidence": 1.0,
                        "reason": f"next in series {series!r}"} for a, b in zip(ids, ids[1:]))

    def similar_pairs(self, item_ids: list[str], min_confidence: float) -> list[tuple[str, str]]:
        """``similar`` edges of at least ``min_confidence`` among ``item_ids``."""
        if not item_ids:
            return []
        marks = _marks(item_ids)
        return self.conn.execute(
            f"SELECT src, dst FROM edges WHERE kind = 'similar' AND confidence >= ? AND src IN ({marks}) "
            f"AND dst IN ({marks})", [min_confidence, *item_ids, *item_ids]).fetchall()

    def item_topic_edges(self, item_id: str) -> list[tuple[str, str, float]]:
        """(topic id, provenance, confidence) of an item's topics, most confident first."""
        return self.conn.execute("SELECT dst, source, confidence FROM edges WHERE src = ? AND kind = 'about' "
                                 "ORDER BY confidence DESC", [item_id]).fetchall()

    def count_dangling_edges(self) -> int:
        return self.conn.execute(f"SELECT count(*) FROM edges WHERE {_DANGLING}").fetchone()[0]

    def delete_dangling_edges(self) -> int:
        return self.conn.execute(f"DELETE FROM edges WHERE {_DANGLING}").rowcount

    # -- items ------------------------------------------------------------------------------
    def item_hashes(self) -> dict[str, tuple[int, str, str]]:
        """item id -> (num, content_hash, origin) for every stored item."""
        return {r[0]: (r[1], r[2], r[3]) for r in self.conn.execute("SELECT id, num, content_hash, origin FROM items").fetchall()}

    def items_of_origin(self, origin: str) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT id, num FROM items WHERE origin = ?", [origin]).fetchall()}

    def upsert_item(self, item: Item, origin: str, num: int | None, content_hash: str | None = None) -> int:
        row = {
            "id": item.id, "kind": item.kind, "title": item.title, "url": item.url, "text": item.text,
            "source": item.source, "origin": origin, "date": item.date, "authors": json.dumps(item.authors),
            "series": item.series, "position": item.position,
            "free": None if item.free is None else int(item.free), "core": int(item.core),
            "minutes": item.minutes, "medium": item.medium, "level": item.level,
            "extra": json.dumps(item.extra, default=str),
            "content_hash": content_hash or item.content_hash,
        }
        if num is None:
            cur = self.conn.execute(
                f"INSERT INTO items ({', '.join(row)}, added) VALUES ({_marks(row)}, datetime('now'))",
                list(row.values()))
            return cur.lastrowid
        sets = ", ".join(f"{k} = ?" for k in row)
        self.conn.execute(f"UPDATE items SET {sets} WHERE num = ?", [*row.values(), num])
        return num

    def set_origins(self, moved: Iterable[tuple[str, int]]) -> None:
        """(origin, num): items that now come from another file."""
        self.conn.executemany("UPDATE items SET origin = ? WHERE num = ?", list(moved))

    def delete_items(self, nums: Iterable[int]) -> list[str]:
        ids = []
        for num in nums:
            row = self.conn.execute("SELECT id FROM items WHERE num = ?", [num]).fetchone()
            if not row:
                continue
            ids.append(row[0])
            self.conn.execute("DELETE FROM vectors WHERE num = ?", [num])
            self.conn.execute("DELETE FROM passages WHERE item_num = ?", [num])
            self.conn.execute("DELETE FROM edges WHERE src = ? OR (dst = ? AND kind IN ('next', 'similar'))", [row[0], row[0]])
            self.conn.execute("DELETE FROM items WHERE num = ?", [num])
        return ids

    def item(self, item_id: str) -> dict | None:
        rows = self._items_where("i.id = ?", [item_id])
        return rows[0] if rows else None

    def items(self, topic: str | None = None, kind: str | None = None) -> list[dict]:
        """Items, all of them or those about ``topic`` (an id) and/or of ``kind``."""
        where, args = ["1"], []
        if topic:
            where.append("i.id IN (SELECT src FROM edges WHERE kind = 'about' AND dst = ?)")
            args.append(topic)
        if kind:
            where.append("i.kind = ?")
            args.append(kind)
        return self._items_where(" AND ".join(where), args)

    def items_by_num(self, nums: list[int]) -> dict[int, dict]:
        out: dict[int, dict] = {}
        for chunk in _chunks([int(n) for n in nums]):
            for row in self._items_where(f"i.num IN ({_marks(chunk)})", chunk):
                out[row["num"]] = row
        return out

    def items_by_id(self, ids: list[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for chunk in _chunks(sorted(set(ids))):
            for row in self._items_where(f"i.id IN ({_marks(chunk)})", chunk):
                out[row["id"]] = row
        return out

    def item_ids_and_urls(self, nums: list[int]) -> dict[int, tuple[str, str]]:
        out: dict[int, tuple[str, str]] = {}
        for chunk in _chunks(sorted({int(n) for n in nums})):
            for n, i, u in self.conn.execute(f"SELECT num, id, url FROM items WHERE num IN ({_marks(chunk)})", chunk):
                out[n] = (i, u or "")
        return out

    def item_titles(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT title FROM items").fetchall()]

    def _items_where(self, where: str, args: list) -> list[dict]:
        sql = ("SELECT i.*, (SELECT json_group_array(e.dst) FROM edges e WHERE e.src = i.id AND e.kind = 'about') "
               f"AS topic_ids FROM items i WHERE {where} ORDER BY i.source, coalesce(i.position, 0), i.num")
        return [item_row(r) for r in self.db.query(sql, args)]

    def items_about(self, topic_ids: list[str]) -> dict[str, list[tuple[dict, dict]]]:
        """topic id -> [(item, about-edge)] for items tagged with those topics."""
        out: dict[str, list] = {t: [] for t in topic_ids}
        if not topic_ids:
            return out
        edges = []
        for chunk in _chunks(list(topic_ids)):
            edges += list(self.db.query(f"SELECT * FROM edges WHERE kind = 'about' AND dst IN ({_marks(chunk)})", chunk))
        items = self.items_by_id([e["src"] for e in edges])
        for e in edges:
            if e["src"] in items:
                out[e["dst"]].append((items[e["src"]], e))
        return out

    def about_counts(self, topic_ids: list[str]) -> dict[str, int]:
        """topic id -> how many items are tagged with it."""
        out = {t: 0 for t in topic_ids}
        for chunk in _chunks(list(topic_ids)):
            for dst, n in self.conn.execute(f"SELECT dst, count(*) FROM edges WHERE kind = 'about' AND dst IN "
                                            f"({_marks(chunk)}) GROUP BY dst", chunk):
                out[dst] = n
        return out

    def items_about_among(self, topic_id: str, nums: list[int]) -> list[tuple[dict, dict]]:
        """[(item, about-edge)] for the items among ``nums`` tagged with ``topic_id``: the
        candidates of a topic too large to score every item of. Looked up by item (primary keys),
        so the cost is that of ``nums``, not of the topic's size."""
        nums = sorted({int(n) for n in nums})
        edges = list(self.db.query(
            # CROSS JOIN fixes the loop order: each num, its item by rowid, its tag by primary key
            "SELECT e.* FROM json_each(?) j CROSS JOIN items i ON i.num = j.value "
            "CROSS JOIN edges e ON e.src = i.id AND e.dst = ? AND e.kind = 'about'", [json.dumps(nums), topic_id]))
        items = self.items_by_id([e["src"] for e in edges])
        return [(items[e["src"]], e) for e in edges if e["src"] in items]

    def count_items(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind").fetchall()}

    def item_total(self) -> int:
        return self.conn.execute("SELECT count(*) FROM items").fetchone()[0]

    def count_edges(self) -> dict[str, int]:
        counts = {"prereq": 0, "about": 0, "next": 0, "similar": 0}
        counts.update({r[0]: r[1] for r in self.conn.execute("SELECT kind, count(*) FROM edges GROUP BY kind").fetchall()})
        return counts

    # -- vectors ----------------------------------------------------------------------------
    def put_vectors(self, nums: list[int], hashes: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.conn.executemany(
            "INSERT OR REPLACE INTO vectors (num, content_hash, vector) VALUES (?, ?, ?)",
            ((int(n), h, v.tobytes()) for n, h, v in zip(nums, hashes, vectors)))

    def vectors(self, nums: list[int] | None = None, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(nums, matrix) of stored vectors, all of them or those of ``nums``."""
        if nums is None:
            rows = self.conn.execute("SELECT num, vector FROM vectors ORDER BY num").fetchall()
        else:
            rows = []
            for chunk in _chunks([int(n) for n in nums]):
                rows += self.conn.execute(f"SELECT num, vector FROM vectors WHERE num IN ({_marks(chunk)})", chunk).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        if not rows:
            return ids, np.zeros((0, dim or 0), dtype=np.float32)
        return ids, np.vstack([_decode(r[1], dim) for r in rows])

    def vector_hashes(self) -> dict[int, str]:
        """num -> the content hash each stored vector was made from."""
        return dict(self.conn.execute("SELECT num, content_hash FROM vectors").fetchall())

    def count_stale_vectors(self) -> int:
        """Items with no vector, or a vector of an older version of the item."""
        return self.conn.execute("SELECT count(*) FROM items i LEFT JOIN vectors v ON v.num = i.num "
                                 "WHERE v.num IS NULL OR v.content_hash != i.content_hash").fetchone()[0]

    def items_needing_vectors(self) -> list[dict]:
        """(num, title, text, content_hash) rows of the items ``count_stale_vectors`` counts."""
        rows = self.conn.execute("SELECT i.num, i.title, i.text, i.content_hash FROM items i LEFT JOIN vectors v "
                                 "ON v.num = i.num WHERE v.num IS NULL OR v.content_hash != i.content_hash").fetchall()
        return [{"num": n, "title": t, "text": x or "", "content_hash": h} for n, t, x, h in rows]

    def items_to_embed(self, nums: list[int]) -> list[dict]:
        """(num, id, title, text, content_hash) rows of these items: what re-embedding them needs."""
        out = []
        for chunk in _chunks(sorted({int(n) for n in nums})):
            out += [{"num": n, "id": i, "title": t, "text": x or "", "content_hash": h} for n, i, t, x, h in self.conn.execute(
                f"SELECT num, id, title, text, content_hash FROM items WHERE num IN ({_marks(chunk)})", chunk).fetchall()]
        return out

    def count_orphan_vectors(self) -> int:
        return self.conn.execute("SELECT count(*) FROM vectors v LEFT JOIN items i ON i.num = v.num "
                                 "WHERE i.num IS NULL").fetchone()[0]

    def delete_orphan_vectors(self) -> int:
        return self.conn.execute("DELETE FROM vectors WHERE num NOT IN (SELECT num FROM items)").rowcount

    def count_vectors_not_of_dim(self, dim: int) -> int:
        return self.conn.execute("SELECT count(*) FROM vectors WHERE length(vector) != ?", [dim * 4]).fetchone()[0]

    # -- passages ---------------------------------------------------------------------------
    def put_passages(self, item_num: int, texts: list[str], vectors: np.ndarray | None) -> None:
        """Replace an item's passages; ``vectors`` None when the item is one passage (it uses the
        item's own vector)."""
        self.conn.execute("DELETE FROM passages WHERE item_num = ?", [int(item_num)])
        rows = [(int(item_num), n, text, None if vectors is None else np.asarray(vectors[n], dtype=np.float32).tobytes())
                for n, text in enumerate(texts)]
        self.conn.executemany("INSERT INTO passages (item_num, position, text, vector) VALUES (?, ?, ?, ?)", rows)

    def passages(self, item_nums: list[int]) -> list[dict]:
        """Passages of these items: num, item_num, position, text, vector (None: the item's own)."""
        out = []
        for chunk in _chunks(sorted({int(n) for n in item_nums})):
            for num, item, pos, text, vec in self.conn.execute(
                    f"SELECT num, item_num, position, text, vector FROM passages WHERE item_num IN ({_marks(chunk)}) "
                    "ORDER BY item_num, position", chunk):
                out.append({"num": num, "item_num": item, "position": pos, "text": text,
                            "vector": None if vec is None else np.frombuffer(vec, dtype=np.float32)})
        return out

    def cache_passages(self, item_num: int, texts: list[str], vectors: np.ndarray | None) -> None:
        """An item's passages made by a reader (an item stored before passages existed), best
        effort and without a generation change, like the query cache."""
        if self.readonly:
            return
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.put_passages(item_num, texts, vectors)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def items_without_passages(self, item_nums: list[int]) -> list[int]:
        have = set()
        for chunk in _chunks(sorted({int(n) for n in item_nums})):
            have.update(r[0] for r in self.conn.execute(
                f"SELECT DISTINCT item_num FROM passages WHERE item_num IN ({_marks(chunk)})", chunk))
        return [int(n) for n in item_nums if int(n) not in have]

    def passages_fts(self, query: str, limit: int) -> list[tuple[int, int]]:
        """(passage num, item num) of the best BM25 matches of an FTS5 ``query``."""
        if not query:
            return []
        return self.conn.execute(
            "SELECT p.num, p.item_num FROM passages_fts f JOIN passages p ON p.num = f.rowid "
            "WHERE passages_fts MATCH ? ORDER BY bm25(passages_fts) LIMIT ?", [query, limit]).fetchall()

    def newest_date(self) -> str:
        return self.conn.execute("SELECT max(date) FROM items WHERE date != ''").fetchone()[0] or ""

    # -- caches (written by readers too; not library state) -----------------------------------
    def cached_query_vector(self, model: str, text: str) -> np.ndarray | None:
        row = self.conn.execute("SELECT vector FROM query_cache WHERE model = ? AND text = ?", [model, text]).fetchone()
        return np.frombuffer(row[0], dtype=np.float32).copy() if row else None

    def cache_query_vector(self, model: str, text: str, vector: np.ndarray) -> None:
        if self.readonly:
            return
        with contextlib.suppress(sqlite3.Error):  # a busy writer or a full disk must not fail a read
            self.conn.execute(
                "INSERT OR REPLACE INTO query_cache (model, text, vector, used) VALUES (?, ?, ?, datetime('now'))",
                [model, text, np.asarray(vector, dtype=np.float32).tobytes()])

    def topic_vectors(self, model: str) -> dict[str, tuple[str, np.ndarray]]:
        """topic id -> (hash of the text it was made from, vector)."""
        return {r[0]: (r[1], np.frombuffer(r[2], dtype=np.float32)) for r in self.conn.execute(
            "SELECT id, content_hash, vector FROM topic_vectors WHERE model = ?", [model]).fetchall()}

    def cache_topic_vectors(self, model: str, rows: list[tuple[str, str, np.ndarray]]) -> None:
        """(topic id, text hash, vector) rows; best effort, like the query cache."""
        if self.readonly or not rows:
            return
        with contextlib.suppress(sqlite3.Error):
            self.conn.executemany(
                "INSERT OR REPLACE INTO topic_vectors (id, model, content_hash, vector) VALUES (?, ?, ?, ?)",
                [(t, model, h, np.asarray(v, dtype=np.float32).tobytes()) for t, h, v in rows])

    # -- full text --------------------------------------------------------------------------
    def fts(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(num, bm25 score, higher is better) for items matching an FTS5 ``query``."""
        if not query:
            return []
        rows = self.conn.execute(
            "SELECT rowid, -bm25(items_fts, 3.0, 1.0) AS score FROM items_fts WHERE items_fts MATCH ? "
            "ORDER BY bm25(items_fts, 3.0, 1.0) LIMIT ?", [query, limit]).fetchall()
        return [(r[0], r[1]) for r in rows]

    def term_matches(self, terms: list[str], nums: list[int]) -> tuple[dict[str, int], dict[int, list[str]]]:
        """How FTS5 itself matches each of ``terms`` (whole words, porter-stemmed, as BM25 does):
        (term -> number of items containing it, num -> the terms among ``nums``' items, in the
        order given). Terms FTS5 cannot parse count as absent."""
        frequency: dict[str, int] = {}
        found: dict[int, list[str]] = {int(n): [] for n in nums}
        marks = _marks(list(found))
        for term in terms:
            query = '"' + term.replace('"', " ") + '"'
            try:
                frequency[term] = self.conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH ?",
                                                    [query]).fetchone()[0]
                # "+rowid": SQLite would otherwise run the MATCH once per listed rowid (50x slower)
                hits = self.conn.execute(f"SELECT rowid FROM items_fts WHERE items_fts MATCH ? AND +rowid IN ({marks})",
                                         [query, *found]).fetchall() if frequency[term] and found else []
            except sqlite3.OperationalError:
                frequency[term], hits = 0, []
            for (num,) in hits:
                found[num].append(term)
        return frequency, found

    def document_frequency(self, term: str) -> int:
        """How many items contain a word starting with ``term`` (0 for what FTS5 cannot parse)."""
        match = " ".join(term.split())
        if not match:
            return 0
        try:
            return self.conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH ?",
                                     [f'"{match}"*']).fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def fts_consistent(self) -> bool | None:
        """Whether the full-text index agrees with the items; None when a read-only connection
        cannot run FTS5's check (it is a write statement)."""
        if self.readonly:
            return None
        try:
            self.conn.execute("INSERT INTO items_fts(items_fts) VALUES('integrity-check')")
            return True
        except sqlite3.DatabaseError:
            return False

    def rebuild_fts(self) -> None:
        self.conn.execute("INSERT INTO items_fts(items_fts) VALUES('rebuild')")

    # -- sources and decisions --------------------------------------------------------------
    def source_digests(self) -> dict[str, str]:
        """origin -> digest of the files whose items are all still stored as that ingest left them."""
        return {r[0]: r[1] for r in self.conn.execute(
            "SELECT s.origin, s.digest FROM sources s WHERE s.items = "
            "(SELECT count(*) FROM items i WHERE i.origin = s.origin)").fetchall()}

    def record_sources(self, batches) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO sources (origin, digest, items, ingested) VALUES "
            "(?, ?, (SELECT count(*) FROM items WHERE origin = ?), datetime('now'))",
            [(b.origin, b.digest, b.origin) for b in batches if b.digest and not b.unchanged])

    def decisions(self) -> dict[tuple[str, str], str]:
        return {(r[0], r[1]): r[2] for r in self.conn.execute("SELECT src, dst, decision FROM decisions").fetchall()}

    def decide(self, src: str, dst: str, decision: str, note: str = "") -> None:
        self.conn.execute("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, datetime('now'), ?)", [src, dst, decision, note])


__all__ = ["Store", "PROVENANCE"]
