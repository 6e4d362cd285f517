"""Request bodies and parameters, parsed by small pure functions (bytes and strings in, values or
``ApiError`` out), so each rule is testable without a server.

Examples
--------
>>> text_or_json(b'{"question": "what is LARS?"}', "application/json", "question")
('what is LARS?', {'question': 'what is LARS?'})
>>> split_known(["a,b", "c"])
['a', 'b', 'c']
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..corpus import SUFFIXES
from ..corpus.model import KINDS
from ..errors import InputError
from ..text import clean_query

MAX_DRAFT = 200_000         # characters of a draft for POST /related (related.MAX_TEXT)
MAX_BODY = 1_000_000        # bytes of a POST /related or /ask body (a 200k-character draft, JSON-escaped)
MAX_QUESTION_BODY = 64 * 1024
MAX_UPLOAD = 20 * 2**20     # bytes of a POST /ingest upload
MAX_KNOWN = 50              # topics in ?known= (each may cost an embedding)


class ApiError(Exception):
    """A request the API refuses before any library call (bad body, auth, size): status and message."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ApiError(400, "the body looks binary; send UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not valid UTF-8; send UTF-8 text") from None


def decode_upload(data: bytes, filename: str) -> str:
    """An uploaded file's text, decoded as ``ingest`` decodes files (byte-order marks, UTF-16,
    UTF-8 with a per-line fallback): a spreadsheet saved as "Unicode text" uploads as it ingests."""
    from ..corpus import decode_bytes

    if not data.strip():
        return ""
    return decode_bytes(data, Path(filename.replace("\\", "/")).name[:200])


def parse_json(data: bytes) -> Any:
    try:
        obj = json.loads(decode(data))
        json.dumps(obj, ensure_ascii=False).encode("utf-8")  # "\ud800" escapes decode to unencodable text
        return obj
    except UnicodeEncodeError:
        raise ApiError(400, "malformed JSON body: it escapes a lone surrogate (\\ud800-\\udfff); send valid Unicode") from None
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON body: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON body: nested too deeply") from None


def text_or_json(data: bytes, content_type: str | None, field: str) -> tuple[str, dict]:
    """The text of a POST body: a JSON object's ``field`` or a text/plain body, and the object."""
    kind = media_type(content_type)
    if kind == "application/json":
        obj = parse_json(data)
        if not isinstance(obj, dict):
            raise ApiError(400, f'the JSON body must be an object such as {{"{field}": "..."}}')
        text = obj.get(field)
        if not isinstance(text, str):
            raise ApiError(400, f'the JSON body needs "{field}" as a string')
        return text, obj
    if kind in ("text/plain", "text/markdown"):
        return decode(data), {}
    raise ApiError(415, f"unsupported content type {kind or '(none)'!r}; send application/json "
                        f'({{"{field}": "..."}}) or text/plain')


def check_query(q: str, what: str = "q") -> str:
    """A query parameter: not empty, not over MAX_QUERY characters (returned as given)."""
    clean_query(q, what, longer="POST a longer draft to /related")
    return q


def split_known(values: list[str]) -> list[str]:
    known = [k for v in values for k in v.split(",") if k.strip()]
    if len(known) > MAX_KNOWN:
        raise InputError(f"known names {len(known)} topics; name at most {MAX_KNOWN}")
    return known


def check_kinds(kinds: list[str]) -> list[str]:
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ApiError(422, f"kind: {', '.join(map(repr, bad))} is not one of {', '.join(KINDS)}")
    return kinds


def related_options(obj: dict, defaults: dict) -> dict:
    """related()'s options: the JSON body's, else the query string's."""
    out = dict(defaults)
    for key in ("k", "kind", "before", "since", "exclude_source", "min_score"):
        if key not in obj or obj[key] is None:
            continue
        value = obj[key]
        if key == "k" and not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 500):
            raise ApiError(422, "k: must be an integer from 1 to 500")
        if key in ("kind", "exclude_source"):
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ApiError(422, f"{key}: must be a string or a list of strings")
        if key in ("before", "since") and not isinstance(value, str):
            raise ApiError(422, f"{key}: must be a date string (YYYY, YYYY-MM or YYYY-MM-DD)")
        if key == "min_score" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ApiError(422, "min_score: must be a number")
        out[key] = value
    return out


def check_draft(text: str) -> str:
    if not text.strip():
        raise InputError("the draft is empty; send the text to find related items for")
    if len(text) > MAX_DRAFT:
        raise ApiError(413, f"the draft is {len(text)} characters; keep drafts under {MAX_DRAFT}")
    return text


def upload_batch(filename: str, text: str):
    """Parse an uploaded file's text as the loader for its extension would, without a file."""
    from ..corpus import load_text

    name = Path(filename.replace("\\", "/")).name
    suffix = Path(name).suffix.lower()
    if not re.fullmatch(r"[\w .()+-]{1,200}", name) or suffix not in SUFFIXES:
        raise ApiError(400, f"filename {filename!r}: give a plain file name ending in one of {' '.join(SUFFIXES)}")
    if not text.strip():
        raise InputError(f"{name}: the upload is empty; send a file with items in it")
    batch = load_text(text, f"upload/{name}", suffix)
    if not batch.items and not batch.topics:
        raise InputError(f"{name}: found no items or topics in it; see the README for the formats ingest reads")
    return batch


def ingest_request(obj: Any) -> tuple[list | None, str | None, str | None]:
    """(paths, filename, text) of a JSON POST /ingest body."""
    if not isinstance(obj, dict) or not ({"paths"} <= obj.keys() or {"filename", "text"} <= obj.keys()):
        raise ApiError(400, 'send {"paths": [...]}, {"filename": "NAME.yaml", "text": "..."}, '
                            "or the file itself as the body with ?filename=NAME.yaml")
    if "paths" in obj:
        if not isinstance(obj["paths"], list) or not obj["paths"]:
            raise ApiError(400, '"paths" must be a non-empty list of file or folder names')
        return obj["paths"], None, None
    if not isinstance(obj["filename"], str) or not isinstance(obj["text"], str):
        raise ApiError(400, '"filename" and "text" must be strings')
    return None, obj["filename"], obj["text"]


def local_path(allowed: Path | None, raw: Any) -> Path:
    """A server-side path a client asked to ingest, confined to ``allowed``."""
    if allowed is None:
        raise ApiError(403, "ingesting server-side paths is off; set AIDLGRAPH_INGEST_DIR on the server, "
                            "or upload the file as the request body with ?filename=NAME.yaml")
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise ApiError(400, '"paths" must be a list of file or folder names')
    candidate = (allowed / raw).resolve()  # an absolute raw path replaces `allowed` here
    if candidate != allowed and allowed not in candidate.parents:
        raise ApiError(403, f"{raw!r} is outside the ingest directory; only paths under "
                            "AIDLGRAPH_INGEST_DIR can be ingested")
    if not candidate.exists():
        raise ApiError(404, f"{raw!r}: no such file or folder under the ingest directory")
    return candidate
