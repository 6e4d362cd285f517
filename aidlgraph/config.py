"""Where things live: the library directory, the shipped corpus and the embedding model setting."""
from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGE_DIR = Path(__file__).resolve().parent


def library_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The library directory: ``--library``, else ``$AIDLGRAPH_HOME``, else the user data dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("AIDLGRAPH_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("aidlgraph", appauthor=False))


def data_dir() -> Path:
    """The shipped corpus: ``$AIDLGRAPH_DATA``, else ``data/`` beside the package (a checkout or
    an editable install), else the copy a regular install puts in ``<prefix>/share/aidlgraph``."""
    env = os.environ.get("AIDLGRAPH_DATA")
    if env:
        return Path(env).expanduser()
    beside = PACKAGE_DIR.parent / "data"
    if beside.is_dir():
        return beside
    return Path(sys.prefix) / "share" / "aidlgraph" / "data"


def model_name() -> str:
    """The embedding model setting: ``$AIDLGRAPH_MODEL`` (a local path or a name), else MiniLM."""
    return os.environ.get("AIDLGRAPH_MODEL") or DEFAULT_MODEL
