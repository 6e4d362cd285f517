"""Loading sources into Items: one loader per format, chosen by extension or by sniffing.

Every loader takes the decoded text of one file and its origin and returns a Batch; loaders
never touch the library. Input problems raise InputError with the file named and a fix.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, NothingToReadError
from .limits import MAX_BYTES, MAX_ITEMS, MAX_LINE
from .model import KINDS, Batch, Item, Prereq, Topic, normalise_name, slugify

log = logging.getLogger(__name__)

__all__ = [
    "KINDS", "Batch", "Item", "Prereq", "Topic", "load_path", "load_sources", "Sources", "load_text", "read_text",
    "normalise_name", "slugify", "SUFFIXES", "decode_bytes",
]

SUFFIXES = {
    ".yaml": "records", ".yml": "records", ".json": "records", ".jsonl": "records",
    ".ndjson": "records", ".csv": "records", ".tsv": "records",
    ".md": "markdown", ".markdown": "markdown",
    ".txt": "text", ".text": "text",
    ".rss": "feed", ".atom": "feed", ".xml": "feed",
}


def read_text(path: Path) -> str:
    """The file's text, or an InputError saying why it cannot be read as text."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path}: {size // 2**20} MiB is too large to ingest; split it into files under {MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc}); check the path and its permissions") from None
    if not data or data.isspace():  # (not strip(): that would copy a large file once more)
        raise NothingToReadError(f"{path}: the file is empty; give a file with items in it", "empty file")
    return decode_bytes(data, str(path))


# Byte-order marks, longest first: UTF-32 LE begins with the UTF-16 LE mark.
BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32"), (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32"),
        (b"\xef\xbb\xbf", "utf-8", "UTF-8"), (b"\xff\xfe", "utf-16-le", "UTF-16"), (b"\xfe\xff", "utf-16-be", "UTF-16"))
SHOWN_LINES = 10  # line numbers a warning lists


def decode_bytes(data: bytes, name: str) -> str:
    """The text of a source file's bytes: a byte-order mark first (UTF-8, UTF-16 LE/BE, UTF-32),
    then UTF-16 without one (Excel's "Unicode text": every other byte NUL), then UTF-8; a file that
    is UTF-8 but for some lines (one stray Latin-1 byte) keeps its UTF-8 lines, and only the others
    are read as Windows-1252, with a warning naming them. NUL bytes in anything else mean binary.

    >>> decode_bytes("Naïve".encode("utf-16"), "x.csv"), decode_bytes("Naïve".encode("utf-16-le"), "x.csv")
    ('Naïve', 'Naïve')
    """
    for bom, encoding, label in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: starts with a {label} byte-order mark but byte {exc.start + len(bom)} is not "
                                 f"{label}; re-save it as UTF-8") from None
    encoding = _utf16_without_bom(data[:8192])
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:8192]:
        raise InputError(f"{name}: this looks like a binary file, not text; ingest YAML, JSON, CSV/TSV, Markdown, text or RSS/Atom")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines, odd = [], []
    for number, raw in enumerate(data.splitlines(keepends=True), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            odd.append(number)
            try:
                lines.append(raw.decode("cp1252"))
            except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
                lines.append(raw.decode("latin-1"))
    shown = ", ".join(map(str, odd[:SHOWN_LINES])) + (f" and {len(odd) - SHOWN_LINES} more" if len(odd) > SHOWN_LINES else "")
    many = len(odd) > 1
    log.warning("%s: line%s %s of %d %s not UTF-8; read as Windows-1252 (check %s accented letters, or re-save "
                "the file as UTF-8)", name, "s" * many, shown, len(lines), "are" if many else "is", "their" if many else "its")
    return "".join(lines)


def _utf16_without_bom(head: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when NUL bytes sit at every other position, as text mostly
    in ASCII looks in UTF-16; None otherwise."""
    head = head[: len(head) // 2 * 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2].count(0) / (len(head) / 2), head[1::2].count(0) / (len(head) / 2)
    if odd > 0.3 and even < 0.02:
        return "utf-16-le"
    if even > 0.3 and odd < 0.02:
        return "utf-16-be"
    return None


def _kind_of(path: Path, text: str) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    head = text.lstrip()[:400].lower()
    if kind in (None, "text") and (head.startswith("<?xml") or "<rss" in head or "<feed" in head):
        return "feed"
    if kind == "feed" and not ("<rss" in head or "<feed" in head or "<?xml" in head or "<rdf" in head):
        raise InputError(f"{path}: not an RSS or Atom feed; save the feed's XML as the file")
    if kind is None:
        raise InputError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}; "
            "use .yaml, .json, .jsonl, .csv, .tsv, .md, .txt, .rss or .atom"
        )
    return kind


def load_text(text: str, origin: str, suffix: str, kind: str | None = None) -> Batch:
    """Parse already-read text as if it came from a file with ``suffix``."""
    path = Path(origin)
    kind = kind or _kind_of(path.with_suffix(suffix) if suffix else path, text)
    if kind == "records":
        from .records import load_records
        return load_records(text, origin, suffix.lower())
    if kind in ("markdown", "text"):
        _check_line_lengths(text, path.name)
    _check_item_count(text, path.name, kind)
    if kind == "markdown":
        from .markdown import load_markdown
        batch = load_markdown(text, origin)
    elif kind == "text":
        from .newsletter import load_newsletter
        batch = load_newsletter(text, origin)
    else:
        from .feeds import load_feed
        batch = load_feed(text, origin)
    if len(batch.items) > MAX_ITEMS:
        raise InputError(f"{path.name}: {len(batch.items)} items; a file may hold at most {MAX_ITEMS}: split it")
    return batch


# What can become an item, counted on the text before a loader builds anything: list bullets and
# table rows of Markdown, entries of a feed.
ITEM_MARKS = {
    "markdown": re.compile(r"^[ \t>]*(?:[-*+]|\d{1,9}[.)])[ \t]|^[ \t]*\|", re.MULTILINE),
    "feed": re.compile(r"<(?:item|entry)[\s>/]", re.IGNORECASE),
}


def _check_item_count(text: str, name: str, kind: str) -> None:
    marks = ITEM_MARKS.get(kind)
    if marks is None:
        return
    count = 0
    for _ in marks.finditer(text):
        count += 1
        if count > MAX_ITEMS:
            what = "bullets or table rows" if kind == "markdown" else "entries"
            raise InputError(f"{name}: more than {MAX_ITEMS} {what}; a file may hold at most {MAX_ITEMS} items: split it")


def _overlong_line(text: str) -> int:
    """The length of the first line longer than MAX_LINE, else 0, without splitting the text
    (a million short lines would be a million strings): each step looks at a window of MAX_LINE + 1
    characters from the start of a line; with no line break in it, that line is too long, else the
    next step starts after the window's last break. A step past a short line is followed by one
    past the window's end, so there are at most about 2 * len(text) / MAX_LINE steps.

    >>> _overlong_line("short\\n" * 3), _overlong_line("x" * (MAX_LINE + 5) + "\\nok")
    (0, 100005)
    """
    width, pos, size = MAX_LINE + 1, 0, len(text)
    while pos + width <= size:
        last = max(text.rfind("\n", pos, pos + width), text.rfind("\r", pos, pos + width))
        if last < 0:
            ends = [e for e in (text.find("\n", pos + width), text.find("\r", pos + width)) if e >= 0]
            return (min(ends) if ends else size) - pos
        pos = last + 1
    return 0


def _check_line_lengths(text: str, name: str) -> None:
    """Prose and reading lists have no 100k-character lines; the layout-reading loaders slow
    down more than linearly on them (seconds per megabyte of one line), so refuse them."""
    longest = _overlong_line(text)
    if longest:
        raise InputError(f"{name}: a line of {longest} characters; Markdown and text sources are read line by line "
                         f"and take lines of up to {MAX_LINE}: wrap the text, or give a structured format (YAML, JSON, CSV)")


def _in_library(path: Path, root: Path) -> bool:
    """True for files inside an aidlgraph library directory (its index stamp is not a source)."""
    folder = path.parent
    while True:
        if (folder / "library.db").exists():
            return True
        if folder == root or folder.parent == folder:
            return False
        folder = folder.parent


def _inside(path: Path, root: Path) -> bool:
    """True when ``path`` really lies under ``root``: a symlink in a folder that points out of it
    is not part of that folder (a server's ingest directory must not reach other files)."""
    return path.resolve().is_relative_to(root)


# Part of every file digest: a change to how files are read invalidates the digests.
LOADER_VERSION = "2"  # 2: Markdown headings as fields, questions and prose (issue 11)


def digest_of(path: Path) -> str:
    """A digest of the file's bytes and the loader version (empty when unreadable)."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return hashlib.sha1(LOADER_VERSION.encode() + b"\0" + data).hexdigest()


def load_path(path: str | os.PathLike, progress: bool = False,
              known: dict[str, str] | None = None) -> list[Batch]:
    """Load a file, or every loadable file under a folder (sorted; hidden files, and symlinks
    pointing out of the folder, skipped).

    ``known`` maps origins to the digests of their last ingest: a file whose digest matches is
    not parsed again and comes back as an empty Batch marked ``unchanged``."""
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or folder; check the path")
    if root.is_dir():
        real_root = root.resolve()
        files = sorted(
            p for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
            and not _in_library(p, root) and _inside(p, real_root)
        )
        if not files:
            raise InputError(f"{root}: no loadable files in this folder (.yaml .json .jsonl .csv .tsv .md .txt .rss .atom)")
    else:
        files = [root]
    batches = []
    for file in files:
        origin = str(file.resolve())
        digest = digest_of(file) if known is not None else ""
        if digest and known.get(origin) == digest:
            batches.append(Batch(origin=origin, digest=digest, unchanged=True))
            continue
        text = read_text(file)
        batch = load_text(text, origin, file.suffix, _kind_of(file, text))
        if not batch.items and not batch.topics:
            raise NothingToReadError(f"{file}: found no items or topics in it; see the README for the formats ingest reads",
                                     "no items")
        batch.digest = digest
        batches.append(batch)
    return batches


# -- a folder as a curator hands it over (new in issue 11; load_path above is the strict reader) --

# Files of a repository that are about the repository, not reading material: never read from a
# folder, and never mentioned (by stem, any extension).
NOT_SOURCES = {
    "license", "licence", "copying", "notice", "unlicense", "changelog", "changes", "history", "contributing",
    "code_of_conduct", "security", "codeowners", "funding", "citation", "authors", "maintainers",
    "package", "package-lock", "tsconfig", "jsconfig", "composer", "renovate", "vercel", "netlify",
    "_config", "mkdocs", "docker-compose", "environment", "codecov", "manifest", "pull_request_template",
    "issue_template",
}
NOT_SOURCE_DIRS = {"node_modules", "__pycache__", "site-packages", "bower_components"}


@dataclass
class Sources:
    """What ingest read from the paths it was given: the batches, the files read (as the user
    would name them) and the files skipped because they hold nothing to read, with why."""

    batches: list[Batch] = field(default_factory=list)
    read: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def extend(self, other: "Sources") -> None:
        self.batches += other.batches
        self.read += other.read
        self.skipped += other.skipped


def is_source_file(path: Path, root: Path) -> bool:
    """True for a file of a folder that ingest reads: a known extension, not hidden, not inside an
    aidlgraph library or a dependency folder, not a licence, changelog or package manifest."""
    parts = path.relative_to(root).parts
    return (path.suffix.lower() in SUFFIXES and path.stem.lower() not in NOT_SOURCES
            and not any(part.startswith(".") or part in NOT_SOURCE_DIRS for part in parts))


def load_sources(path: str | os.PathLike, known: dict[str, str] | None = None, strict: bool = False) -> Sources:
    """Load a file, or a folder as a curator trusts it to be read.

    A file named on its own is read as ``load_path`` reads it: nothing in it is an error. In a
    folder, files with nothing to read (empty, a page without entries, JSON that is not an item
    list) are skipped and listed with the reason, unless ``strict``, where the first one stops the
    ingest as before; licences, changelogs, package manifests and unknown extensions are passed
    over quietly. Malformed files are errors either way: nothing is written when one fails.
    """
    root = Path(path)
    if not root.is_dir():
        return Sources(load_path(root, known=known), [str(root)])
    real_root = root.resolve()
    files = sorted(p for p in root.rglob("*") if p.is_file() and is_source_file(p, root)
                   and not _in_library(p, root) and _inside(p, real_root))
    if not files:
        raise InputError(f"{root}: no loadable files in this folder (.yaml .json .jsonl .csv .tsv .md .txt .rss .atom)")
    out = Sources()
    for file in files:
        try:
            out.batches += load_path(file, known=known)
        except NothingToReadError as exc:
            if strict:
                raise
            out.skipped.append((str(file), exc.why))
            continue
        out.read.append(str(file))
    return out
