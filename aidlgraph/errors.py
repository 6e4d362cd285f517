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
    """A topic named by an item or a query that the library does not have."""

    def __init__(self, message: str, suggestions: list[str] | None = None):
        super().__init__(message)
        self.suggestions = suggestions or []


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
