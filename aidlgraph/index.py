"""The FAISS index over normalised item vectors, keyed by item ``num``; derived, rebuildable.

Two kinds, chosen by the number of vectors (``kind_for``):

- ``flat`` (exact search, ``IndexIDMap2(IndexFlatIP)``) below ``APPROXIMATE_FROM`` vectors, where
  scanning every vector costs a few milliseconds a query;
- ``ivf`` (approximate, ``IndexIVFFlat`` with inner product) from there on: the vectors are
  grouped around ``nlist`` centroids (k-means on a sample) and a query scans only the ``nprobe``
  nearest groups. ``nprobe`` is tuned when the index is built: the smallest that finds at least
  ``RECALL_TARGET`` of the exact top 10 for a sample of the library's own items used as queries
  (each one's own id left out). IVF rather than HNSW because FAISS's HNSW cannot remove vectors
  (every re-ingested item removes its old one), builds far slower, and cannot be memory-mapped;
  an IVF file is read with ``mmap`` so a command opening a million-item library reads only the
  lists its query touches.

The kind changes only when an index is built or settled after a write (``settle``): an ingest
that takes the library past ``APPROXIMATE_FROM`` builds the IVF before the index file is saved.
An IVF is rebuilt (new centroids, new ``nlist``) when the library has grown or shrunk 4x since its
centroids were trained, and a library that shrinks below half the threshold goes back to flat.
The choice and its parameters (``describe()``) are recorded in the stamp beside the index.

The index is written atomically (a temporary file, fsync, rename) beside a small JSON stamp that
records which library generation it reflects, so a crash between the database commit and the
index write is detected and repaired from the stored vectors, never by re-embedding.
"""
from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import LibraryError

APPROXIMATE_FROM = 50_000  # vectors; chosen from bench/scale.py's curve (see docs/scaling.md)
RECALL_TARGET = 0.96  # recall@10 against exact search that nprobe is tuned to (check wants >= 0.95)
TUNING_QUERIES = 1000  # sampled items whose exact neighbours nprobe is tuned against
REBUILD_FACTOR = 4  # an IVF is retrained when the library grew or shrank this much since training
SEED = 1234


def kind_for(size: int, current: str = "flat") -> str:
    """The index kind for ``size`` vectors (``current``: the kind it has, for hysteresis)."""
    if size >= APPROXIMATE_FROM:
        return "ivf"
    if current == "ivf" and size >= APPROXIMATE_FROM // 2:
        return "ivf"
    return "flat"


def nlist_for(size: int) -> int:
    """Number of IVF lists for ``size`` vectors: the power of two nearest 4 x sqrt(size). (For the
    same recall, 4 x sqrt(n) lists scanned ~40% fewer vectors a query than 2 x sqrt(n) on 200k
    TutorialBank-like vectors; training costs twice as much, once per 4x growth.)"""
    return max(1, 2 ** round(math.log2(max(1.0, 4 * math.sqrt(size)))))


def probes(nlist: int) -> list[int]:
    """The nprobe values tuning tries: about 1.5x apart, up to every list.

    >>> probes(40)
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 40]
    """
    return sorted({m * 2 ** k for m in (1, 3) for k in range(max(1, nlist).bit_length()) if m * 2 ** k < nlist}
                  | {max(1, nlist)})


class VectorIndex:
    """Inner-product search over L2-normalised vectors (so scores are cosines)."""

    def __init__(self, dim: int | None, index=None, params: dict | None = None):
        """An index of ``dim``-dimensional vectors; ``dim`` None for a library that has no vectors
        yet (the first ``add`` sets it). ``params``: what ``describe()`` recorded when it was built."""
        self.dim = dim
        self.index = index if index is not None or dim is None else self._empty(dim)
        self.params = dict(params or {})
        self.mapped = False  # read with mmap: must be copied into memory before it can change
        self.changed = False  # vectors added or removed since it was loaded, built or saved

    @staticmethod
    def _empty(dim: int):
        import faiss

        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def size(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    @property
    def kind(self) -> str:
        import faiss

        return "ivf" if isinstance(self.index, faiss.IndexIVF) else "flat"

    def describe(self) -> dict:
        """What kind of index this is and how it was built (recorded in the stamp)."""
        if self.kind == "flat":
            return {"kind": "flat", "approximate_from": APPROXIMATE_FROM}
        return {"kind": "ivf", "nlist": int(self.index.nlist), "nprobe": int(self.index.nprobe),
                "trained_for": int(self.params.get("trained_for", self.size)),
                "recall_at_10": self.params.get("recall_at_10"), "recall_target": RECALL_TARGET,
                "approximate_from": APPROXIMATE_FROM, "metric": "inner product"}

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def build(cls, dim: int | None, ids: np.ndarray, vectors: np.ndarray, kind: str | None = None) -> "VectorIndex":
        """An index of these vectors, of the kind their number calls for (or ``kind``)."""
        kind = kind or kind_for(len(ids))
        if kind == "ivf" and len(ids):
            return cls._ivf(int(vectors.shape[1]), np.asarray(ids, dtype=np.int64),
                            np.ascontiguousarray(vectors, dtype=np.float32))
        index = cls(dim)
        index.add(ids, vectors)
        return index

    @classmethod
    def _ivf(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> "VectorIndex":
        import faiss

        nlist = min(nlist_for(len(ids)), max(1, len(ids) // 39))  # k-means wants >= 39 points a centroid
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # the centroids stay on the unit sphere, as the vectors are
        index.cp.niter = 10
        index.cp.seed = SEED
        sample = np.random.default_rng(SEED).permutation(len(ids))[:min(len(ids), 40 * nlist)]
        with _threads(len(ids)):
            index.train(vectors[np.sort(sample)])
            index.add_with_ids(vectors, ids)
        index.nprobe, recall = _tuned_nprobe(index, ids, vectors)
        built = cls(dim, index, {"trained_for": len(ids), "recall_at_10": recall})
        built.changed = True
        return built

    def recall(self, ids: np.ndarray, vectors: np.ndarray, queries: int = 500, seed: int = SEED + 2) -> float:
        """Recall@10 of this index against exact search over ``vectors`` (the library's stored
        vectors), with ``queries`` sampled items as queries, each one's own id left out."""
        rows, truth = _exact_sample(ids, vectors, queries, seed)
        return recall_at_10(self.search(vectors[rows], 11)[1], truth, ids[rows])

    def settle(self) -> bool:
        """Make the index the kind its size calls for (after a write); True if it was rebuilt."""
        want = kind_for(self.size, self.kind)
        if want == self.kind:
            trained = self.params.get("trained_for") or self.size
            if want == "flat" or trained / REBUILD_FACTOR <= self.size <= trained * REBUILD_FACTOR:
                return False
        ids, vectors = self.items()
        rebuilt = VectorIndex.build(self.dim, ids, vectors, kind=want)
        self.index, self.params, self.mapped, self.changed = rebuilt.index, rebuilt.params, False, True
        return True

    # -- changing ---------------------------------------------------------------------------------
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if self.index is None:
                self.dim = int(vectors.shape[1])
                self.index = self._empty(self.dim)
            self._own()
            self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
            self.changed = True

    def remove(self, ids) -> None:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) and self.index is not None:
            self._own()
            self.index.remove_ids(faiss.IDSelectorBatch(ids))
            self.changed = True

    def _own(self) -> None:
        """Copy a memory-mapped index into memory before it changes (FAISS aborts the process
        when a mapped index is written to). Copied from the mapping itself, not re-read from the
        path: the file may have been replaced since."""
        import faiss

        if not self.mapped:
            return
        mapped = self.index
        quantizer = faiss.clone_index(mapped.quantizer)
        copy = faiss.IndexIVFFlat(quantizer, mapped.d, mapped.nlist, faiss.METRIC_INNER_PRODUCT)
        copy.own_fields = True
        quantizer.this.disown()  # the copy frees it
        lists = mapped.invlists
        for n in range(mapped.nlist):
            count = lists.list_size(n)
            if count:
                copy.invlists.add_entries(n, count, lists.get_ids(n), lists.get_codes(n))
        copy.ntotal, copy.nprobe = mapped.ntotal, mapped.nprobe
        self.index, self.mapped = copy, False

    # -- reading ----------------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        return self.items(vectors=False)[0]

    def items(self, vectors: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(ids, vectors) the index holds, in the index's own order (vectors None if not asked)."""
        import faiss

        if self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim or 0), dtype=np.float32)
        if self.kind == "flat":
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            flat = faiss.downcast_index(self.index.index)
            held = faiss.vector_to_array(flat.codes).view(np.float32).reshape(self.size, self.dim) if vectors else None
            return ids, held
        lists = self.index.invlists
        id_parts, vector_parts = [], []
        for n in range(self.index.nlist):
            count = lists.list_size(n)
            if count:
                id_parts.append(faiss.rev_swig_ptr(lists.get_ids(n), count).copy())
                if vectors:
                    codes = faiss.rev_swig_ptr(lists.get_codes(n), count * lists.code_size)
                    vector_parts.append(np.frombuffer(codes, dtype=np.uint8).copy().view(np.float32).reshape(count, self.dim))
        ids = np.concatenate(id_parts).astype(np.int64)
        return ids, (np.vstack(vector_parts) if vectors else None)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) arrays of shape (len(vectors), k); missing neighbours have id -1."""
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if self.size == 0 or k <= 0:
            return np.zeros((len(vectors), 0), dtype=np.float32), np.zeros((len(vectors), 0), dtype=np.int64)
        with _threads(len(vectors)):
            return self.index.search(vectors, min(k, self.size))

    # -- on disk ----------------------------------------------------------------------------------
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
    def load(cls, path: Path, dim: int, params: dict | None = None) -> "VectorIndex":
        """The index saved at ``path``; an IVF is memory-mapped (``params``: its stamp's record)."""
        import faiss

        ivf = (params or {}).get("kind") == "ivf"
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if ivf else 0)
        except RuntimeError as exc:
            raise LibraryError(f"{path}: the vector index is unreadable ({str(exc).splitlines()[0][:120]}); run `aidlgraph check --repair` to rebuild it") from None
        if index.d != dim:
            raise LibraryError(f"{path}: index has {index.d} dimensions but the library's model has {dim}; run `aidlgraph check --repair`")
        loaded = cls(dim, index, params)
        if ivf and loaded.kind != "ivf":  # the stamp was wrong: read it again, unmapped
            return cls.load(path, dim)
        loaded.mapped = ivf
        return loaded


def _tuned_nprobe(index, ids: np.ndarray, vectors: np.ndarray) -> tuple[int, float]:
    """(the smallest nprobe, doubling from 1, whose recall@10 on a sample of the items reaches
    RECALL_TARGET; that recall)."""
    rows, truth = _exact_sample(ids, vectors, TUNING_QUERIES)
    queries = np.ascontiguousarray(vectors[rows])
    for nprobe in probes(int(index.nlist)):
        index.nprobe = nprobe
        with _threads(len(rows)):
            found = index.search(queries, 11)[1]
        recall = recall_at_10(found, truth, ids[rows])
        if recall >= RECALL_TARGET:
            break
    return nprobe, round(recall, 4)


def _exact_sample(ids: np.ndarray, vectors: np.ndarray, count: int, seed: int = SEED + 1) -> tuple[np.ndarray, np.ndarray]:
    """(rows of ``count`` sampled vectors, the ids of their exact 11 nearest neighbours)."""
    import faiss

    rows = np.sort(np.random.default_rng(seed).permutation(len(ids))[:min(len(ids), count)])
    exact = faiss.IndexFlatIP(int(vectors.shape[1]))
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    with _threads(len(rows)):
        _, truth = exact.search(np.ascontiguousarray(vectors[rows], dtype=np.float32), 11)
    return rows, np.where(truth >= 0, np.asarray(ids)[truth], -1)


def recall_at_10(found: np.ndarray, truth: np.ndarray, own: np.ndarray | None = None) -> float:
    """Mean share of each row's exact top 10 that ``found`` has in its top 10; with ``own`` (the
    query's own id per row), that id is left out of both lists first."""
    hits = total = 0
    for n in range(len(truth)):
        skip = own[n] if own is not None else None
        want = [i for i in truth[n] if i != skip and i >= 0][:10]
        got = [i for i in found[n] if i != skip and i >= 0][:10]
        hits += len(set(got) & set(want))
        total += len(want)
    return hits / total if total else 1.0


class _threads:
    """OpenMP threads for one search: one for a handful of queries (threads cost more than they
    save: 13 ms vs 2.7 ms for one query over 20k vectors on 2 cores), every core for batches.
    The OpenMP runtime is shared with torch, so the setting is put back afterwards."""

    def __init__(self, queries: int):
        self.queries = queries

    def __enter__(self):
        import faiss

        self.before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1 if self.queries <= 8 else (os.cpu_count() or 1))

    def __exit__(self, *exc):
        import faiss

        faiss.omp_set_num_threads(self.before)


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
