"""The embedding model: which backend embeds, loaded once per process.

Backends (``AIDLGRAPH_BACKEND``, or ``ingest --backend``):

- ``onnx``: onnxruntime on the model's ONNX export (``onnx_backend``), no torch. The export is
  made once from the sentence-transformers model and checked against it.
- ``torch``: sentence-transformers itself (``torch_backend``).
- ``auto`` (default): ``onnx`` where onnxruntime is installed and the model exports faithfully,
  else ``torch``.

Heavy imports (torch, sentence-transformers, onnxruntime) happen inside the backends, so commands
that can answer without a model never pay for them.
"""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from ..config import settings
from ..errors import LibraryError
from .fake import FakeEmbedder
from .models import model_path

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


_LOADED: dict[tuple[str, str], Embedder] = {}


def load(name: str | None = None, backend: str | None = None) -> Embedder:
    """The embedder for model ``name`` (default: the configured one) through ``backend``
    (``auto``, ``onnx`` or ``torch``; default: the configured one), loaded once per process:
    ``auto`` gives the very object ``onnx`` (or, failing that, ``torch``) gives."""
    conf = settings()
    name = name or conf.model
    backend = backend or conf.backend
    if backend == "torch" or not conf.onnx:
        if backend == "onnx":
            raise LibraryError("AIDLGRAPH_ONNX=0 turns the ONNX backend off; unset it or use --backend torch")
        return _torch(name)
    for key in ((name, "onnx"), (name, backend)):
        if key in _LOADED:
            return _LOADED[key]
    embedder = _onnx(name)
    if embedder is not None:
        _LOADED[(name, "onnx")] = embedder
        return embedder
    if backend == "onnx":
        raise LibraryError(f"model {name!r} has no usable ONNX export here (onnxruntime missing, or the model "
                           "does not export faithfully); use --backend torch")
    _LOADED[(name, "auto")] = _torch(name)  # remembered: the export is not retried on every call
    return _LOADED[(name, "auto")]


def _torch(name: str) -> Embedder:
    if (name, "torch") not in _LOADED:
        from .torch_backend import SentenceTransformerEmbedder

        _LOADED[(name, "torch")] = SentenceTransformerEmbedder(name)
    return _LOADED[(name, "torch")]


def _onnx(name: str) -> Embedder | None:
    """The ONNX embedder of ``name``, exporting the model first if it can; None if it cannot."""
    from . import onnx_backend

    embedder = onnx_backend.open_export(name)
    if embedder is None and onnx_backend.can_export():
        try:
            if onnx_backend.ensure_export(name, _torch(name).model) is not None:
                embedder = onnx_backend.open_export(name)
        except Exception as exc:  # a full cache disk, a failed trace: sentence-transformers still works
            log.warning("could not export %s to ONNX (%s); using sentence-transformers", name, exc)
    return embedder


__all__ = ["Embedder", "FakeEmbedder", "load", "model_path"]
