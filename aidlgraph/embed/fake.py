"""A deterministic stand-in for the embedding model, for tests that are not about the model.

As llm's ``EmbedDemo``: no weights, no torch, the same vector for the same text on every machine.
Each word (and each three-letter piece of it, so "segmentation" and "segmantation" stay close)
adds a fixed pseudo-random direction; the sum is normalised. Texts that share words are close,
which is all that ingest planning, graph, path and view tests need.

Examples
--------
>>> fake = FakeEmbedder(dim=64)
>>> a, b, c = fake.encode(["cuda shared memory", "shared memory in cuda", "poker bots"])
>>> bool(a @ b > 0.8), bool(a @ c < 0.3)
(True, True)
"""
from __future__ import annotations

import hashlib
import re

import numpy as np


class FakeEmbedder:
    def __init__(self, dim: int = 384, name: str = "fake-embedder"):
        self.dim = dim
        self.name = name
        self._cache: dict[str, np.ndarray] = {}

    def _direction(self, token: str) -> np.ndarray:
        vector = self._cache.get(token)
        if vector is None:
            seed = int.from_bytes(hashlib.sha1(token.encode("utf-8")).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            self._cache[token] = vector
        return vector

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9+#]+", str(text).lower()):
                out[row] += self._direction(word)
                for i in range(max(1, len(word) - 2)):
                    out[row] += 0.3 * self._direction("#" + word[i:i + 3])
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else self._direction("\0empty") / np.linalg.norm(self._direction("\0empty"))
        return out
