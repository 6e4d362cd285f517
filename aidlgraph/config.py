"""Every setting aidlgraph reads from the environment, in one place.

``settings()`` reads the ``AIDLGRAPH_*`` variables into one frozen :class:`Settings`; nothing else
in the package reads them. It is read again only when one of those variables changed since the
last call (tests and notebooks change them), so a command reads its environment once.

==============================  ===========================================================
``AIDLGRAPH_HOME``              the library directory (default: the user data dir)
``AIDLGRAPH_DATA``              the shipped corpus (default: ``data/`` beside the package)
``AIDLGRAPH_MODEL``             the embedding model: a local directory, or the default's name
``AIDLGRAPH_CACHE``             where the ONNX export of the model lives (user cache dir)
``AIDLGRAPH_ONNX``              ``0`` turns the ONNX runtime off (sentence-transformers only)
``AIDLGRAPH_BACKEND``           ``auto`` (default), ``onnx`` or ``torch``: how texts are embedded
``AIDLGRAPH_TOKEN``             enables ``POST /ingest`` (bearer token)
``AIDLGRAPH_INGEST_DIR``        the only directory ``POST /ingest`` may read paths from
``AIDLGRAPH_RESPONSE_CACHE``    responses the server keeps per library generation (0: none)
``AIDLGRAPH_ALLOWED_HOSTS``     extra ``Host`` names the server answers (comma-separated)
``AIDLGRAPH_PROGRESS``          show progress bars even when stderr is not a terminal
``AIDLGRAPH_DEBUG``             show tracebacks for unexpected errors
==============================  ===========================================================
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import LibraryError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGE_DIR = Path(__file__).resolve().parent
VARIABLES = ("HOME", "DATA", "MODEL", "CACHE", "ONNX", "BACKEND", "TOKEN", "INGEST_DIR", "RESPONSE_CACHE",
             "ALLOWED_HOSTS", "PROGRESS", "DEBUG")
BACKENDS = ("auto", "onnx", "torch")
RESPONSE_CACHE = 1024
PER_TOPIC = 3  # readings at a path's target (one fewer at each earlier step): CLI and server alike


@dataclass(frozen=True)
class Settings:
    home: Path | None = None
    data: Path | None = None
    model: str = DEFAULT_MODEL
    cache: Path | None = None
    onnx: bool = True
    backend: str = "auto"
    token: str | None = None
    ingest_dir: Path | None = None
    response_cache: int = RESPONSE_CACHE
    allowed_hosts: tuple[str, ...] = ()
    progress: bool = False
    debug: bool = False

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(f"AIDLGRAPH_{name}") or "").strip()

        def path(name: str) -> Path | None:
            return Path(get(name)).expanduser() if get(name) else None

        def flag(name: str, default: bool) -> bool:
            value = get(name).lower()
            return default if not value else value not in ("0", "false", "no", "off")

        try:
            cache_size = int(get("RESPONSE_CACHE") or RESPONSE_CACHE)
        except ValueError:
            raise LibraryError("AIDLGRAPH_RESPONSE_CACHE must be a number of responses (0 turns the cache off)") from None
        backend = get("BACKEND").lower() or "auto"
        if backend not in BACKENDS:
            raise LibraryError(f"AIDLGRAPH_BACKEND is {backend!r}; use one of {', '.join(BACKENDS)}")
        return cls(
            home=path("HOME"), data=path("DATA"), model=get("MODEL") or DEFAULT_MODEL, cache=path("CACHE"),
            onnx=flag("ONNX", True), backend=backend, token=get("TOKEN") or None, ingest_dir=path("INGEST_DIR"),
            response_cache=max(0, cache_size),
            allowed_hosts=tuple(h.strip().lower() for h in get("ALLOWED_HOSTS").split(",") if h.strip()),
            progress=flag("PROGRESS", False), debug=flag("DEBUG", False),
        )

    # -- where things live ---------------------------------------------------------------------
    def library_dir(self, explicit: str | os.PathLike | None = None) -> Path:
        """``--library``, else ``$AIDLGRAPH_HOME``, else the user data dir."""
        if explicit:
            return Path(explicit).expanduser()
        if self.home:
            return self.home
        import platformdirs

        return Path(platformdirs.user_data_dir("aidlgraph", appauthor=False))

    def data_dir(self) -> Path:
        """The shipped corpus: ``$AIDLGRAPH_DATA``, else ``data/`` beside the package (a checkout or
        an editable install), else the copy a regular install puts in ``<prefix>/share/aidlgraph``."""
        if self.data:
            return self.data
        beside = PACKAGE_DIR.parent / "data"
        if beside.is_dir():
            return beside
        return Path(sys.prefix) / "share" / "aidlgraph" / "data"

    def cache_dir(self) -> Path:
        """``$AIDLGRAPH_CACHE``, else the user cache dir (``~/.cache/aidlgraph`` on Linux)."""
        if self.cache:
            return self.cache
        import platformdirs

        return Path(platformdirs.user_cache_dir("aidlgraph", appauthor=False))


_CACHED: tuple[tuple, Settings] | None = None


def settings() -> Settings:
    """The settings of the current environment (read again only when a variable changed)."""
    global _CACHED
    key = tuple(os.environ.get(f"AIDLGRAPH_{name}") for name in VARIABLES)
    if _CACHED is None or _CACHED[0] != key:
        _CACHED = (key, Settings.from_env())
    return _CACHED[1]


# Shorthands for the two settings most callers need.
def library_dir(explicit: str | os.PathLike | None = None) -> Path:
    return settings().library_dir(explicit)


def data_dir() -> Path:
    return settings().data_dir()
