"""The one family of errors a user can cause.

Every message says what is wrong and what to do about it; the CLI prints it as one line and
exits 1, the server turns it into a 4xx JSON body.
"""
from __future__ import annotations


class AidlgraphError(Exception):
    """A problem the user can fix. ``str(err)`` is the one line shown to them."""


class InputError(AidlgraphError):
    """A source file or a query that cannot be used (empty, binary, malformed)."""


class NothingToReadError(InputError):
    """A source holding nothing to ingest (an empty file, a page with no items, a JSON file that is
    not an item list). Named on its own it is an error; inside a folder it is skipped with a note.
    ``why`` is the short reason the note gives."""

    def __init__(self, message: str, why: str):
        super().__init__(message)
        self.why = why


class UnknownTopicError(AidlgraphError):
    """A topic named by an item or a query that the library does not have. ``suggestions`` are
    the closest topics' names; ``related`` may hold the items closest to the query."""

    def __init__(self, message: str, suggestions: list[str] | None = None, related: list[dict] | None = None):
        super().__init__(message)
        self.suggestions = suggestions or []
        self.related = related or []


class AmbiguousTopicError(UnknownTopicError):
    """A query that could name two or three topics: "did you mean ...?" (``suggestions``)."""


class CycleError(AidlgraphError):
    """Prerequisite edges that loop back on themselves."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        loop = " -> ".join(cycle + cycle[:1])
        super().__init__(
            f"prerequisite cycle: {loop}; remove one of these edges from your topics file and retry"
        )


class LibraryError(AidlgraphError):
    """The library directory is missing, corrupt, locked or built with another model."""


class NotFoundError(AidlgraphError):
    """An item id that the library does not hold."""


class DiskFullError(LibraryError):
    """A write that failed because the disk (or the user's quota) is full. The message says what
    was and was not saved; the library is left as the last completed write left it."""


# -- telling a full disk from other I/O failures -------------------------------------------------
# SQLite reports a full disk as SQLITE_FULL (13), or as an I/O error (10, with an extended code in
# the high bits) when the write that failed was its shared-memory or WAL file; FAISS reports it as
# a RuntimeError carrying the C library's message.
_SQLITE_FULL, _SQLITE_IOERR = 13, 10
_FULL_MESSAGES = ("no space left on device", "disk quota exceeded", "database or disk is full")
LOW_SPACE = 1024 * 1024  # an I/O error with less free space than this is taken for a full disk


def free_bytes(path) -> int | None:
    """Free bytes on the filesystem holding ``path`` (its nearest existing parent), or None."""
    import os
    import shutil

    path = os.fspath(path)
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        return shutil.disk_usage(path or ".").free
    except OSError:
        return None


def free_text(path) -> str:
    """``"12 KB free"``: how much room the disk holding ``path`` has left, for error messages."""
    free = free_bytes(path)
    if free is None:
        return "free space unknown"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if free >= size:
            return f"{free / size:.1f} {unit} free" if free < 10 * size else f"{free // size} {unit} free"
    return f"{free} bytes free"


def is_disk_full(exc: BaseException, path=None) -> bool:
    """True when ``exc`` (an OSError, a sqlite3 error or a FAISS RuntimeError) says the disk is
    full; an I/O error without a clear cause counts as one when ``path``'s disk has almost no room."""
    import errno

    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if any(words in str(exc).lower() for words in _FULL_MESSAGES):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == _SQLITE_FULL:
        return True
    vague_io = (code is not None and code & 0xFF == _SQLITE_IOERR) or (
        isinstance(exc, OSError) and exc.errno in (None, errno.EIO))
    if path is not None and vague_io:
        free = free_bytes(path)
        return free is not None and free < LOW_SPACE
    return False
