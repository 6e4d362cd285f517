"""The FAISS index over normalised item vectors, keyed by item ``num``; derived, rebuildable.

Written atomically (a temporary file, fsync, rename) beside a small JSON stamp that records
which library generation it reflects, so a crash between the database commit and the index
write is detected and repaired from the stored vectors, never by re-embedding.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import LibraryError


class VectorIndex:
    """Inner-product search over L2-normalised vectors (so scores are cosines)."""

    def __init__(self, dim: int | None, index=None):
        """An index of ``dim``-dimensional vectors; ``dim`` None for a library that has no vectors
        yet (the first ``add`` sets it)."""
        self.dim = dim
        self.index = index if index is not None or dim is None else self._empty(dim)
        self.changed = False  # vectors added or removed since it was loaded, built or saved

    @staticmethod
    def _empty(dim: int):
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def size(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    @classmethod
    def build(cls, dim: int | None, ids: np.ndarray, vectors: np.ndarray) -> "VectorIndex":
        index = cls(dim)
        index.add(ids, vectors)
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if self.index is None:
                self.dim = int(vectors.shape[1])
                self.index = self._empty(self.dim)
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
            self.changed = True

    def remove(self, ids) -> None:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) and self.index is not None:
            self.index.remove_ids(faiss.IDSelectorBatch(ids))
            self.changed = True

    def ids(self) -> np.ndarray:
        import faiss

        if self.size == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) arrays of shape (len(vectors), k); missing neighbours have id -1."""
        import faiss

        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if self.size == 0 or k <= 0:
            return np.zeros((len(vectors), 0), dtype=np.float32), np.zeros((len(vectors), 0), dtype=np.int64)
        # OpenMP threads cost more than they save on a handful of queries (13 ms vs 2.7 ms for
        # one query over 20k vectors on 2 cores); batches still use every core.
        # The OpenMP runtime is shared with torch, so the setting is put back afterwards.
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1 if len(vectors) <= 8 else (os.cpu_count() or 1))
        try:
            return self.index.search(vectors, min(k, self.size))
        finally:
            faiss.omp_set_num_threads(before)

    def save(self, path: Path, stamp: dict) -> None:
        import faiss

        path = Path(path)
        if self.index is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            try:
                faiss.write_index(self.index, tmp)
            except RuntimeError as exc:  # FAISS's I/O errors: an OSError like every other write's
                raise _os_error(exc, tmp) from None
            _fsync(tmp)
            _readable_by_all(tmp)  # mkstemp makes 0600; a shared library must stay readable
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        write_stamp(path, stamp)
        self.changed = False

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise LibraryError(f"{path}: the vector index is unreadable ({str(exc).splitlines()[0][:120]}); run `aidlgraph check --repair` to rebuild it") from None
        if index.d != dim:
            raise LibraryError(f"{path}: index has {index.d} dimensions but the library's model has {dim}; run `aidlgraph check --repair`")
        return cls(dim, index)


def stamp_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def write_stamp(path: Path, stamp: dict) -> None:
    """Record which library generation (and how many vectors) the index file at ``path`` holds."""
    _write_json_atomic(stamp_path(path), stamp)


def read_stamp(path: Path) -> dict:
    try:
        return json.loads(stamp_path(path).read_text())
    except (OSError, ValueError):
        return {}


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".stamp-", suffix=".tmp", dir=Path(path).parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _readable_by_all(tmp)
    os.replace(tmp, path)


def _readable_by_all(path: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o644 & ~umask)


def _os_error(exc: RuntimeError, path: str) -> OSError:
    """FAISS's write error (its message ends with the C library's reason) as an OSError."""
    message = str(exc)
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
        if os.strerror(code).lower() in message.lower():
            return OSError(code, os.strerror(code), path)
    return OSError(errno.EIO, f"FAISS could not write the index ({message.splitlines()[-1][-160:]})", path)


# -- what a stored vector must be ------------------------------------------------------------------
UNIT_TOLERANCE = 1e-3  # |norm - 1| of a float32 L2-normalised vector is ~1e-7; a flipped byte is far off


def sound_rows(vectors: np.ndarray) -> np.ndarray:
    """A boolean mask of the rows of ``vectors`` that are finite unit vectors, as every embedder
    returns them. A byte flipped inside a stored blob (which SQLite's own checks cannot see) makes
    a NaN, an infinity or a vector of the wrong length, whose inner products would outrank every
    real match; such rows must never reach the index.

    >>> sound_rows(np.array([[0.6, 0.8], [np.nan, 0.0], [3e20, 0.0], [0.0, 0.0]], dtype=np.float32)).tolist()
    [True, False, False, False]
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or not len(vectors):
        return np.ones(len(vectors), dtype=bool)
    with np.errstate(all="ignore"):
        finite = np.isfinite(vectors).all(axis=1)
        norms = np.linalg.norm(np.where(np.isfinite(vectors), vectors, 0).astype(np.float64), axis=1)
    return finite & (np.abs(norms - 1.0) <= UNIT_TOLERANCE)
