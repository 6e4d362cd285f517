"""Structured item lists: YAML, JSON, JSON Lines, CSV and TSV.

A YAML/JSON file holds a list of items, or a mapping with ``items`` (and an optional ``source``
label for all of them) and/or ``topics`` (the curated topic graph, as in ``data/topics.yaml``).
Column and key names are matched loosely (``title``/``name``, ``topic``/``topic_name``/``topics``,
``author``/``authors``, ``year``/``date``, ``medium``/``type``, ``level``, ``summary``/``description``/``text``).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from ..errors import InputError, NothingToReadError
from .limits import (MAX_CELLS, MAX_COLUMNS, MAX_DEPTH, MAX_EXTRA_CHARS, MAX_EXTRA_FIELDS, MAX_FIELD, MAX_ITEMS,
                     MAX_TOPICS, cap_extra)
from .model import KINDS, Batch, Item, Prereq, Topic, level_of, medium_of

TITLE_KEYS = ("title", "name", "resource", "label")
URL_KEYS = ("url", "link", "href", "uri")
TOPIC_KEYS = ("topics", "topic", "topic_name", "topic_names", "concept", "concepts", "category")
AUTHOR_KEYS = ("authors", "author", "by", "creator", "instructor")
DATE_KEYS = ("date", "published", "year")
KIND_KEYS = ("kind",)
MEDIUM_KEYS = ("medium", "type", "resource_type", "format")
LEVEL_KEYS = ("level", "difficulty")
TEXT_KEYS = ("text", "summary", "description", "abstract", "body", "content", "notes")
KNOWN = set(TITLE_KEYS + URL_KEYS + TOPIC_KEYS + AUTHOR_KEYS + DATE_KEYS + KIND_KEYS + MEDIUM_KEYS + LEVEL_KEYS
            + TEXT_KEYS) | {
    "source", "series", "position", "free", "core", "minutes", "access", "id",
}
log = logging.getLogger(__name__)


def load_records(text: str, origin: str, suffix: str) -> Batch:
    name = Path(origin).name
    if suffix in (".csv", ".tsv"):
        return _from_rows(_read_csv(text, name, "\t" if suffix == ".tsv" else ","), origin, declare_topics=True)
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                if len(rows) >= MAX_ITEMS:
                    raise InputError(f"{name}: more than {MAX_ITEMS} lines of items; a file may hold at most {MAX_ITEMS}: split it")
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{name}: malformed JSON on line {lineno} ({exc.msg}); one JSON object per line") from None
                except (ValueError, RecursionError) as exc:  # a 5000-digit number, nesting past the stack
                    raise InputError(f"{name}: unreadable JSON on line {lineno} ({_short(exc)}); one flat JSON object per line") from None
        _check_shape(rows, name, len(text))
        return _from_rows(rows, origin, declare_topics=False)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}: malformed JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); fix the syntax and retry") from None
        except RecursionError:
            raise InputError(f"{name}: JSON nested too deeply to read; flatten it into a list of items") from None
        except ValueError as exc:  # e.g. an integer over Python's 4300-digit conversion limit
            raise InputError(f"{name}: unreadable JSON ({_short(exc)}); fix the value and retry") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid syntax"
            raise InputError(f"{name}: malformed YAML{where} ({problem}); fix the syntax and retry") from None
        except RecursionError:
            raise InputError(f"{name}: YAML nested too deeply to read; flatten it into a list of items") from None
        except (ValueError, OverflowError) as exc:  # a constructor refusing a value (a 5000-digit int)
            raise InputError(f"{name}: unreadable YAML value ({_short(exc)}); fix the value and retry") from None
    _check_shape(data, name, len(text))
    return _from_document(data, origin)


def _short(exc: Exception) -> str:
    return str(exc).split(";")[0][:120]


def _check_shape(data: Any, name: str, text_len: int) -> None:
    """Refuse documents nested deeper than MAX_DEPTH, or that expand far beyond their text
    (YAML anchors and aliases: a "billion laughs" file of 500 bytes is 10^8 strings, and hashing
    it would never finish). Counts values and characters as if aliases were copied, and stops at
    the budget, so it is cheap on any input."""
    budget = max(1_000_000, 10 * text_len)
    stack, seen = [(data, 0)], 0
    while stack:
        value, depth = stack.pop()
        seen += 1 + (len(value) if isinstance(value, str) else 0)
        if isinstance(value, str) and len(value) > MAX_FIELD:
            raise InputError(f"{name}: a value of {len(value)} characters ({value[:40]!r}...); the limit per field is "
                             f"{MAX_FIELD}: shorten it, or link to the full text with a url")
        if seen > budget:
            raise InputError(f"{name}: the document expands to more than {budget} characters (YAML aliases?); "
                             "write the items out without anchors and aliases")
        if isinstance(value, str):
            _check_unicode(value, name)
            continue
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    seen += len(key)
                    _check_unicode(key, name)
            children = value.values()
        elif isinstance(value, (list, tuple, set)):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise InputError(f"{name}: values nested more than {MAX_DEPTH} levels deep; items are flat records")
        stack.extend((child, depth + 1) for child in children)


def _read_csv(text: str, name: str, delimiter: str) -> list[dict]:
    """The rows of a CSV or TSV file as dicts keyed by the lower-cased header, within the limits
    of ``limits`` (columns per row, cells per file, characters per field, rows per file), checked
    row by row as the reader goes. A quote that opens a field and swallows the rows after it (a
    title that starts with ``"``) is an error naming its line, never a silent merge; a TSV whose
    every line has the header's number of tabs is read line by line, its quotes as plain text."""
    sample = text[:4096]
    if delimiter == "," and sample.count("\t") > sample.count(","):
        delimiter = "\t"
    first = text[: text.find("\n")] if "\n" in text else text
    if first.count(delimiter) >= MAX_COLUMNS:
        raise InputError(f"{name}: the header has {first.count(delimiter) + 1} columns; a CSV/TSV file may have at "
                         f"most {MAX_COLUMNS}")
    quoting = csv.QUOTE_NONE if delimiter == "\t" and _one_row_per_line(text, first.count("\t")) else csv.QUOTE_MINIMAL
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(_bounded_lines(text, delimiter, name), delimiter=delimiter, quoting=quoting)
    line = 0  # the last line of the last complete row: the next row starts after it
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if not any(h in TITLE_KEYS or h in URL_KEYS for h in header):
            raise InputError(f"{name}: no title or url column in the header {header[:8]}; name a column 'title' or 'url'")
        rows, cells, line = [], len(header), reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(row):
                continue
            cells += len(row)
            if len(row) > MAX_COLUMNS or cells > MAX_CELLS or len(rows) >= MAX_ITEMS:
                raise InputError(f"{name}: line {start}: " + (
                    f"{len(row)} columns; a row may have at most {MAX_COLUMNS}" if len(row) > MAX_COLUMNS else
                    f"more than {MAX_CELLS} cells; a file may have at most {MAX_CELLS}: split it" if cells > MAX_CELLS else
                    f"more than {MAX_ITEMS} rows; a file may hold at most {MAX_ITEMS}: split it"))
            if line > start:
                _check_not_swallowed(row, len(header), delimiter, name, start, line)
            if quoting == csv.QUOTE_NONE:
                row = [_unquote(v) for v in row]
            rows.append({h: v for h, v in zip(header, row) if h})
        return rows
    except csv.Error as exc:
        where = f"line {line + 1}: "  # where the row being read began
        if "field larger than field limit" in str(exc):
            raise InputError(f"{name}: {where}a field of more than {MAX_FIELD} characters (the limit per field); "
                             "a quote that opens a field and never closes does this: check the quotes") from None
        raise InputError(f"{name}: {where}malformed CSV ({exc}); check the quoting and the delimiter") from None


def _bounded_lines(text: str, delimiter: str, name: str):
    """The file's lines for the csv reader, refusing at once a line with more than MAX_COLUMNS
    delimiters and no quote (the reader would build a list of all its cells first)."""
    for number, line in enumerate(io.StringIO(text), 1):
        if line.count(delimiter) >= MAX_COLUMNS and '"' not in line:
            raise InputError(f"{name}: line {number}: {line.count(delimiter) + 1} columns; a row may have at most {MAX_COLUMNS}")
        yield line


def _one_row_per_line(text: str, tabs: int) -> bool:
    """True when every non-blank line has exactly ``tabs`` tabs: a TSV written without quoting,
    where a ``"`` is part of the text (read as CSV, a title starting with one would swallow rows)."""
    if '"' not in text:
        return False  # nothing to decide: both readings agree
    return all(line.count("\t") == tabs for line in io.StringIO(text) if line.strip())


def _unquote(value: str) -> str:
    """A TSV cell read line by line that is quoted as CSV would quote it: the quotes removed."""
    if len(value) >= 2 and value[0] == value[-1] == '"' and '"' not in value[1:-1].replace('""', ""):
        return value[1:-1].replace('""', '"')
    return value


def _check_not_swallowed(row: list[str], columns: int, delimiter: str, name: str, start: int, end: int) -> None:
    """Refuse a row spanning lines ``start``..``end`` whose quoted field took in lines that look
    like rows of their own (exactly the header's number of delimiters): a quote that opened a
    field and closed rows later, or never. Quoted fields with line breaks in prose pass."""
    rowlike = sum(1 for value in row if "\n" in value
                  for part in value.split("\n")[1:] if part.strip() and part.count(delimiter) == columns - 1)
    if rowlike >= 3 or (rowlike and len(row) != columns):
        raise InputError(f"{name}: line {start}: a quote opens a field that runs on to line {end}, taking in {rowlike} "
                         "lines that look like rows; if a field starts with a quote, quote the whole field and double "
                         'the quote ("" inside), or remove it')


def _check_unicode(text: str, name: str) -> None:
    """A JSON or YAML escape such as \\ud800 decodes to a lone surrogate, which no file or database
    can hold as UTF-8 (hashing and storing the item would fail later)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"{name}: invalid character {text[exc.start]!r} (a lone surrogate escape) "
                             f"in {text[max(0, exc.start - 20):exc.start]!r}; fix or remove it") from None


def _from_document(data: Any, origin: str) -> Batch:
    name = Path(origin).name
    batch = Batch(origin=origin)
    if isinstance(data, list):
        return _from_rows(data, origin, declare_topics=False)
    if not isinstance(data, dict) or not ({"items", "topics"} & set(data)):
        raise NothingToReadError(f"{name}: expected a list of items, or a mapping with 'items' and/or 'topics'",
                                 "not an item list")
    if data.get("topics") is not None:
        topics, prereqs = _topics(data["topics"], name)
        batch.states_prereqs = True
        batch.topics.extend(topics)
        batch.prereqs.extend(prereqs)
    if data.get("items") is not None:
        if not isinstance(data["items"], list):
            raise InputError(f"{name}: 'items' must be a list of items")
        source = _text(data.get("source"))
        defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
        rows = [{**defaults, **row} if isinstance(row, dict) else row for row in data["items"]]
        batch.extend(_from_rows(rows, origin, declare_topics=False, source=source))
    return batch


def _topics(entries: Any, name: str) -> tuple[list[Topic], list[Prereq]]:
    if not isinstance(entries, list):
        raise InputError(f"{name}: 'topics' must be a list of topics")
    topics, prereqs = [], []
    for n, entry in enumerate(entries, 1):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not _text(entry.get("name") or entry.get("id")):
            raise InputError(f"{name}: topic {n} has no name; give each topic at least 'name'")
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list):  # one alias as a string (or a stray number)
            aliases = [aliases]
        topic = Topic(
            name=_text(entry.get("name") or entry.get("id")),
            id=_text(entry.get("id")),
            aliases=[_text(a) for a in aliases if _text(a)],
            description=_text(entry.get("description") or entry.get("summary")),
            minutes=_number(entry.get("minutes"), f"{name}: topic {n} minutes"),
        )
        topics.append(topic)
        reqs = entry.get("prerequisites") or []
        if not isinstance(reqs, list):
            reqs = [reqs]
        for req in reqs:
            if isinstance(req, str):
                req = {"topic": req}
            if not isinstance(req, dict) or not _text(req.get("topic")):
                raise InputError(f"{name}: a prerequisite of topic {topic.name!r} has no 'topic'")
            prereqs.append(Prereq(src=_text(req["topic"]), dst=topic.id, reason=_text(req.get("reason"))))
    return topics, prereqs


def _from_rows(rows: list, origin: str, declare_topics: bool, source: str = "") -> Batch:
    name = Path(origin).name
    batch = Batch(origin=origin)
    default_source = source or Path(origin).stem
    if len(rows) > MAX_ITEMS:
        raise InputError(f"{name}: {len(rows)} items; a file may hold at most {MAX_ITEMS}: split it")
    capped = 0
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise InputError(f"{name}: item {n} is not a mapping of fields; each item needs at least a title")
        row = {str(k).strip().lower(): v for k, v in row.items()}
        title, url = _first(row, TITLE_KEYS), _first(row, URL_KEYS)
        if not title and not url:
            if declare_topics:  # a blank spreadsheet row
                continue
            raise InputError(f"{name}: item {n} has neither a title nor a url; give it a title")
        topics = _list(_first_raw(row, TOPIC_KEYS))
        if len(topics) > MAX_TOPICS:
            raise InputError(f"{name}: item {n} names {len(topics)} topics; an item may name at most {MAX_TOPICS}")
        # `kind` is what an item is to the archive (resource, news, ...); `medium` what a resource
        # is to a learner (course, paper, ...). Sources that say "kind: paper" mean the medium.
        kind_raw, medium_raw = _first(row, KIND_KEYS), _first(row, MEDIUM_KEYS)
        kind = kind_raw.lower() if kind_raw.lower() in KINDS else ("" if kind_raw else "resource")
        if not kind:
            kind, medium_raw = "resource", medium_raw or kind_raw
        extra = {k: v for k, v in row.items() if k not in KNOWN and v not in (None, "")}
        medium = medium_of(medium_raw)
        if medium_raw and not medium:
            extra["medium"] = medium_raw  # a medium we have no word for: kept as the source said it
        extra, cut = cap_extra(extra)
        capped += cut
        free = row.get("free")
        access = _text(row.get("access")).lower()
        if isinstance(free, str):
            free = {"true": True, "yes": True, "free": True, "false": False, "no": False, "paid": False}.get(free.lower())
        elif free is None and access:
            free = {"free": True, "paid": False}.get(access)
        item = Item(
            title=title or url,
            kind=kind,
            url=url,
            text=_first(row, TEXT_KEYS),
            source=_text(row.get("source")) or default_source,
            date=_date(_first_raw(row, DATE_KEYS)),
            authors=_list(_first_raw(row, AUTHOR_KEYS)),
            topics=topics,
            series=_text(row.get("series")),
            position=_int(row.get("position")),
            free=free if isinstance(free, bool) else None,
            core=bool(row.get("core")) if not isinstance(row.get("core"), str) else row["core"].lower() in ("true", "yes", "1"),
            minutes=_number(row.get("minutes"), f"{name}: item {n} minutes"),
            medium=medium, level=level_of(_first(row, LEVEL_KEYS)),
            extra=extra,
        )
        batch.items.append(item)
    if capped:
        log.warning("%s: %d items have more unknown fields than an item keeps (%d fields of %d characters); the rest "
                    "was cut", name, capped, MAX_EXTRA_FIELDS, MAX_EXTRA_CHARS)
    if declare_topics:
        batch.declare_item_topics()
    return batch


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split()) if not isinstance(value, str) else value.strip()


def _first_raw(row: dict, keys: tuple) -> Any:
    for key in keys:
        if row.get(key) not in (None, "", []):
            return row[key]
    return None


def _first(row: dict, keys: tuple) -> str:
    return _text(_first_raw(row, keys))


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value if _text(v)]
    text = _text(value)
    if text.startswith("[") and text.endswith("]"):  # a JSON list kept in a CSV cell
        try:
            return _list(json.loads(text))
        except (ValueError, RecursionError):  # not JSON after all (or a pathological cell)
            pass
    for sep in (";", "|"):
        if sep in text:
            return [p.strip() for p in text.split(sep) if p.strip()]
    return [text] if text else []


def _date(value: Any) -> str:
    text = _text(value)
    return "" if text.lower() in ("", "none", "null", "unknown", "n/a", "0") else text


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):  # junk, NaN, infinity
        return None


def _number(value: Any, what: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"{what}: {str(value)[:40]!r} is not a number") from None
    return number
