"""Creating a library: empty, or from the shipped corpus (``data/``), built in a sibling
temporary directory and moved into place only when complete, so a killed first run leaves
nothing half-written."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from ..config import settings
from ..errors import LibraryError
from ..library import DB_NAME, INDEX_NAME, STAMP_NAME, Library, write_lock
from ..store import Store


def create(path: str | os.PathLike | None = None, empty: bool = False, progress: bool = False,
           force: bool = False, embedder=None) -> Path:
    """Create a library at ``path`` (default: the configured one): empty, or holding the shipped
    corpus. ``force`` replaces an existing one (a running server notices and reopens)."""
    path = settings().library_dir(path)
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
            with store.transaction():
                store.set_meta("model", embedder.name if embedder is not None else settings().model)
                store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
                # Generations count from 0 in every library: the id tells an index stamped for
                # generation N of this library from one left by the library it replaced.
                store.set_meta("library_id", uuid.uuid4().hex)
            lib = Library(tmp, store, embedder=embedder)
            if not empty:
                _ingest_shipped(lib, progress)
            store.checkpoint()
            lib.close()
            path.mkdir(parents=True, exist_ok=True)
            # The database last: a reader that sees the new library.db finds its index beside it.
            for name in (INDEX_NAME, STAMP_NAME, DB_NAME):
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


def _ingest_shipped(lib: Library, progress: bool) -> None:
    from .ingest import ingest

    data = settings().data_dir()
    if not data.is_dir():
        raise LibraryError(f"{data}: the shipped corpus is missing; set AIDLGRAPH_DATA to the project's data/ folder")
    sources = [data / "topics.yaml", data / "items"]
    ingest(lib, [p for p in sources if p.exists()], progress=progress)


def open_or_create(path: str | os.PathLike | None = None, progress: bool = False, **open_options) -> Library:
    """The library at ``path``, built from the shipped corpus first when there is none."""
    if not (settings().library_dir(path) / DB_NAME).exists():
        create(path, empty=False, progress=progress)
    return Library.open(path, **open_options)
