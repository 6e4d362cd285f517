"""RSS and Atom feeds saved as files: each entry is an item.

feedparser does the format work (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, broken XML it can recover
from); this module only maps entries to Items. Entry HTML is reduced to text with the stdlib
parser, so a feed cannot smuggle markup or scripts into the library. A feed whose entries carry
long bodies is a blog, so its entries are posts; short ones are news.
"""
from __future__ import annotations

import io
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import InputError
from .model import Batch, Item, Topic, normalise_name

POST_CHARS = 500  # news summaries are a few sentences; blog bodies run to paragraphs
BLOCK_TAGS = {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
              "blockquote", "pre", "section", "article", "table", "hr", "dd", "dt"}
SKIP_TAGS = {"script", "style", "head", "title", "noscript", "template"}


class _TextParser(HTMLParser):
    """Collect the text of an HTML fragment, a line break at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in SKIP_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags gone, entities unescaped, paragraphs kept apart."""
    if not html:
        return ""
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; anything it still rejects is kept as text
        return " ".join(html.split())
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _date(entry: Any) -> str:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            return time.strftime("%Y-%m-%d", value)
    return ""


def _authors(entry: Any) -> list[str]:
    names = [html_to_text(a.get("name", "")) for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n for n in names if n]
    if not names and entry.get("author"):
        names = [html_to_text(entry["author"])]
    # RSS puts "email (Name)" in <author>; keep the name
    return [m.group(1) if (m := re.match(r"^\S+@\S+\s+\((.+)\)$", n)) else n for n in names]


def _body(entry: Any) -> str:
    """The fullest text an entry has: its longest content, else its summary."""
    contents = [c.get("value", "") for c in entry.get("content") or [] if isinstance(c, dict)]
    best = max(contents, key=len, default="")
    summary = entry.get("summary", "") or ""
    return html_to_text(best if len(best) >= len(summary) else summary)


def _feed_text(text: str) -> bytes:
    """The feed as UTF-8 bytes, its XML declaration saying so (the text was already decoded)."""
    text = re.sub(r"^(\s*<\?xml[^>]{0,200}?encoding=)[\"'][^\"']{0,40}[\"']", r'\1"utf-8"', text, count=1)
    return text.encode("utf-8", errors="replace")


def load_feed(text: str, origin: str) -> Batch:
    """Read an RSS or Atom file into items; see the module docstring."""
    import feedparser

    name = Path(origin).name
    try:
        parsed = feedparser.parse(io.BytesIO(_feed_text(text)))
    except Exception as exc:  # feedparser reports problems in bozo, but be safe on odd input
        raise InputError(f"{name}: not a valid RSS/Atom feed ({exc}); save the feed's XML as the file") from None
    entries = parsed.get("entries") or []
    if parsed.get("bozo") and not entries:
        reason = str(parsed.get("bozo_exception") or "unreadable XML").splitlines()[0][:200]
        # expat's "<unknown>:2:27:" counts lines of feedparser's rewritten copy, not the file's
        reason = re.sub(r"^<unknown>:\d+:\d+:\s*", "", reason) or "unreadable XML"
        raise InputError(f"{name}: not a valid RSS/Atom feed ({reason}); save the feed's XML as the file")
    feed = parsed.get("feed") or {}
    source = html_to_text(feed.get("title", "")) or Path(origin).stem
    inherit = str(parsed.get("version", "")).startswith("atom")  # Atom entries inherit the feed's author
    feed_authors = _authors(feed) if inherit else []

    bodies = [_body(e) for e in entries]
    lengths = sorted(len(b) for b in bodies)
    kind = "post" if lengths and lengths[(len(lengths) - 1) // 2] >= POST_CHARS else "news"

    batch = Batch(origin=origin)
    declared: dict[str, Topic] = {}
    for entry, body in zip(entries, bodies):
        title = html_to_text(entry.get("title", ""))
        if not title:
            if not body:
                continue
            first = body.split("\n")[0]
            title = first if len(first) <= 100 else first[:99].rsplit(" ", 1)[0] + "…"
        topics = []
        for tag in entry.get("tags") or []:
            term = html_to_text((tag.get("term") or tag.get("label") or "") if isinstance(tag, dict) else "")
            if term and term not in topics:
                topics.append(term)
                declared.setdefault(normalise_name(term) or term, Topic(name=term))
        extra = {}
        if entry.get("id") and entry.get("id") != entry.get("link"):
            extra["guid"] = entry["id"]
        batch.items.append(Item(
            title=title, kind=kind, url=(entry.get("link") or "").strip(), text=body, source=source,
            date=_date(entry), authors=_authors(entry) or list(feed_authors), topics=topics, extra=extra,
        ))
    batch.topics = list(declared.values())
    return batch
