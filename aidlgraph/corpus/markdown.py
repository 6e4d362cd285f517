"""Markdown reading lists and knowledge bases (awesome-list style): entries become items, and
headings say what the entries are and what they are about.

An awesome list is a tree of headings with bullets of links under them. The headings are the best
evidence the list gives, but not all of one sort (``corpus.sections``): a *field* heading names
what its entries are about, and each item carries its innermost one (or ``<details>`` summary)
as its topic name, for the build step to match to the library's topics; a *medium* heading
(``Courses``, ``Scientific Papers``, ``Free Courses``) sets the entries' medium, access and level
instead; *structure* headings (``FAQ``, ``The Path We Recommend``) are transparent. The list's own
title (a single H1 at the top) names the source, and is the field heading of what sits under a
medium heading right below it.

Knowledge bases also answer in prose: a question heading (``### Do I need a GPU?``) or a bold
question line followed by paragraphs is a ``question`` item whose text is the answer, and a
paragraph that recommends a titled link is an item with the paragraph as its text. Everything
that is not a reading (badges, table-of-contents anchors, links to the repo's own files, "back
to top", a link merely mentioned in passing) is skipped, and the tags lists use for access,
level, medium, recommendation and length (``[$]``, ``Free``, ``Beginner``, ``[pdf]``, ``:star:``,
``(2h)``, ``300 pages``) become fields instead of noise in titles.

The parser is line-based and hand-written on purpose: lists are loose Markdown, and a strict
CommonMark parser would not be more right about them. Links are matched with a bracket table, not
nested regular expressions, so no input can make it backtrack for long.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .model import Batch, Item, medium_of, normalise_name
from .sections import Heading, read_heading

SKIP_HEADINGS = {
    "contents", "content", "table of contents", "table of content", "toc", "index",
    "contributing", "contribute", "contributors", "contribution", "contributions",
    "how to contribute", "contribution guidelines", "license", "licence", "licensing",
    "footnotes", "sponsors", "sponsor", "sponsorship", "backers", "related lists",
    "related awesome lists", "other awesome lists", "code of conduct", "acknowledgements",
    "acknowledgments", "support", "support us", "donate", "donations", "changelog",
}
GENERIC_SUMMARIES = {
    "click to expand", "click here", "expand", "show", "show more", "see more", "more",
    "read more", "details", "spoiler", "toggle", "open", "click",
}
GENERIC_LINK_TEXT = {
    "link", "links", "here", "this", "pdf", "html", "web", "website", "site", "homepage",
    "home page", "url", "video", "videos", "slides", "paper", "code", "github", "repo", "source",
    "book", "course", "blog", "post", "article", "notes", "lecture", "lectures", "online",
    "free", "read", "download", "youtube", "arxiv", "web version", "read online",
    "official site", "project page", "demo", "ebook", "epub", "mobi",
}
BADGE_HOSTS = (
    "shields.io", "badgen.net", "travis-ci.org", "travis-ci.com", "circleci.com", "codecov.io",
    "coveralls.io", "badge.fury.io", "awesome.re", "app.codacy.com", "api.codacy.com",
    "badges.gitter.im", "img.badgesize.io", "forthebadge.com",
)
TAG_WORDS = {
    "$": ("free", False), "$$": ("free", False), "paid": ("free", False),
    "free": ("free", True), "freemium": ("tag", "freemium"),
    "beginner": ("level", "beginner"), "beginners": ("level", "beginner"),
    "novice": ("level", "beginner"), "intermediate": ("level", "intermediate"),
    "advanced": ("level", "advanced"), "expert": ("level", "advanced"),
    "video": ("tag", "video"), "videos": ("tag", "video"), "pdf": ("tag", "pdf"),
    "book": ("tag", "book"), "ebook": ("tag", "book"), "course": ("tag", "course"),
    "mooc": ("tag", "course"), "paper": ("tag", "paper"), "slides": ("tag", "slides"),
    "blog": ("tag", "blog"), "podcast": ("tag", "podcast"), "audio": ("tag", "audio"),
    "code": ("tag", "code"), "tutorial": ("tag", "tutorial"), "interactive": ("tag", "interactive"),
    "notebook": ("tag", "notebook"), "html": ("tag", "html"), "recommended": ("tag", "recommended"),
}
SHORTCODES = {
    "star": "star", "star2": "star", "stars": "star", "sparkles": "star", "glowing_star": "star",
    "moneybag": "$", "dollar": "$", "heavy_dollar_sign": "$", "money_with_wings": "$",
    "free": "free", "tv": "video", "movie_camera": "video", "video_camera": "video",
    "film_strip": "video", "books": "book", "book": "book", "closed_book": "book",
    "blue_book": "book", "page_facing_up": "pdf",
}
EMOJI_TAGS = {"⭐": "star", "🌟": "star", "💰": "$", "💲": "$", "🆓": "free", "🎥": "video",
              "📹": "video", "📺": "video", "📖": "book", "📚": "book", "📕": "book", "📄": "pdf"}
EMOJI_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\uFE0F\u200D\u20E3]")
SHORTCODE_RE = re.compile(r"(?<![:\w]):([a-z][a-z0-9_+-]{0,29}):(?![:\w])")
BRACKET_TAG_RE = re.compile(r"[\[(`]\s*(\${1,2}|[A-Za-z]{2,12})\s*[\])`]|\*\*\s*([A-Za-z]{3,12})\s*\*\*")
BARE_TAG_RE = re.compile(r"\b(free|paid|beginner|beginners|intermediate|advanced)\b", re.I)
DURATION_RE = re.compile(
    r"[\[(]\s*(?:(?P<h>\d{1,3}(?:\.\d)?)\s*(?:h|hrs?|hours?)\b\.?\s*(?:(?P<hm>\d{1,2})\s*(?:m|mins?|minutes?)\b\.?)?"
    r"|(?P<m>\d{1,3})\s*(?:m|mins?|minutes?)\b\.?)\s*[\])]", re.I)
# The end of a sentence: a period after a word of two or more letters ending in lowercase (not an
# initial such as "E.", nor "DeepLearning.AI"), then a capital.
SENTENCE_END_RE = re.compile(r"(?<=[A-Za-z\u00c0-\u00ff][a-z\u00df-\u00ff])\.\s+(?=[A-Z\[(])")
PAGES_RE = re.compile(r"\b(\d{2,4})\s*(?:pages|pp\b\.?)", re.I)
YEAR_END_RE = re.compile(r"[\[(] ?(?:\d{1,2}[/.-]){0,2}((?:19|20)\d\d) ?[\])]$")
YEAR_TAIL_RE = re.compile(r"(?:,|\s[-–—]) ?((?:19|20)\d\d)$")
NAV_RE = re.compile(r"^\W*(?:back to (?:the )?(?:top|contents|index)|go to top|top|table of contents|contents)\W*$", re.I)
BULLET_RE = re.compile(r"^(?P<indent>[ ]*)(?P<marker>[-*+]|\d{1,4}[.)])[ ]+(?P<body>.*)$")
ATX_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*)$")
HTML_HEADING_RE = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1\s*>\s*$", re.I)
REF_DEF_RE = re.compile(r"^ {0,3}\[([^\]]{1,200})\]:\s*<?(\S+?)>?(?:\s+[\"'(].*)?$")
ANCHOR_RE = re.compile(r"<a\s[^>]{0,300}?href\s*=\s*[\"']([^\"']{0,2000})[\"'][^>]{0,300}>(.{0,1000}?)</a\s*>", re.I)
TAG_RE = re.compile(r"<[^<>]{0,300}>")
BARE_URL_RE = re.compile(r"<?(https?://[^\s<>\]\)\"'`]+)>?", re.I)
DETAILS_RE = re.compile(r"<details\b[^>]*>|</details\s*>|<summary\b[^>]*>|</summary\s*>", re.I)
PARTICLES = {"de", "van", "von", "der", "den", "da", "di", "del", "la", "le", "bin", "du", "dos", "ter", "y"}
NOT_NAMES = {
    "the", "a", "an", "this", "that", "our", "my", "your", "their", "in", "on", "for", "with",
    "of", "to", "from", "and", "or", "part", "chapter", "vol", "volume", "edition", "free",
    "paid", "beginner", "advanced", "intermediate", "video", "book", "course", "pdf", "example",
    "examples", "python", "using", "university", "institute", "lab", "team", "google",
}


# ---------------------------------------------------------------- helpers shared with newsletter


@dataclass
class Link:
    """A Markdown link found in a line: where it is, what it says, where it points."""

    start: int
    end: int
    text: str
    url: str
    image: bool = False


def _pairs(s: str, opening: str, closing: str) -> dict[int, int]:
    """Matching bracket positions in one pass, so link finding stays linear on any input."""
    out: dict[int, int] = {}
    stack: list[int] = []
    for i, ch in enumerate(s):
        if ch in (opening, closing) and i and s[i - 1] == "\\":
            continue
        if ch == opening:
            stack.append(i)
        elif ch == closing and stack:
            out[stack.pop()] = i
    return out


def find_links(s: str, refs: dict[str, str] | None = None) -> list[Link]:
    """Inline ``[text](url)``, reference ``[text][ref]`` and image links in ``s``, in order."""
    refs = refs or {}
    close_of, paren_of = _pairs(s, "[", "]"), _pairs(s, "(", ")")
    links: list[Link] = []
    i, n = 0, len(s)
    while i < n:
        j = s.find("[", i)
        if j < 0:
            break
        k = close_of.get(j)
        if k is None:
            i = j + 1
            continue
        image = j > 0 and s[j - 1] == "!"
        text, url, end = s[j + 1:k], None, k + 1
        if k + 1 < n and s[k + 1] == "(" and (k + 1) in paren_of:
            m = paren_of[k + 1]
            inner = s[k + 2:m].strip()
            url, end = (inner.split()[0].strip("<>") if inner else ""), m + 1
        elif k + 1 < n and s[k + 1] == "[" and (k + 1) in close_of:
            m = close_of[k + 1]
            url = refs.get((s[k + 2:m].strip() or text.strip()).lower())
            end = m + 1 if url is not None else end
        elif refs:
            url = refs.get(text.strip().lower())
        if url is None:
            i = j + 1
            continue
        links.append(Link(j - 1 if image else j, end, text, url, image))
        i = end
    return links


def _bare_urls(s: str, taken: list[Link]) -> list[Link]:
    """Autolinks and bare URLs outside the Markdown links already found."""
    spans = sorted((l.start, l.end) for l in taken)
    starts = [a for a, _ in spans]
    out = []
    for m in BARE_URL_RE.finditer(s):
        k = bisect.bisect_right(starts, m.start()) - 1  # the link starting last before the URL
        if k < 0 or m.start() >= spans[k][1]:
            out.append(Link(m.start(), m.end(), "", m.group(1).rstrip(".,;:")))
    return out


def strip_inline(s: str, refs: dict[str, str] | None = None, _depth: int = 0) -> tuple[str, list[str]]:
    """Plain text of a Markdown/HTML line and the http(s) URLs its links point to.

    Images disappear, links become their text, bare URLs are taken out of the text (they are
    kept in the returned list), emphasis and tags are dropped, whitespace collapses.
    """
    if _depth > 4:  # links nested in link text: real lists nest one level, so stop early
        return " ".join(s.replace("[", " ").replace("]", " ").split()), []
    s = ANCHOR_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", s)
    links = find_links(s, refs)
    links += _bare_urls(s, links)
    links.sort(key=lambda l: l.start)
    urls: list[str] = []
    parts, pos = [], 0
    for link in links:
        if link.start < pos:
            continue
        parts.append(s[pos:link.start])
        if not link.image:
            if re.match(r"https?://", link.url, re.I):
                urls.append(link.url)
            if link.text:
                parts.append(strip_inline(link.text, refs, _depth + 1)[0])
        pos = link.end
    parts.append(s[pos:])
    text = TAG_RE.sub(" ", "".join(parts))
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return " ".join(text.split()), urls


def _name_words_ok(words: list[str]) -> bool:
    capitals = 0
    for word in words:
        if word.lower() in PARTICLES:
            continue
        if word.lower().strip(".") in NOT_NAMES or any(ch.isdigit() for ch in word):
            return False
        if not word[0].isupper() or not all(ch.isalpha() or ch in "'’.-" for ch in word):
            return False
        capitals += 1
    return capitals >= 1


def split_names(text: str, min_words: int = 1) -> tuple[list[str], bool] | None:
    """``"A. Smith, B. Jones and C. Lee et al."`` -> (names, et_al); None when it is not names.

    Each name must be 1-5 capitalised words (initials and particles allowed) with at least
    ``min_words`` words: a lone capitalised word after a dash is as often a platform as a person.
    """
    t = text.strip().rstrip(".,;: ")
    et_al = False
    m = re.search(r",?\s*(?:et\.?\s*al\.?|and others)$", t, re.I)
    if m:
        et_al, t = True, t[:m.start()]
    parts = [p.strip() for p in re.split(r",|;|&|\band\b", t)]
    parts = [p for p in parts if p]
    if not parts or len(parts) > 12:
        return None
    for part in parts:
        words = part.split()
        if not min_words <= len(words) <= 5 or not _name_words_ok(words):
            return None
        if any(len(w) > 2 and w.endswith(".") for w in words[:-1]):  # "Schmidhuber. Neural Computation"
            return None
    return parts, et_al


def split_byline(text: str) -> tuple[str, list[str], bool]:
    """``"Title by A. Smith et al"`` -> ("Title", ["A. Smith"], True); unchanged when no names follow."""
    low = text.lower()
    cut = low.rfind(" by ")
    if low.startswith("by "):
        names = split_names(text[3:])
        if names:
            return "", names[0], names[1]
    if cut > 0:
        names = split_names(text[cut + 4:])
        if names:
            return text[:cut].rstrip(" ,-–—:("), names[0], names[1]
    return text, [], False


# ---------------------------------------------------------------- tokens


@dataclass
class _Tok:
    kind: str  # heading, bullet, para, table, details, summary, enddetails
    text: str = ""
    level: int = 0
    indent: int = 0
    lines: int = 1
    rows: list[list[str]] = field(default_factory=list)


def _prepare(text: str) -> list[str]:
    """Lines without front matter, HTML comments, tabs or non-breaking spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    out, pos = [], 0
    while True:  # HTML comments, without a DOTALL regex that would rescan unclosed ones
        start = text.find("<!--", pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find("-->", start + 4)
        out.append(text[pos:start])
        if end < 0:
            break
        out.append("\n" * text.count("\n", start, end))
        pos = end + 3
    lines = [line.expandtabs(4).rstrip() for line in "".join(out).split("\n")]
    if lines and lines[0].strip() == "---":
        for i in range(1, min(len(lines), 200)):
            if lines[i].strip() in ("---", "..."):
                lines = lines[i + 1:]
                break
    return lines


def _is_table_sep(line: str) -> bool:
    cells = line.strip().strip("|").split("|")
    return "-" in line and all(re.fullmatch(r"\s*:?-{2,}:?\s*", c) for c in cells)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, cur, depth, i = [], [], 0, 0
    while i < len(line):  # pipes inside links or code are not cell borders
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur.append(line[i:i + 2])
            i += 2
            continue
        if ch in "[(`":
            depth += 1 if ch != "`" or not depth else -1
        elif ch in "])" and depth:
            depth -= 1
        if ch == "|" and depth <= 0:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur).strip())
    return cells


def _tokens(lines: list[str]) -> list[_Tok]:
    """Headings, bullets (with their continuation lines), paragraphs, tables and details tags."""
    toks: list[_Tok] = []
    para: list[str] = []
    fence = ""
    last_bullet: _Tok | None = None
    blank = True

    def flush() -> None:
        if para:
            toks.append(_Tok("para", " ".join(p.strip() for p in para), lines=len(para)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        i += 1
        if fence:
            if stripped.startswith(fence):
                fence = ""
            continue
        if stripped.startswith(("```", "~~~")):
            flush()
            fence, last_bullet = stripped[:3], None
            continue
        if not stripped:
            flush()
            blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if DETAILS_RE.search(stripped):
            flush()
            last_bullet = None
            rest = _details_tokens(stripped, lines, i, toks)
            i += rest
            blank = False
            continue
        heading = _heading(line)
        if heading:
            flush()
            toks.append(_Tok("heading", heading[1], level=heading[0]))
            last_bullet, blank = None, False
            continue
        nxt = lines[i].strip() if i < len(lines) else ""
        bullet = BULLET_RE.match(line)
        if not bullet and blank and not para and nxt and re.fullmatch(r"=+|-{2,}", nxt) and "|" not in stripped:
            toks.append(_Tok("heading", stripped, level=1 if nxt[0] == "=" else 2))
            i += 1
            last_bullet, blank = None, False
            continue
        if "|" in stripped and i < len(lines) and _is_table_sep(lines[i]):
            flush()
            header = _split_row(stripped)
            i += 1
            rows = []
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_split_row(lines[i]))
                i += 1
            toks.append(_Tok("table", rows=[header, *rows]))
            last_bullet, blank = None, True
            continue
        if bullet or stripped.lower().startswith("<li"):
            flush()
            body = bullet.group("body") if bullet else re.sub(r"^<li\b[^>]*>|</li\s*>$", "", stripped, flags=re.I)
            last_bullet = _Tok("bullet", body.strip(), indent=indent)
            toks.append(last_bullet)
            blank = False
            continue
        if last_bullet is not None and (not blank or indent > last_bullet.indent):
            # a wrapped bullet line, or a paragraph indented under the bullet
            last_bullet.text += ("\n" if blank else " ") + stripped
            blank = False
            continue
        last_bullet = None
        para.append(line)
        blank = False
    flush()
    return toks


def _heading(line: str) -> tuple[int, str] | None:
    """(level, text) of an ATX (``## X``, also the common ``##X``) or one-line HTML heading."""
    m = HTML_HEADING_RE.match(line)
    if m:
        return int(m.group(1)), m.group(2).strip()
    m = ATX_RE.match(line)
    if m:
        level, body = len(m.group(1)), m.group(2).rstrip()
    elif re.match(r"^ {0,3}#{2,6}[A-Za-z]", line):
        stripped = line.lstrip(" ")
        body = stripped.lstrip("#")
        level = len(stripped) - len(body)
    else:
        return None
    closed = body.rstrip("#")  # a closing "##" run, but not the "#" of "C#"
    if closed != body and (not closed or closed[-1] in " \t"):
        body = closed
    return level, body.strip()


def _details_tokens(line: str, lines: list[str], i: int, toks: list[_Tok]) -> int:
    """Turn ``<details>``/``<summary>`` tags on a line into tokens; returns extra lines consumed."""
    consumed = 0
    pos = 0
    for m in DETAILS_RE.finditer(line):
        tag = m.group(0).lower()
        if tag.startswith("<details"):
            toks.append(_Tok("details"))
        elif tag.startswith("</details"):
            toks.append(_Tok("enddetails"))
        elif tag.startswith("<summary"):
            end = line.lower().find("</summary", m.end())
            if end >= 0:
                toks.append(_Tok("summary", line[m.end():end]))
            else:  # the summary spans lines
                parts = [line[m.end():]]
                while i + consumed < len(lines) and consumed < 20:
                    nxt = lines[i + consumed]
                    consumed += 1
                    cut = nxt.lower().find("</summary")
                    if cut >= 0:
                        parts.append(nxt[:cut])
                        break
                    parts.append(nxt)
                toks.append(_Tok("summary", " ".join(parts)))
                return consumed
        pos = m.end()
    tail = line[pos:].strip()
    if tail and not TAG_RE.fullmatch(tail):
        bullet = BULLET_RE.match(tail)
        toks.append(_Tok("bullet", bullet.group("body"), indent=0) if bullet else _Tok("para", tail))
    return consumed


# ---------------------------------------------------------------- fields of one entry


@dataclass
class _Fields:
    free: bool | None = None
    level: str = ""
    tags: list[str] = field(default_factory=list)

    def take(self, kind: str, value) -> None:
        if kind == "free" and self.free is None:
            self.free = value
        elif kind == "level" and not self.level:
            self.level = value
        elif kind == "tag" and value not in self.tags:
            self.tags.append(value)

    def medium(self) -> str:
        """The medium the first tag that names one says ("[video]" -> "video"), or ""."""
        return next((medium_of(t) for t in self.tags if medium_of(t)), "")


def _tag(word: str, fields: _Fields) -> bool:
    hit = TAG_WORDS.get(word.lower())
    if hit:
        fields.take(*hit)
    return bool(hit)


def _take_tags(s: str, fields: _Fields) -> str:
    """Remove tag markers from plain text, recording them in ``fields``."""
    def bracket(m: re.Match) -> str:
        word = m.group(1) or m.group(2)
        return " " if _tag(word, fields) else m.group(0)

    def shortcode(m: re.Match) -> str:
        word = SHORTCODES.get(m.group(1), m.group(1))
        if not _tag(word, fields):
            fields.take("tag", word)
        return " "

    s = BRACKET_TAG_RE.sub(bracket, s)
    s = SHORTCODE_RE.sub(shortcode, s)
    for emoji, word in EMOJI_TAGS.items():
        if emoji in s:
            s = s.replace(emoji, " ")
            if not _tag(word, fields):
                fields.take("tag", word)
    s = EMOJI_RE.sub(" ", s)
    s = re.sub(r"(?:^|(?<=\s))\$\$?(?=\s|$)", lambda m: " " if _tag(m.group(0), fields) else m.group(0), s)
    # bare words count only as their own segment: "- Free - An intro", never "a free book"
    segments = re.split(r"(\s[-–—|]\s|[,;()]|(?<=[.!?])\s)", s)
    kept = []
    for seg in segments:
        word = seg.strip(" .:-–—|")
        if word and BARE_TAG_RE.fullmatch(word) and _tag(word, fields):
            continue
        kept.append(seg)
    s = "".join(kept)
    return " ".join(s.split())


def _tidy(s: str) -> str:
    """Trim separators and dangling brackets left where a link or tag was cut out."""
    s = " ".join(s.split())
    s = re.sub(r"\(\s*\)|\[\s*\]", " ", s)
    s = " ".join(s.split())
    return s.strip(" -–—:|,;/").strip()


def _trim(s: str) -> str:
    """``_tidy``, also dropping a leading ``)``/``]`` or trailing ``(``/``[`` that lost its partner."""
    s = _tidy(s)
    while s and (s[0] in ")]" or s[-1] in "(["):
        s = _tidy(s[1:] if s[0] in ")]" else s[:-1])
    return s


def _split_year(s: str) -> tuple[str, str]:
    """Split a trailing ``(2016)``, ``(05/07/2015)`` or ``, 2015`` off ``s``."""
    t = s.rstrip(" .")
    for regex in (YEAR_END_RE, YEAR_TAIL_RE):
        m = regex.search(t)
        if m:
            return t[:m.start()].rstrip(" ,-–—"), m.group(1)
    return s, ""


def _content_link(link: Link) -> bool:
    """True for a link to something to read: http(s), not a badge, image, anchor or nav link."""
    if link.image or "![" in link.text or link.text.lstrip().lower().startswith("<img"):
        return False
    url = link.url.strip()
    if not re.match(r"https?://", url, re.I):
        return False
    try:
        parsed = urlparse(url)
    except ValueError:
        return False
    host, path = parsed.netloc.lower(), parsed.path.lower()
    if any(host == h or host.endswith("." + h) for h in BADGE_HOSTS):
        return False
    if "badge" in path and path.endswith((".svg", ".png")):
        return False
    if re.search(r"/(?:contributing|code_of_conduct|license)(?:\.md)?$", path):
        return False
    return not (link.text and NAV_RE.match(strip_inline(link.text)[0] or "x"))


def _entry(body: str, refs: dict[str, str], source: str, topic: str, section: str) -> Item | None:
    """An item from one bullet (or table cell, or link line), or None when it links to nothing."""
    body = re.sub(r"^\[[ xX]\]\s+", "", body.strip())
    body = ANCHOR_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", body)
    links = find_links(body, refs)
    links = sorted(links + _bare_urls(body, links), key=lambda l: l.start)
    content = [l for l in links if _content_link(l)]
    if not content:
        return None
    first = content[0]
    fields = _Fields()
    pre_raw, post_raw = body[:first.start], body[first.end:]
    bold = re.match(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)", pre_raw)
    link_text = _tidy(_take_tags(strip_inline(first.text, refs)[0], fields))
    if link_text.lower() in GENERIC_LINK_TEXT:
        _tag(link_text, fields)
    pre, pre_urls = strip_inline(pre_raw, refs)
    post, post_urls = strip_inline(post_raw, refs)
    pre, post = _trim(_take_tags(pre, fields)), _trim(_take_tags(post, fields))
    post, minutes = _take_duration(post)
    if link_text and link_text.lower() not in GENERIC_LINK_TEXT:
        title, lead = link_text, pre
    elif bold:
        title = _tidy(_take_tags(strip_inline(bold.group(1), refs)[0], fields))
        lead = _trim(_take_tags(strip_inline(pre_raw[bold.end():], refs)[0], fields))
    elif pre:
        title, lead = pre, ""
    else:
        title, lead = link_text, ""
    title = _trim(title)
    if not title:
        return None
    title, date = _split_year(title)
    title, authors, et_al = split_byline(title)
    title = _tidy(title) or link_text
    desc, year = _split_year(post)
    date = date or year
    desc, more, more_et_al = _authors_in(desc)
    authors = authors or more
    if lead and not bold and not re.search(r"[-–—:|]$", pre_raw.rstrip(" [(")):
        # the link sits inside a sentence ("Has a companion [forum](url) for each chapter")
        desc = f"{lead} {link_text} {desc}" if desc else f"{lead} {link_text}"
        lead = ""
    text = _trim(" - ".join(p for p in (lead, desc) if p))
    extra: dict = {}
    if fields.tags:
        extra["tags"] = fields.tags
    if et_al or more_et_al:
        extra["et_al"] = True
    if section:
        extra["section"] = section
    others = [u for u in pre_urls + post_urls if u != first.url]
    if others:
        extra["links"] = list(dict.fromkeys(others))
    pages = PAGES_RE.search(text)
    if pages:
        extra["pages"] = int(pages.group(1))
    return Item(
        title=title, kind="resource", url=first.url.strip(), text=text, source=source,
        date=date, authors=authors, topics=[topic] if topic else [], free=fields.free, extra=extra,
        level=fields.level, medium=fields.medium(), minutes=minutes,
    )


def _authors_in(desc: str) -> tuple[str, list[str], bool]:
    """Authors named in the description after a link, and what is left of it: "by A and B",
    "A, B" alone, "A, B. What it is." or "What it is - A, B"."""
    desc, names, et_al = split_byline(desc)
    if names or not desc:
        return desc, names, et_al
    found = split_names(desc, min_words=2)
    if found:
        return "", *found
    sentences = SENTENCE_END_RE.split(desc, maxsplit=1)
    found = split_names(sentences[0], min_words=2) if len(sentences) == 2 else None
    if found:  # "Kaiming He, Xiangyu Zhang. ResNet and the skip connection."
        return sentences[1], *found
    *head, last = re.split(r"\s[-–—]\s", desc)
    found = split_names(last, min_words=2) if head else None
    if found:
        return " - ".join(head), *found
    return desc, [], False


def _take_duration(s: str) -> tuple[str, float | None]:
    """Take a stated duration ("(2h)", "[45 min]", "(1h 30m)") out of ``s``, as minutes."""
    m = DURATION_RE.search(s)
    if not m:
        return s, None
    if m.group("h"):
        minutes = float(m.group("h")) * 60 + float(m.group("hm") or 0)
    else:
        minutes = float(m.group("m"))
    return _trim(s[:m.start()] + " " + s[m.end():]), minutes or None


def _table_items(rows: list[list[str]], refs: dict[str, str], source: str, topic: str, section: str) -> list[Item]:
    """One item per table row that links to something; named columns fill authors and year."""
    header = [strip_inline(c)[0].lower() for c in rows[0]]
    name_col = next((n for n, h in enumerate(header) if h in ("name", "title", "person", "researcher")), None)
    items = []
    for row in rows[1:]:
        cell_no = next((n for n, c in enumerate(row)
                        if any(_content_link(l) for l in find_links(c, refs) + _bare_urls(c, find_links(c, refs)))), None)
        if cell_no is None:
            continue
        item = _entry(row[cell_no], refs, source, topic, section)
        if item is None:
            continue
        named = ""
        if name_col is not None and name_col != cell_no and name_col < len(row):
            # "| Geoffrey Hinton | ... | [cs.toronto.edu/~hinton](...) |": the row is named by its Name column
            named = _tidy(strip_inline(row[name_col], refs)[0])
            item.title = named or item.title
        fields = _Fields(free=item.free, level=item.level, tags=item.extra.get("tags", []))
        texts = [item.text] if item.text else []
        for n, cell in enumerate(row):
            if n == cell_no or (named and n == name_col):
                continue
            name = header[n] if n < len(header) else ""
            value = _tidy(_take_tags(strip_inline(cell, refs)[0], fields))
            if not value or value in ("-", "—", "n/a", "N/A"):
                continue
            if name in ("author", "authors", "by", "instructor", "instructors", "speaker") and not item.authors:
                names = split_names(value)
                item.authors = names[0] if names else [value]
            elif name in ("year", "date", "published") and not item.date:
                m = re.search(r"(?:19|20)\d\d", value)
                item.date = m.group(0) if m else value
            else:
                texts.append(value)
        item.text = "; ".join(texts)
        item.free, item.level, item.medium = fields.free, fields.level, item.medium or fields.medium()
        if fields.tags:
            item.extra["tags"] = fields.tags
        items.append(item)
    return items


# ---------------------------------------------------------------- headings and the walk


def clean_heading(text: str) -> str:
    """A heading as a topic name: no links, emoji, tags, numbering or trailing punctuation."""
    plain = strip_inline(text)[0]
    plain = SHORTCODE_RE.sub(" ", plain)
    plain = EMOJI_RE.sub(" ", plain)
    plain = re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", plain.strip())
    return " ".join(plain.split()).strip(" .:;,-–—!|#*").strip()


def _is_skipped(name: str) -> bool:
    key = normalise_name(name)
    return key in SKIP_HEADINGS or key.startswith("table of contents")


def _title_index(toks: list[_Tok]) -> int | None:
    """The token that is the list's title: the first heading, if it is its only real H1."""
    headings = [(n, t) for n, t in enumerate(toks) if t.kind == "heading"]
    if not headings:
        return None
    h1s = [n for n, t in headings if t.level == 1 and not _is_skipped(clean_heading(t.text))]
    first, tok = headings[0]
    if tok.level == 1 and h1s == [first] and clean_heading(tok.text):
        return first
    return None


@dataclass
class _Bullet:
    indent: int
    item: Item | None
    group: str


@dataclass
class _Frame:
    """An open heading (or ``<details>`` block) and what it says (see ``sections``)."""

    level: int
    heading: Heading
    label: str = ""       # shown in an item's section path; "" for the page title
    skipped: bool = False


@dataclass
class _Where:
    """Where an entry sits: its field heading (the topic name it proposes), its section path, and
    the medium, access and level the headings above it give."""

    topic: str = ""
    section: str = ""
    skipped: bool = False
    medium: str = ""
    free: bool | None = None
    level: str = ""


@dataclass
class _Question:
    """A question heading or bold question line, and the answer paragraphs read so far."""

    title: str
    where: _Where
    parts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def load_markdown(text: str, origin: str) -> Batch:
    """Read an awesome-style Markdown list; see the module docstring for what becomes what."""
    lines = _prepare(text)
    refs: dict[str, str] = {}
    kept = []
    for line in lines:
        m = REF_DEF_RE.match(line)
        if m and not BULLET_RE.match(line):
            refs[m.group(1).strip().lower()] = m.group(2)
        else:
            kept.append(line)
    toks = _tokens(kept)
    title_at = _title_index(toks)
    source = clean_heading(toks[title_at].text) if title_at is not None else Path(origin).stem
    walk = _Walk(origin, refs, source)
    for n, tok in enumerate(toks):
        walk.step(tok, title=(n == title_at))
    return walk.finish()


class _Walk:
    """One pass over a page's tokens: headings open frames, entries become items in place."""

    def __init__(self, origin: str, refs: dict[str, str], source: str):
        self.refs, self.source = refs, source
        self.batch = Batch(origin=origin, heading_topics=True)
        self.frames: list[_Frame] = []
        self.details: list[_Frame] = []
        self.bullets: list[_Bullet] = []
        self.question: _Question | None = None

    def step(self, tok: _Tok, title: bool = False) -> None:
        if tok.kind == "heading":
            self.heading(tok, title)
        elif tok.kind in ("details", "summary", "enddetails"):
            self.details_tag(tok)
        else:
            where = self.where()
            if where.skipped:
                return
            if tok.kind == "table":
                self.add(_table_items(tok.rows, self.refs, self.source, where.topic, where.section), where)
            elif tok.kind == "para":
                self.paragraph(tok, where)
            else:
                self.bullet(tok, where)

    def finish(self) -> Batch:
        self.close_question()
        self.batch.items = _merge_repeated_links(self.batch.items)
        self.batch.declare_item_topics()
        return self.batch

    # -- where an entry sits
    def where(self) -> _Where:
        out = _Where()
        labels = []
        frames = self.frames + self.details
        for n, frame in enumerate(frames):
            out.skipped = out.skipped or frame.skipped
            heading = frame.heading
            if frame.label and heading.sort != "question":
                labels.append(frame.label)
            if heading.sort == "field":
                out.topic = heading.name
            elif heading.sort in ("medium", "level") and (frame.label or n == len(frames) - 1):
                # a page title's medium ("# Researchers") holds only for what sits right under it
                out.medium = heading.medium or out.medium
                out.free = heading.free if heading.free is not None else out.free
                out.level = heading.level or out.level
        out.section = " > ".join(labels)
        return out

    def heading(self, tok: _Tok, title: bool) -> None:
        self.close_question()
        self.bullets.clear()
        name = clean_heading(tok.text)
        while self.frames and self.frames[-1].level >= tok.level:
            self.frames.pop()
        heading = read_heading(name) if name else Heading("structure")
        skipped = bool(name) and not title and _is_skipped(name)
        self.frames.append(_Frame(tok.level, heading, "" if title else name, skipped))
        if heading.sort == "question" and not title:
            self.question = _Question(_question_title(name), self.where())

    def details_tag(self, tok: _Tok) -> None:
        if tok.kind == "details":
            self.details.append(_Frame(0, Heading("structure")))
        elif tok.kind == "summary":
            name = clean_heading(tok.text)
            if self.details and normalise_name(name) not in GENERIC_SUMMARIES:
                heading = read_heading(name)
                self.details[-1] = _Frame(0, heading if heading.sort != "question" else Heading("structure"), name)
            return
        elif self.details:
            self.details.pop()
        self.bullets.clear()

    # -- entries
    def add(self, items: list[Item], where: _Where) -> None:
        for item in items:
            _place(item, where)
            self.batch.items.append(item)

    def paragraph(self, tok: _Tok, where: _Where) -> None:
        self.bullets.clear()
        asked = _bold_question(tok.text)
        if asked:
            self.close_question()
            self.question = _Question(asked, where)
            return
        if self.question is not None:
            plain, urls = strip_inline(tok.text, self.refs)
            self.question.parts.append(plain)
            self.question.links.extend(urls)
            return
        lead = ANCHOR_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", tok.text).lstrip("*_ ")
        if tok.lines == 1 and lead.startswith("[") and not lead.startswith("[!"):
            links = find_links(lead, self.refs)
            if links and links[0].start == 0 and _content_link(links[0]):
                item = _entry(lead, self.refs, self.source, where.topic, where.section)
                if item:
                    self.add([item], where)
                return
        self.add(_prose_items(tok.text, self.refs, self.source, where), where)

    def bullet(self, tok: _Tok, where: _Where) -> None:
        bullets = self.bullets
        while bullets and bullets[-1].indent >= tok.indent:
            bullets.pop()
        parent = next((b for b in reversed(bullets) if b.item is not None), None)
        item = _entry(tok.text, self.refs, self.source, where.topic, where.section)
        if self.question is not None:  # a list inside an answer is part of the answer
            plain, urls = strip_inline(tok.text, self.refs)
            self.question.parts.append(f"- {plain}")
            self.question.links.extend(urls)
        if item is not None:
            if parent is not None:
                item.extra["parent"] = parent.item.title
            elif bullets and bullets[-1].group:
                item.extra["group"] = bullets[-1].group
            self.add([item], where)
        elif parent is not None:
            note = _tidy(_take_tags(strip_inline(tok.text, self.refs)[0], _Fields()))
            if note:
                parent.item.text = f"{parent.item.text}\n{note}".strip()
        group = ""
        if item is None:
            group = _tidy(strip_inline(tok.text, self.refs)[0])
            group = group if len(group) <= 80 else ""
        bullets.append(_Bullet(tok.indent, item, group))

    def close_question(self) -> None:
        """The open question, with the paragraphs read since as its answer, becomes an item."""
        asked, self.question = self.question, None
        if asked is None or not asked.parts:
            return
        where = asked.where
        extra: dict = {"section": where.section} if where.section else {}
        if asked.links:
            extra["links"] = list(dict.fromkeys(asked.links))
        self.batch.items.append(Item(
            title=asked.title, kind="question", text="\n\n".join(asked.parts), source=self.source,
            topics=[where.topic] if where.topic else [], extra=extra))


def _place(item: Item, where: _Where) -> None:
    """Fill what the entry itself does not say from the headings above it: the medium (an arXiv
    link is a paper whatever the heading), access and level; a star or "recommended" makes it core."""
    item.medium = item.medium or _url_medium(item.url) or where.medium
    if item.free is None:
        item.free = where.free
    item.level = item.level or where.level
    if {"star", "recommended"} & set(item.extra.get("tags", ())):
        item.core = True


# ---------------------------------------------------------------- questions and prose


BOLD_QUESTION_RE = re.compile(r"^\s*(\*\*|__)\s*(.{3,300}?\?)\s*\1\s*(.*)$", re.S)
# Words that say a paragraph recommends something to read, watch or take.
READING_CUES = re.compile(
    r"\b(read|reading|book|books|textbook|course|courses|paper|papers|watch|video|videos|lecture|lectures|"
    r"tutorial|tutorials|guide|recommend|recommended|start with|blog|article|series|talk|podcast|notes)\b", re.I)
DOMAIN_RE = re.compile(r"^(?:https?://)?(?:www\.)?[\w-]+(?:\.[\w-]+)+(?:/\S*)?$", re.I)
PAPER_HOSTS = ("arxiv.org", "openreview.net", "aclanthology.org", "proceedings.neurips.cc", "papers.nips.cc",
               "proceedings.mlr.press")


def _question_title(text: str) -> str:
    """A question heading or bold line as an item title: no "Q:" or "Q1." in front."""
    return re.sub(r"^q\s*\d*\s*[:.)-]\s*", "", text.strip(), flags=re.I).strip()


def _bold_question(text: str) -> str:
    """The question of a paragraph that opens with a bold question (``**Do I need a PhD?**``), or ""."""
    m = BOLD_QUESTION_RE.match(text)
    return _question_title(strip_inline(m.group(2))[0]) if m and not m.group(3).strip() else ""


def _title_like(text: str) -> bool:
    """Link text that reads as a resource's name: capitalised, not a bare domain or a generic word."""
    text = text.strip()
    return (bool(text) and (text[0].isupper() or text[0].isdigit()) and len(text.split()) <= 20
            and text.lower() not in GENERIC_LINK_TEXT and not DOMAIN_RE.match(text))


def _prose_items(text: str, refs: dict[str, str], source: str, where: _Where) -> list[Item]:
    """Resources a paragraph introduces ("If you only read one book, make it [Deep Learning](...) by
    Goodfellow, Bengio and Courville: ..."), each with the paragraph as its text. A paragraph
    counts when it names at most three resources by a title (capitalised link text, not "here" or a
    domain) and speaks of reading, watching or taking something; links that merely point
    somewhere ("like [the CUDA Zone](...)") are left alone."""
    body = ANCHOR_RE.sub(lambda m: f"[{m.group(2)}]({m.group(1)})", text)
    links = [l for l in find_links(body, refs) if _content_link(l) and _title_like(strip_inline(l.text, refs)[0])]
    if not links or len({l.url for l in links}) > 3:
        return []
    plain = strip_inline(body, refs)[0]
    if not READING_CUES.search(plain):
        return []
    items = []
    for link in links:
        fields = _Fields()
        title = _tidy(_take_tags(strip_inline(link.text, refs)[0], fields))
        byline = re.match(r"\s*,?\s*by\s+([^:;.()]{3,200})", strip_inline(body[link.end:], refs)[0])
        names = split_names(byline.group(1)) if byline else None
        sentence = re.split(r"[.!?]\s", strip_inline(body[:link.start], refs)[0])[-1]
        medium = next((medium_of(w) for w in reversed(sentence.lower().split()) if medium_of(w)), "")
        extra: dict = {"section": where.section} if where.section else {}
        items.append(Item(title=title, url=link.url.strip(), text=plain, source=source,
                          authors=names[0] if names else [], topics=[where.topic] if where.topic else [],
                          medium=medium, extra=extra))
    return items


def _url_medium(url: str) -> str:
    """"paper" for a link to a paper server (arXiv, OpenReview, the ACL Anthology, PMLR, NeurIPS)."""
    try:
        host = urlparse(url).netloc.lower()
    except ValueError:
        return ""
    return "paper" if any(host == h or host.endswith("." + h) for h in PAPER_HOSTS) else ""


def _merge_repeated_links(items: list[Item]) -> list[Item]:
    """One item per id: a link listed under two headings keeps both topics."""
    by_id: dict[str, Item] = {}
    for item in items:
        first = by_id.get(item.id)
        if first is None:
            by_id[item.id] = item
        else:
            first.topics.extend(t for t in item.topics if t not in first.topics)
            first.text = first.text or item.text
    return list(by_id.values())
