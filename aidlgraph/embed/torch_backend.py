"""The model through sentence-transformers (torch): the reference the ONNX export is checked
against, the source it is exported from, and the fallback (``--backend torch``)."""
from __future__ import annotations

import numpy as np

from ..errors import LibraryError
from .models import model_path, quiet_offline


class SentenceTransformerEmbedder:
    batch_size = 64

    def __init__(self, name: str):
        self.name = name
        quiet_offline()
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

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
