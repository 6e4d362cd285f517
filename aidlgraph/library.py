"""A library directory: ``library.db`` (the truth), ``vectors.faiss`` (derived) and a lock.

``Library.open()`` is the one way in. With no library yet it builds one from the shipped corpus
(``data/``), into a temporary directory that is renamed into place only when complete, so a
killed first run leaves nothing half-written.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from . import config
from .errors import LibraryError
from .store import Store

DB_NAME = "library.db"
INDEX_NAME = "vectors.faiss"
LOCK_NAME = ".write.lock"


class Library:
    """An open library. Heavy parts (graph, index, model) load on first use."""

    def __init__(self, path: Path, store: Store):
        self.path = Path(path)
        self.store = store
        self._graph = None
        self._index = None
        self._index_generation: str | None = None  # the generation ``_index`` reflects
        self._topic_matrix = None

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, build: bool = True, progress: bool = False) -> "Library":
        """Open the library at ``path`` (default: config.library_dir()), building the default
        one from the shipped corpus first when there is none and ``build`` is true."""
        path = config.library_dir(path)
        if not (path / DB_NAME).exists():
            if not build:
                raise LibraryError(f"{path}: no library here; run `aidlgraph init` to create one")
            create(path, empty=False, progress=progress)
        if path.exists() and not os.access(path / DB_NAME, os.R_OK):
            raise LibraryError(f"{path / DB_NAME}: cannot read the library database; check its permissions")
        if (path / DB_NAME).stat().st_size == 0:
            # SQLite would take an empty file for a new database and quietly start over; a library
            # is built elsewhere and moved into place, so an empty one was truncated.
            raise database_error(path, "the file is empty (0 bytes)")
        return cls(path, Store(path / DB_NAME))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- settings ---------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.store.get_meta("model") or config.model_name()

    @property
    def dim(self) -> int | None:
        dim = self.store.get_meta("dim")
        return int(dim) if dim else None

    def check_model(self) -> None:
        """Refuse to mix vectors of two models."""
        wanted = config.model_name()
        if self.store.get_meta("model") and wanted != self.model:
            raise LibraryError(
                f"this library was built with model {self.model!r} but AIDLGRAPH_MODEL is {wanted!r}; "
                f"unset AIDLGRAPH_MODEL, or build a new library for that model with `aidlgraph --library DIR init`"
            )

    def embedder(self):
        """The batch encoder (sentence-transformers) for this library's model."""
        from . import embed

        self.check_model()
        model = embed.load(self.model)
        self._set_dim(model.dim)
        return model

    def _set_dim(self, dim: int) -> None:
        if self.dim is None:
            self.store.set_meta("dim", dim)
        elif self.dim != dim:
            raise LibraryError(
                f"model {self.model!r} gives {dim}-dimensional vectors but the library holds {self.dim}; "
                "the model changed on disk: rebuild the library with `aidlgraph --library DIR init`"
            )

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector, from the cache when this text was asked before."""
        from . import embed

        self.check_model()
        row = self.store.db.execute("SELECT vector FROM query_cache WHERE model = ? AND text = ?",
                                    [self.model, text]).fetchone()
        if row:
            return np.frombuffer(row[0], dtype=np.float32).copy()
        model = embed.load(self.model, fast=True)
        self._check_dim(model.dim)
        vector = model.encode([text])[0]
        with contextlib.suppress(Exception):  # a busy writer must not fail a read
            self.store.db.execute(
                "INSERT OR REPLACE INTO query_cache (model, text, vector, used) VALUES (?, ?, ?, datetime('now'))",
                [self.model, text, vector.astype(np.float32).tobytes()])
        return vector

    def _check_dim(self, dim: int) -> None:
        if self.dim is not None and self.dim != dim:
            raise LibraryError(
                f"model {self.model!r} gives {dim}-dimensional vectors but the library holds {self.dim}; "
                "rebuild the library with `aidlgraph --library DIR init`"
            )

    # -- derived parts ----------------------------------------------------------------------
    @property
    def graph(self):
        """The prerequisite DiGraph, built from the store's topics and prereq edges."""
        if self._graph is None:
            from . import graph

            self._graph = graph.build(self.store.topics(), self.store.edges("prereq"))
        return self._graph

    @property
    def index(self):
        """The FAISS index, loaded from disk, or rebuilt from stored vectors when stale."""
        if self._index is None:
            self._index = self._load_index()
        return self._index

    def _load_index(self):
        from .index import VectorIndex, read_stamp

        dim = self.dim
        if dim is None:
            return VectorIndex(384)
        path = self.path / INDEX_NAME
        generation = self.store.get_meta("generation", "0")
        stamp = read_stamp(path)
        if path.exists() and stamp.get("generation") == generation:
            try:
                index = VectorIndex.load(path, dim)
                if index.size == stamp.get("count"):
                    self._index_generation = generation
                    return index
            except LibraryError:
                pass
        return self.rebuild_index(save=os.access(self.path, os.W_OK), locked=False)

    def rebuild_index(self, save: bool = True, locked: bool = True):
        """Rebuild the FAISS index from the stored vectors (no re-embedding). ``save`` writes it to
        disk: at once when the caller holds the write lock (``locked``), else only while no writer
        is active; a writer saves its own after its commit, and two processes renaming index and
        stamp in turn could pair an old index with a new stamp, which the next open would trust."""
        from .index import VectorIndex

        conn = self.store.db.conn
        snapshot = not conn.in_transaction
        if snapshot:  # one read snapshot: the vectors and the generation they belong to
            conn.execute("BEGIN")
        try:
            generation = self.store.get_meta("generation", "0")
            ids, vectors = self.store.vectors(dim=self.dim)
        finally:
            if snapshot:
                conn.execute("COMMIT")
        index = VectorIndex.build(self.dim or 384, ids, vectors)
        if save and locked:
            with contextlib.suppress(OSError):
                self.save_index(index, generation)
        elif save:
            with contextlib.suppress(LibraryError, OSError), write_lock(self.path):
                if self.store.get_meta("generation", "0") == generation:
                    self.save_index(index, generation)
        self._index, self._index_generation = index, generation
        return index

    def save_index(self, index, generation: str | None = None) -> None:
        """Write ``index`` stamped with ``generation`` (default: the database's). Call it holding
        the write lock; it also clears temporary files an interrupted save left behind."""
        for leftover in [*self.path.glob(".vectors-*.tmp"), *self.path.glob(".stamp-*.tmp")]:
            with contextlib.suppress(OSError):
                leftover.unlink()
        generation = self.store.get_meta("generation", "0") if generation is None else generation
        index.save(self.path / INDEX_NAME, {"generation": generation,
                                            "count": index.size, "model": self.model, "dim": self.dim})
        self._index_generation = generation

    def invalidate(self) -> None:
        self._graph = None
        self._topic_matrix = None

    def topic_vectors(self) -> tuple[list[str], np.ndarray]:
        """(topic ids, matrix) of topic embeddings, computing those missing or stale."""
        if self._topic_matrix is None:
            topics = self.store.topics()
            texts = {t["id"]: topic_text(t) for t in topics}
            hashes = {tid: hashlib.sha1(text.encode()).hexdigest() for tid, text in texts.items()}
            stored = {r[0]: (r[1], r[2]) for r in self.store.db.execute(
                "SELECT id, content_hash, vector FROM topic_vectors WHERE model = ?", [self.model]).fetchall()}
            stale = [tid for tid in texts if stored.get(tid, ("",))[0] != hashes[tid]]
            vectors = {tid: np.frombuffer(v, dtype=np.float32) for tid, (h, v) in stored.items() if tid in texts}
            if stale:
                from . import embed

                # Read commands land here: the torch-free query encoder (same vectors) when it exists.
                self.check_model()
                model = embed.load(self.model, fast=True)
                self._check_dim(model.dim)
                fresh = model.encode([texts[t] for t in stale])
                for tid, vec in zip(stale, fresh):
                    vectors[tid] = vec
                with contextlib.suppress(Exception):
                    self.store.db.conn.executemany(
                        "INSERT OR REPLACE INTO topic_vectors (id, model, content_hash, vector) VALUES (?, ?, ?, ?)",
                        [(t, self.model, hashes[t], vectors[t].astype(np.float32).tobytes()) for t in stale])
            ids = sorted(vectors)
            matrix = np.vstack([vectors[t] for t in ids]) if ids else np.zeros((0, self.dim or 384), np.float32)
            self._topic_matrix = (ids, matrix)
        return self._topic_matrix

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, wait: float = 0.0) -> Iterator[None]:
        """Exclusive write access: a second writer waits up to ``wait`` seconds, then fails."""
        with write_lock(self.path, wait):
            if self._index is not None and self.store.get_meta("generation", "0") != self._index_generation:
                # Another process wrote since this object loaded its index (a long-lived Library
                # in a notebook or bot): writing on top of that index would save a stale one.
                self._index = None
                self.invalidate()
            yield
            self.invalidate()


def database_error(path: str | os.PathLike | None, exc: Exception | str) -> LibraryError:
    """The one-line error for a database SQLite cannot use, with what to do about it."""
    db = config.library_dir(path) / DB_NAME
    reason = " ".join(str(exc).split())[:200]
    if isinstance(exc, sqlite3.OperationalError) and not any(
            word in reason for word in ("malformed", "not a database", "vtable constructor", "no such")):
        return LibraryError(f"{db}: the library database failed ({reason}); if another aidlgraph process is "
                            f"writing, wait for it and retry; if this persists, run `aidlgraph --library {db.parent} check`")
    return LibraryError(f"{db}: the library database is damaged ({reason}); restore it from a backup, or move it "
                        f"away and rebuild with `aidlgraph --library {db.parent} init --force`, then re-ingest your sources")


def topic_text(topic: dict) -> str:
    aliases = ", ".join(topic.get("aliases") or [])
    text = topic["name"] + (f" ({aliases})" if aliases else "")
    return f"{text}: {topic.get('description') or ''}".strip(": ")


@contextlib.contextmanager
def write_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    fh = open(path / LOCK_NAME, "a+")
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LibraryError(
                        f"{path}: another aidlgraph process is writing to this library; "
                        "wait for it to finish (or pass --wait SECONDS) and retry"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()


def create(path: str | os.PathLike | None = None, empty: bool = False, progress: bool = False,
           force: bool = False) -> Path:
    """Create a library at ``path``: empty, or holding the shipped corpus.

    Built in a sibling temporary directory and moved into place when complete.
    """
    path = config.library_dir(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with write_lock(path.parent / f".{path.name}.build", wait=600):
        if (path / DB_NAME).exists() and not force:
            if empty or (path / DB_NAME).stat().st_size:
                raise LibraryError(f"{path}: a library already exists here; pass --force to replace it, or choose another --library")
        for stale in path.parent.glob(f".{path.name}-building-*"):  # left by a killed build; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-building-", dir=path.parent))
        try:
            store = Store(tmp / DB_NAME)
            store.set_meta("model", config.model_name())
            store.set_meta("generation", "0")
            store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
            lib = Library(tmp, store)
            if not empty:
                from .ingest import ingest

                data = config.data_dir()
                if not data.is_dir():
                    raise LibraryError(f"{data}: the shipped corpus is missing; set AIDLGRAPH_DATA to the project's data/ folder")
                sources = [data / "topics.yaml", data / "items"]
                ingest(lib, [p for p in sources if p.exists()], progress=progress, locked=True)
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            lib.close()
            path.mkdir(parents=True, exist_ok=True)
            for name in (DB_NAME, INDEX_NAME, "vectors.json"):
                if (tmp / name).exists():
                    os.replace(tmp / name, path / name)
                elif (path / name).exists():
                    os.unlink(path / name)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path / (DB_NAME + suffix))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return path
