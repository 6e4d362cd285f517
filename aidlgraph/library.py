"""A library directory: ``library.db`` (the truth), ``vectors.faiss`` (derived) and a write lock.

``Library.open()`` opens an existing library, for writing when it can and read-only when the
directory or the database is not writable (``path``, ``related``, ``ask`` and ``serve`` work on a
read-only copy). Building one from the shipped corpus is ``build.bootstrap``'s job.

What is derived from the database (the prerequisite graph, the FAISS index, the topic vectors,
and whatever a query module caches with ``derived``) is loaded on first use and dropped when the
library's generation changes: ``refresh()`` asks the database for that one number.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .config import settings
from .corpus.model import topic_text
from .errors import LOW_SPACE, DiskFullError, LibraryError, free_bytes, free_text, is_disk_full
from .store import Store

log = logging.getLogger(__name__)

DB_NAME = "library.db"
INDEX_NAME = "vectors.faiss"
STAMP_NAME = "vectors.json"
LOCK_NAME = ".write.lock"


class Library:
    """An open library. Heavy parts (graph, index, model) load on first use.

    ``embedder`` replaces the configured model (tests give a ``FakeEmbedder``); ``backend`` chooses
    how the configured model runs (see ``aidlgraph.embed``)."""

    def __init__(self, path: Path, store: Store, embedder=None, backend: str | None = None):
        self.path = Path(path)
        self.store = store
        self._embedder = embedder
        self._given = embedder is not None  # a model handed in (tests), not the configured one
        self.backend = backend
        self._graph = None
        self._index = None
        self._index_generation: str | None = None  # the generation ``_index`` reflects
        self._topic_matrix = None
        self._derived: dict[str, Any] = {}
        self._seen = store.generation  # the generation the derived state belongs to
        self.file_id = _file_id(self.path / DB_NAME)
        self.full_disk = ""  # why the library was opened read-only on a full disk ("" when it was not)
        self.warnings: list[str] = []  # what runs degraded: said once each (logged), and shown by /healthz

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, embedder=None, backend: str | None = None,
             readonly: bool | None = None) -> "Library":
        """Open the library at ``path`` (default: the configured one); read-only when it cannot be
        written (or ``readonly``)."""
        path = settings().library_dir(path)
        db = path / DB_NAME
        if not db.exists():
            raise LibraryError(f"{path}: no library here; run `aidlgraph init` to create one")
        if not os.access(db, os.R_OK):
            raise LibraryError(f"{db}: cannot read the library database; check its permissions")
        if db.stat().st_size == 0:
            # SQLite would take an empty file for a new database and quietly start over; a library
            # is built elsewhere and moved into place, so an empty one was truncated.
            raise database_error(path, "the file is empty (0 bytes)")
        dir_writable = os.access(path, os.W_OK)
        if readonly is None:
            readonly = not (dir_writable and os.access(db, os.W_OK))
        # A WAL database in a directory nobody can write to has no -shm file to share: nobody can
        # change it either, so SQLite may read it as immutable.
        try:
            store = Store(db, readonly=readonly, immutable=readonly and not dir_writable)
        except DiskFullError:
            # SQLite could not make its -shm file. With no write-ahead log waiting to be folded in,
            # the database file is the whole library: read it as it is, and refuse writes.
            wal = db.with_name(db.name + "-wal")
            if readonly or (wal.exists() and wal.stat().st_size):
                raise
            store = Store(db, readonly=True, immutable=True)
            lib = cls(path, store, embedder=embedder, backend=backend)
            lib.full_disk = f"the disk holding {path} is full ({free_text(path)})"
            return lib
        return cls(path, store, embedder=embedder, backend=backend)

    @property
    def readonly(self) -> bool:
        return self.store.readonly

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- has it changed? --------------------------------------------------------------------
    @property
    def generation(self) -> str:
        return self.store.generation

    def refresh(self) -> bool:
        """Drop derived state if the library changed since it was loaded; True if it had."""
        generation = self.store.generation
        if generation == self._seen:
            return False
        self._seen = generation
        self.invalidate()
        if self._index is not None and self._index_generation != generation:
            self._index = None
        return True

    def replaced(self) -> bool:
        """True when ``library.db`` is no longer the file this object opened (``init --force``, or
        a directory swapped in with ``mv``): reopen the library to see the new one."""
        return _file_id(self.path / DB_NAME) != self.file_id

    def should_reopen(self) -> bool:
        """``replaced()``, or opened read-only on a full disk that has room again (a long-lived
        reader, such as the server, then reopens it to see later writes)."""
        if self.replaced():
            return True
        free = free_bytes(self.path) if self.full_disk else None
        return free is not None and free >= LOW_SPACE

    def warn(self, reason: str) -> None:
        """Record (and log, once) a way this library runs degraded: ``/healthz`` reports these."""
        if reason not in self.warnings:
            self.warnings.append(reason)
            log.warning("%s", reason)

    def invalidate(self) -> None:
        self._graph = None
        self._topic_matrix = None
        self._derived.clear()

    def topics(self) -> list[dict]:
        """Every stored topic (``store.topics()``), remembered until the library changes: what each
        query resolves against. Shared: do not modify the rows."""
        return self.derived("topics", self.store.topics)

    def derived(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, remembered until the library changes (see ``refresh``)."""
        if name not in self._derived:
            self._derived[name] = compute()
        return self._derived[name]

    # -- the model --------------------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.store.get_meta("model") or (self._embedder.name if self._given else settings().model)

    @property
    def dim(self) -> int | None:
        dim = self.store.get_meta("dim")
        return int(dim) if dim else None

    def check_model(self) -> None:
        """Refuse to mix vectors of two models."""
        wanted = self._embedder.name if self._given else settings().model
        stored = self.store.get_meta("model")
        if stored and wanted != stored:
            raise LibraryError(
                f"this library was built with model {stored!r} but AIDLGRAPH_MODEL is {wanted!r}; "
                f"unset AIDLGRAPH_MODEL, or build a new library for that model with `aidlgraph --library DIR init`"
            )

    @property
    def embedder(self):
        """The model that embeds this library's items (ingest, repair)."""
        return self._model()

    @property
    def query_embedder(self):
        """The model that embeds queries and topics: the same model as ``embedder``; a read
        command only ever asks for this one (tests check that reads never re-embed items)."""
        return self._model()

    def _model(self):
        self.check_model()
        if not self._given:
            from . import embed

            self._embedder = embed.load(self.model, self.backend)
        self.check_dim(self._embedder.dim)
        return self._embedder

    def check_dim(self, dim: int) -> None:
        if self.dim is not None and self.dim != dim:
            raise LibraryError(
                f"model {self.model!r} gives {dim}-dimensional vectors but the library holds {self.dim}; "
                "the model changed on disk: rebuild the library with `aidlgraph --library DIR init`"
            )

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector, from the cache when this text was asked before."""
        self.check_model()
        vector = self.store.cached_query_vector(self.model, text)
        if vector is None:
            vector = self.query_embedder.encode([text])[0]
            self.store.cache_query_vector(self.model, text, vector)
        return vector

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
            if self.full_disk:  # said here, by the commands that read, not by those that fail to write
                self.warn(f"{self.full_disk}: the library is open read-only and its search index is kept in "
                          "memory; free space to write to it again")
            self._index = self._load_index()
        return self._index

    def _load_index(self):
        from .index import VectorIndex, read_stamp

        dim = self.dim
        if dim is None:
            return VectorIndex(None)
        path = self.path / INDEX_NAME
        generation = self.store.generation
        stamp = read_stamp(path)
        if path.exists() and stamp.get("generation") == generation and stamp.get("library") == self.library_id:
            try:
                index = VectorIndex.load(path, dim, params=stamp.get("index"))
                if index.size == stamp.get("count"):
                    self._index_generation = generation
                    return index
            except LibraryError:
                pass
        return self.rebuild_index(save=not self.readonly, locked=False)

    def rebuild_index(self, save: bool = True, locked: bool = True):
        """Rebuild the FAISS index from the stored vectors (no re-embedding). ``save`` writes it to
        disk: at once when the caller holds the write lock (``locked``), else only while no writer
        is active; a writer saves its own after its commit, and two processes renaming index and
        stamp in turn could pair an old index with a new stamp, which the next open would trust."""
        from .index import VectorIndex

        with self.store.snapshot():  # the vectors and the generation they belong to
            generation = self.store.generation
            ids, vectors = self.vectors()  # damaged vectors never enter the index
        index = VectorIndex.build(self.dim, ids, vectors)
        try:
            if save and locked:
                self.save_index(index, generation)
            elif save:
                with write_lock(self.path):
                    if self.store.generation == generation:
                        self.save_index(index, generation)
        except OSError as exc:  # a full disk, a read-only file: this process uses the index from memory
            cause = f"disk full, {free_text(self.path)}" if is_disk_full(exc, self.path) else (exc.strerror or str(exc))
            self.warn(f"the search index could not be saved ({cause}); it is used from memory, and the next "
                      "command that can write saves it")
        except LibraryError:
            pass  # a writer is active: it saves its own index after its commit
        self._index, self._index_generation = index, generation
        return index

    def vectors(self, nums: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(nums, matrix) of the stored item vectors, all or those of ``nums``, leaving out damaged
        ones (not finite, or not unit length: see ``index.sound_rows``) with a warning; read
        commands never re-embed, so those items drop out of searches until ``check --repair``."""
        from .index import sound_rows

        ids, vectors = self.store.vectors(nums, dim=self.dim)
        sound = sound_rows(vectors)
        if not sound.all():
            self.warn(self.damage_warning(int((~sound).sum())))
            ids, vectors = ids[sound], vectors[sound]
        return ids, vectors

    @staticmethod
    def damage_warning(count: int) -> str:
        return (f"{count} stored item vectors are damaged and left out of searches; run `aidlgraph check --repair` "
                "to re-embed them")

    def save_index(self, index, generation: str | None = None) -> None:
        """Write ``index`` stamped with ``generation`` (default: the database's). Call it holding
        the write lock; it also clears temporary files an interrupted save left behind."""
        for leftover in [*self.path.glob(".vectors-*.tmp"), *self.path.glob(".stamp-*.tmp")]:
            with contextlib.suppress(OSError):
                leftover.unlink()
        generation = self.store.generation if generation is None else generation
        index.save(self.path / INDEX_NAME, self._stamp(index, generation))
        self._index_generation = generation

    def _stamp(self, index, generation: str) -> dict:
        return {"library": self.library_id, "generation": generation, "count": index.size, "model": self.model,
                "dim": self.dim, "index": index.describe()}

    @property
    def library_id(self) -> str | None:
        return self.store.get_meta("library_id")

    def topic_vectors(self) -> tuple[list[str], np.ndarray]:
        """(topic ids, matrix) of topic embeddings, computing those missing or stale."""
        if self._topic_matrix is None:
            texts = {t["id"]: topic_text(t) for t in self.store.topics()}
            hashes = {tid: hashlib.sha1(text.encode()).hexdigest() for tid, text in texts.items()}
            stored = self.store.topic_vectors(self.model)
            stale = [tid for tid in texts if stored.get(tid, ("",))[0] != hashes[tid] or not _sound(stored[tid][1], self.dim)]
            vectors = {tid: v for tid, (h, v) in stored.items() if tid in texts}
            if stale:
                fresh = self.query_embedder.encode([texts[t] for t in stale])
                vectors.update(zip(stale, fresh))
                self.store.cache_topic_vectors(self.model, [(t, hashes[t], vectors[t]) for t in stale])
            ids = sorted(vectors)
            dim = self.dim or (len(vectors[ids[0]]) if ids else 0)
            matrix = np.vstack([vectors[t] for t in ids]) if ids else np.zeros((0, dim), np.float32)
            self._topic_matrix = (ids, matrix)
        return self._topic_matrix

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, wait: float = 0.0) -> Iterator[None]:
        """Exclusive write access: a second writer waits up to ``wait`` seconds, then fails.

        Write transactions inside (``store.transaction()``) move the generation on; when the block
        ends, the FAISS index is saved if it changed, or its stamp moved to the new generation if
        only other tables did (so the next open does not rebuild an index that is current)."""
        if self.full_disk:
            raise DiskFullError(f"{self.full_disk}; free space and re-run; nothing was changed")
        if self.readonly:
            raise LibraryError(f"{self.path}: the library is read-only here (no write access to it or its "
                               "directory); copy it somewhere writable, or ask its owner to run this")
        with write_lock(self.path, wait):
            if self._index is not None and self.store.generation != self._index_generation:
                # Another process wrote since this object loaded its index (a long-lived Library
                # in a notebook or bot): writing on top of that index would save a stale one.
                self._index = None
            self.invalidate()
            before = self.store.generation
            try:
                yield
            except BaseException:
                self._index = None  # it may hold changes the database rolled back: reload on next use
                raise
            finally:
                self.invalidate()
                self._seen = self.store.generation
            after = self.store.generation
            if after != before:
                self._after_commit(before, after)

    def _after_commit(self, before: str, after: str) -> None:
        from .index import read_stamp, write_stamp

        index, path = self._index, self.path / INDEX_NAME
        try:
            if index is not None and index.changed:
                index.settle()  # past a size threshold, flat becomes approximate (see aidlgraph.index)
                self.save_index(index, after)
            elif index is not None and self._index_generation == before:
                self._index_generation = after
                if path.exists() and read_stamp(path).get("generation") == before:
                    write_stamp(path, self._stamp(index, after))
            elif path.exists() and read_stamp(path).get("generation") == before:
                write_stamp(path, {**read_stamp(path), "generation": after})
        except OSError as exc:
            if index is not None:
                self._index_generation = after  # the index in memory is current: this process keeps using it
            what = "items were stored" if index is not None and index.changed else "changes were stored"
            if is_disk_full(exc, self.path):
                raise DiskFullError(
                    f"{what.replace(' were stored', ' saved')}, but the search index could not be written: disk full "
                    f"({free_text(self.path)}); it will be rebuilt from the stored vectors on the next command; "
                    "free space, then run `aidlgraph check --repair`") from None
            raise LibraryError(
                f"the {what}, but writing the vector index failed ({exc.strerror or exc}); "
                "the next command rebuilds it from the stored vectors (or run `aidlgraph check --repair`)") from None


def _sound(vector: np.ndarray, dim: int | None) -> bool:
    from .index import sound_rows

    return (dim is None or len(vector) == dim) and bool(sound_rows(vector[None, :])[0])


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def database_error(path: str | os.PathLike | None, exc: Exception | str) -> LibraryError:
    """The one-line error for a database SQLite cannot use, with what to do about it."""
    db = settings().library_dir(path) / DB_NAME
    if not isinstance(exc, str) and is_disk_full(exc, db):
        return DiskFullError(f"disk full while using {db} ({free_text(db)}); free space and re-run")
    reason = " ".join(str(exc).split())[:200]
    if not is_damage(exc):
        return LibraryError(f"{db}: the library database failed ({reason}); if another aidlgraph process is "
                            f"writing, wait for it and retry; if this persists, run `aidlgraph --library {db.parent} check`")
    return LibraryError(f"{db}: the library database is damaged ({reason}); restore it from a backup, or move it "
                        f"away and rebuild with `aidlgraph --library {db.parent} init --force`, then re-ingest your sources")


def is_damage(exc: Exception | str) -> bool:
    """True when a database error means a damaged file (not a busy or full one)."""
    reason = str(exc)
    return not isinstance(exc, sqlite3.OperationalError) or any(
        word in reason for word in ("malformed", "not a database", "vtable constructor", "no such"))


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
