"""One library shared by concurrent callers: the HTTP server's requests and the bot's messages.

``LibraryService`` owns the library, its FAISS index, prerequisite graph, topic vectors and the
query model, loaded once; every call runs under one lock (a request costs 1-4 ms of library work
once its query embedding is cached, so a lock is simpler than per-thread copies of the index and
graph, and as fast on two cores: the work holds the GIL anyway). Before each call it asks the
library whether it changed: the database's ``generation`` (every write transaction moves it:
ingest, ``graph accept``/``reject``, ``check --repair``, imports) and whether ``library.db`` is
still the file it opened (``init --force``, or a library directory replaced with ``mv``); either
way it reloads. Query embeddings are memoised in memory, and whole JSON responses are cached per
generation: an answer is a pure function of the query and the library, and a group's questions
recur.

Nothing here needs FastAPI: the bot uses the same service.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from .config import RESPONSE_CACHE, settings
from .errors import AidlgraphError, InputError, UnknownTopicError, free_bytes, free_text
from .library import Library, database_error
from .views import dumps

log = logging.getLogger("aidlgraph.service")

T = TypeVar("T")

READ_BUSY_TIMEOUT_MS = 250  # the read connection only writes the query cache; never wait on an ingest for it
MEMO_SIZE = 4096            # query embeddings kept in memory (about 1.5 KB each)
LOW_SPACE = 64 * 2**20      # below this much free space /healthz reports "degraded": the next ingest may fail


class LRU:
    """A bounded least-recently-used map (not thread-safe: used under the service lock)."""

    def __init__(self, size: int):
        self.size = size
        self._data: collections.OrderedDict = collections.OrderedDict()

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        self._data[key] = value
        if len(self._data) > self.size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


class ServedLibrary(Library):
    """A Library whose query embeddings are memoised in process, in front of the SQLite cache,
    so a repeated query (and each of ``ask``'s member-question texts) costs a dict lookup."""

    memo: LRU

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.memo.get(text)
        if vector is None:
            vector = super().embed_query(text)
            vector.flags.writeable = False  # shared between requests: nobody may change it
            self.memo.put(text, vector)
        return vector


class LibraryService:
    """See the module docstring. ``call(fn, ...)`` runs ``fn(lib, ...)``; ``json(key, fn, ...)``
    returns its result as JSON bytes, remembered under ``key`` until the library changes;
    ``warm()`` loads everything a query needs, so the first request is as fast as the rest."""

    def __init__(self, path: str | os.PathLike | None = None, cache_size: int | None = None):
        self.path = settings().library_dir(path)
        self._lock = threading.Lock()
        self._ingest_lock = threading.Lock()
        self._memo = LRU(MEMO_SIZE)
        self._responses = LRU(settings().response_cache if cache_size is None else cache_size)
        self._lib: ServedLibrary | None = None
        self.generation: str | None = None
        self.reloads = 0
        self._failure: tuple[str | None, str] | None = None  # (generation, why) of a database failure a request met
        self._checked: tuple[str | None, list[str]] | None = None  # (generation, PRAGMA quick_check's answer)

    # opening and reloading
    def _open(self) -> ServedLibrary:
        lib = ServedLibrary.open(self.path)
        lib.memo = self._memo
        # This connection writes only the query cache, best effort; an ingest in another process
        # holding the write lock must not stall a read for the default 30 s.
        lib.store.set_busy_timeout(READ_BUSY_TIMEOUT_MS)
        return lib

    @staticmethod
    def _warm(lib: Library) -> None:
        import faiss

        # A request searches a handful of vectors: OpenMP's thread team costs more than it saves
        # (measured: 6 ms per search with 2 threads on a busy 2-core machine, 0.1 ms with 1).
        faiss.omp_set_num_threads(1)
        lib.index
        lib.graph
        lib.topic_vectors()

    def _current(self) -> ServedLibrary:
        """The library, reloaded if it changed or was replaced. Call with the lock held."""
        lib = self._lib
        if lib is not None and not lib.should_reopen() and lib.generation == self.generation:
            return lib
        fresh = self._open()
        self._warm(fresh)
        old, self._lib, self.generation = lib, fresh, fresh.generation
        self._responses.clear()
        if old is not None:
            self.reloads += 1
            old.close()
            log.info("library generation %s: reloaded the index and graph", self.generation)
        return fresh

    def warm(self, query: str = "how do I learn deep learning?") -> None:
        """Open the library, load its index, graph and topic vectors, and the query model."""
        with self._lock:
            lib = self._current()
            with contextlib.suppress(AidlgraphError):  # a library with no model yet still serves
                lib.embed_query(query)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(self._current(), *args, **kwargs)

    def json(self, key: tuple | None, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
        """``fn(lib, ...)`` as JSON bytes, cached under ``key`` for the current generation;
        ``key=None`` is never cached."""
        with self._lock:
            lib = self._current()
            body = self._responses.get(key) if key is not None else None
            if body is None:
                body = dumps(fn(lib, *args, **kwargs)).encode("utf-8")
                if key is not None:
                    self._responses.put(key, body)
            return body

    # health
    def failed(self, reason: str) -> None:
        """A request met a damaged database: ``health`` reports it until the library changes."""
        self._failure = (self.generation, reason)

    def health(self, lib: Library) -> tuple[str, str]:
        """(status, reason) of the served library, for ``/healthz``: ``error`` when its database is
        damaged (a request met the damage, or SQLite's quick_check, run once per generation, finds
        it), ``degraded`` when it answers but something is wrong (read-only on a full disk, an index
        kept in memory, damaged vectors left out, little free space), else ``ok``. Call it through
        ``call`` (with the lock held)."""
        if self._failure is not None and self._failure[0] == self.generation:
            return "error", self._failure[1]
        if self._checked is None or self._checked[0] != self.generation:
            self._checked = (self.generation, lib.store.quick_check(3))
        if self._checked[1] != ["ok"]:
            return "error", str(database_error(lib.path, "; ".join(self._checked[1])[:150] or "malformed"))
        reasons = list(lib.warnings)
        free = free_bytes(lib.path)
        if free is not None and free < LOW_SPACE and not lib.full_disk:
            reasons.append(f"the disk holding the library is nearly full ({free_text(lib.path)}); ingests may fail")
        return ("degraded", "; ".join(reasons)) if reasons else ("ok", "")

    def close(self) -> None:
        with self._lock:
            if self._lib is not None:
                self._lib.close()
                self._lib = None

    # writing
    def ingest(self, paths: list[Path] = (), batches: list = (), wait: float = 5.0) -> dict:
        """Ingest files or loaded batches on a connection of its own, outside the read lock;
        readers pick the new generation up on their next request. A source naming an unknown
        topic is a bad request (InputError), not a missing resource."""
        from .build.ingest import ingest_batches
        from .corpus import Sources, load_sources
        from .views import ingest_json

        with self._ingest_lock:
            sources = Sources(batches=list(batches))
            for p in paths:
                sources.extend(load_sources(p))
            with Library.open(self.path) as writer:
                try:
                    report = ingest_batches(writer, sources.batches, wait=wait, sources=sources)
                except UnknownTopicError as exc:
                    raise InputError(str(exc)) from None
                return ingest_json(report, writer.generation)
