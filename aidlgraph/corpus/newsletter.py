"""Newsletter and blog dumps (plain text or light Markdown): issues, editorials, news, member
questions, posts and resource lists.

A dump is a copy of web pages with the markup gone, so nothing marks a title as a title. The
loader reads the layout the way a person skimming it would, with rules that hold for any dump of
this kind and no names from a particular one:

- Lines are grouped into paragraphs, lists (``1.``, ``•``, ``-``, ``*``) and headings: a short
  line without closing punctuation. A short line ending in ``:`` is a label for what follows.
- ``... Issue N`` opens an issue, ``Resources on X`` (or ``X resources``) opens a resource list, a
  copyright, ``All posts by`` or footer line closes whatever was open, and the next heading after
  it opens a post.
- Inside an issue every heading opens a section. An empty heading ("Blog Posts") only says what
  kind the sections after it are; the first section with text is the editorial; a section whose
  heading or first line asks ("Member's Question", ``Q.``) is one question with its answer.
- The editorial reports the week's news: each entry of its lists and each paragraph sentence that
  announces an event (an event word plus a name) becomes a news item with a headline.
- A post keeps its subsections; numbered lists whose entries open with a ``Name:`` label are
  announcements and become news items too.
- A resource list yields an item for the list and one per entry: list entries, standalone title
  lines, ``Name: ...`` paragraphs and works named in its prose; ``by Author`` goes to authors, and
  a numbered list announced as someone's articles becomes a series.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..text import split_sentences
from .markdown import split_byline, strip_inline
from .model import Batch, Item

LIST_RE = re.compile(r"^(?P<indent> *)(?:(?P<num>\d{1,3})[.)]|(?P<bullet>[•●▪◦‣∙·*+\-–]))[ ]+(?P<body>\S.*)$")
MD_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})[ \t]+(\S.*)$")
END_RE = re.compile(r"©|\(c\)\s*(?:19|20)\d\d|^copyright\b|^all (?:posts|articles|entries|stories) by\b|^\|", re.I)
FOOTER_RE = re.compile(
    r"^(?:sponsorship|sponsored by\b.*|unsubscribe\b.*|subscribe(?: now| here)?|advertise(?: with us)?"
    r"|privacy policy|terms of (?:use|service)|view (?:this|it) in (?:your )?browser|share this:?"
    r"|like this:?|tags?:.*|categories:.*|filed under\b.*|posted (?:in|on|by)\b.*"
    r"|leave a (?:comment|reply)|\d+ comments?|powered by\b.*|follow us\b.*|related posts?)$", re.I)
ISSUE_RE = re.compile(r"^(?:[^\s:]+\s+){0,5}?issue\s*(?:no\.?\s*|#\s*)?(?P<num>\d{1,5})\b", re.I)
LABEL_RE = re.compile(r"^(.{0,80}?\bissue\s*(?:no\.?\s*|#\s*)?\d{1,5})\b", re.I)
RESOURCES_RE = re.compile(
    r"^(?:(?:useful|some|more|good|great|my|further|recommended|free|selected|other)\s+)?"
    r"(?:resources?|readings?|reading list|links|materials|references|learning materials)"
    r"\s+(?:on|for|about|to learn)\s+(?P<topic>\S.*)$", re.I)
RESOURCES_TAIL_RE = re.compile(r"^(?P<topic>\S.{0,80}?)\s+(?:resources|reading list|learning resources)$", re.I)
YEAR_RE = re.compile(r"\b(?:19[5-9]\d|20\d\d)\b")
QUESTION_HEAD_RE = re.compile(r"\bquestions?\b|\bq\s?&\s?a\b|\bfaq\b|\bask(?:ed)?\b", re.I)
EDITORIAL_HEAD_RE = re.compile(r"\b(?:thoughts|editorial|editor'?s?|curators?|from the desk|welcome|introduction|intro)\b", re.I)
Q_RE = re.compile(r"^q\s*[.:)]\s*", re.I)
FOOTNOTE_RE = re.compile(r"^\[\d{1,3}\]")
STRONG_CUE_RE = re.compile(
    r"\b(?:acquir\w*|acquisitions?|releas\w*|launch\w*|announc\w*|unveil\w*|open-?sourc\w*|publish\w*"
    r"|papers?|courses?|lectures?|interviews?|lawsuits?|sue[sd]?|beat|beats|beating|won(?!')|wins?"
    r"|contracts?|funding|raised|developments?|debunk\w*|headlines?|breakthroughs?|summit|conference"
    r"|apis?|datasets?|benchmarks?)\b", re.I)
WEAK_CUE_RE = re.compile(r"\b(?:news|new|saw|here|out|heard|featured?|available|arrived|debut\w*|introduc\w*)\b", re.I)
SELF_RE = re.compile(
    r"\b(?:newsletters?|subscrib\w*|mailbox|inbox|we at|check out our|please share|share (?:this|our)"
    r"|our (?:\w+ )?(?:group|forum|channel|community|section|team|readers|members|page)"
    r"|(?:fb|facebook|youtube) (?:group|channel|page))\b", re.I)
BACKREF_RE = re.compile(r"\b(?:this|these|those|it|its|it's|they|them|their|both|such)\b", re.I)
INTENT_RE = re.compile(r"\b(?:trying to|want to|wanted to|would like to|hoping to|plan(?:ning)? to|interested in|goal is)\b", re.I)
LEAD_RES = [re.compile(p, re.I) for p in (
    r"^(?:and|but|or|so|also|well|now|then|perhaps|finally|lastly|meanwhile|besides|plus|still|yet)\b[,:]?\s+",
    r"^(?:in other news|on (?:an? )?(?:exciting|sad|related|other|big) (?:news|note)|in (?:this|today's) (?:editorial|issue|week)(?: though)?"
    r"|(?:last|this|next) (?:week|month|year)|for (?:example|instance)|as always|of course|in addition"
    r"|on the other hand|in the meantime|by the way|fyi)\b[,:]?\s*",
    r"^(?:here )?we (?:also )?(?:saw|see|take a look at|look at|cover|feature|want to (?:bring to your attention|highlight|mention)(?: is)?)\s+",
    r"^you (?:might|may|can|could|should) (?:also )?(?:have )?(?:heard (?:of|about)|want to check out|check out|take a look (?:of|at)|look at|read|watch)\s+",
    r"^(?:check out|take a look (?:of|at)|look at)\s+",
    r"^if [^,]{1,80},\s*",
    r"^(?:just )?like [^,]{1,60},\s*",
    r"^(?:one|the|a|our) (?:must-see|must-read|highlight|pick|top story)\b[^,:]{0,30}?\bis\s+",
)]
TAIL_RES = [re.compile(p, re.I) for p in (
    r",?\s*(?:and\s+)?(?:is\s+|are\s+)?featured in (?:this|our|the) \w+$",
    r"\s+in the (?:last|past) (?:few |couple of )?(?:days|weeks|months)\b",
    r"\s+(?:yesterday|recently|today|last week|this week)\b",
)]
SERIES_RE = re.compile(
    r"\b(?:(\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+)?"
    r"(articles|posts|parts|lectures|videos|chapters|lessons|episodes|installments|tutorials)\b|\bseries\b", re.I)
CONNECTORS = {"of", "for", "and", "the", "in", "on", "to", "with", "a", "an", "&", "c", "c++", "by"}
TITLE_CUES = {"is", "be", "are", "was", "called", "named", "titled", "read", "see", "use", "try", "consider"}
QUOTE_CUES = ("read", "book", "called", "titled", "on", "see", "check out", "consider", "named")


# ---------------------------------------------------------------- layout: lines into blocks


@dataclass
class Entry:
    """One list entry, its wrapped lines joined."""

    text: str
    number: int | None = None
    indent: int = 0


@dataclass
class Block:
    """A heading, a label (``Important papers:``), a paragraph, a list, or an end mark."""

    kind: str
    text: str = ""
    entries: list[Entry] = field(default_factory=list)

    @property
    def numbered(self) -> bool:
        return bool(self.entries) and all(e.number is not None for e in self.entries)


def _is_rule(line: str) -> bool:
    squeezed = line.replace(" ", "")
    return len(squeezed) >= 3 and set(squeezed) <= set("*-_=~")


def _blocks(text: str) -> list[Block]:
    """Paragraphs, lists and headings from the raw lines."""
    blocks: list[Block] = []
    para: list[str] = []
    lst: Block | None = None
    blank = True

    def flush_para() -> None:
        if para:
            blocks.append(_classify(" ".join(" ".join(para).split())))
            para.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.replace("\u00a0", " ").replace("\u200b", "").expandtabs(4).rstrip()
        stripped = line.strip()
        if not stripped:
            flush_para()
            blank = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if _is_rule(stripped):
            flush_para()
            lst, blank = None, True
            continue
        heading = MD_HEADING_RE.match(line)
        if heading:
            flush_para()
            title = heading.group(2).rstrip(" #") or heading.group(2)
            blocks.append(Block("heading", " ".join(strip_inline(title)[0].split())))
            lst, blank = None, False
            continue
        item = LIST_RE.match(line)
        if item:
            flush_para()
            number = int(item.group("num")) if item.group("num") else None
            if lst is None or (number is None) != (lst.entries[-1].number is None):
                lst = Block("list")
                blocks.append(lst)
            lst.entries.append(Entry(item.group("body").strip(), number, indent))
            blank = False
            continue
        if lst is not None and (not blank or indent > lst.entries[-1].indent):
            entry = lst.entries[-1]  # a wrapped entry line, or a paragraph indented under it
            entry.text = f"{entry.text}{' ' if not blank else chr(10)}{stripped}"
            blank = False
            continue
        lst = None
        para.append(stripped)
        blank = False
    flush_para()
    return blocks


def _classify(text: str) -> Block:
    """What one paragraph of text is: an end mark, a label, a heading or a paragraph."""
    if END_RE.search(text) or FOOTER_RE.match(text):
        return Block("end", text)
    words = len(text.split())
    if text.endswith(":") and len(text) <= 100 and words <= 14:
        return Block("label", text)
    if _heading_like(text, words):
        return Block("heading", text)
    return Block("para", text)


def _heading_like(text: str, words: int) -> bool:
    if len(text) > 100 or words > 14 or text[-1] in ".,;!?:":
        return False
    if not (text[0].isupper() or text[0].isdigit() or text[0] in "\"“'‘"):
        return False
    return not re.search(r"[.!?]\s+[A-Z]", text)


# ---------------------------------------------------------------- posts and sections


@dataclass
class Section:
    """Part of an issue under one heading; ``role`` is editorial, question or other."""

    heading: str
    role: str
    category: str | None = None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Post:
    """An issue, a blog post or a resource list, with its sections in order."""

    kind: str  # issue, post, resources
    title: str
    number: int | None = None
    topic: str = ""
    sections: list[Section] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind != "issue":
            self.sections.append(Section("", "body"))

    @property
    def blocks(self) -> list[Block]:
        return [b for s in self.sections for b in s.blocks]

    def add(self, block: Block) -> None:
        self.sections[-1].blocks.append(block)


def _resource_topic(title: str) -> str | None:
    """``"Resources on CUDA programming"`` -> ``"CUDA programming"``; None for other headings."""
    m = RESOURCES_RE.match(title) or RESOURCES_TAIL_RE.match(title)
    if not m:
        return None
    topic = re.sub(r"^(?:the|a|an)\s+", "", m.group("topic").strip(" .:;,\"'“”"), flags=re.I)
    return topic or None


def _category(heading: str) -> str | None:
    """The kind an empty issue heading announces for the sections after it."""
    low = heading.lower()
    if QUESTION_HEAD_RE.search(low):
        return "question"
    if re.search(r"\bnews\b|\bheadlines?\b", low):
        return "news"
    if re.search(r"\bblogs?\b|\bposts?\b|\barticles?\b|\bessays?\b|\bopinions?\b", low):
        return "post"
    if re.search(r"open.?source|\bcode\b|\btools?\b|\blibrar|\bresources?\b|\bpapers?\b|\bvideos?\b"
                 r"|\bcourses?\b|\btutorials?\b|\bdatasets?\b|\bbooks?\b", low):
        return "resource"
    if re.search(r"\bjobs?\b|\bsponsor|\bevents?\b|\bads?\b|\badvert", low):
        return "skip"
    return None


def _post_title_like(text: str) -> bool:
    """A heading that names a piece of its own, not a part of the post being read."""
    return bool(
        re.search(r"[\"“”]", text) or re.search(r"\S:\s+\S", text) or YEAR_RE.search(text)
        or re.search(r"\bpart\s+(?:\d+|[ivx]+)\b", text, re.I)
        or re.match(r"^(?:(?:a|an|my|some|our|quick)\s+)?(?:read|review|notes?|summary|thoughts|take"
                    r"|impressions?|write-?up|recap|reflections?)\s+(?:on|of|about|from)\b", text, re.I)
    )


def _name_like(text: str) -> bool:
    """``"Arthur Chan"``: how a post is signed."""
    words = text.split()
    return 2 <= len(words) <= 4 and all(
        re.fullmatch(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]\.", w) for w in words
    ) and not any(w.lower() in CONNECTORS for w in words)


def _long_prose(block: Block | None) -> bool:
    return (block is not None and block.kind == "para" and len(block.text) >= 200
            and len(split_sentences(block.text)) >= 2 and _label_split(block.text) is None)


def _segment(blocks: list[Block], stem: str) -> tuple[list[Post], list[str]]:
    """Group blocks into posts; also return the newsletter's own names (for self-references)."""
    posts: list[Post] = []
    cur: Post | None = None
    ended = True
    category: str | None = None
    empty_headings: Counter = Counter()

    def open_post(kind: str, title: str, **kw) -> Post:
        post = Post(kind, title, **kw)
        posts.append(post)
        return post

    for i, b in enumerate(blocks):
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if b.kind == "end":
            ended = True
            continue
        if b.kind != "heading":
            if cur is None:
                cur, ended = open_post("post", stem), False
            elif ended:
                continue  # footer text after a copyright line
            if cur.kind == "issue":
                if not cur.sections:
                    cur.sections.append(Section("", _role("", b, cur, category), category))
                cur.sections[-1].blocks.append(b)
            else:
                cur.add(b)
            continue
        issue = ISSUE_RE.match(b.text)
        if issue:
            number = int(issue.group("num"))
            if cur is not None and cur.kind == "issue" and cur.number == number and not cur.blocks:
                continue  # the issue's title repeated in short
            cur, ended, category = open_post("issue", b.text, number=number), False, None
            continue
        topic = _resource_topic(b.text)
        if topic:
            cur, ended = open_post("resources", b.text, topic=topic), False
            continue
        empty = nxt is None or nxt.kind in ("heading", "end")
        if cur is None or ended:
            cur, ended = open_post("post", b.text), False
            continue
        if cur.kind == "issue":
            if empty:
                category = _category(b.text)
                if category is None:
                    empty_headings[b.text] += 1
            else:
                cur.sections.append(Section(b.text, _role(b.text, nxt, cur, category), category))
            continue
        if cur.kind == "resources":
            if _long_prose(nxt):
                cur = open_post("post", b.text)
            else:
                cur.add(b)  # a standalone title in the list
            continue
        if _name_like(b.text) and cur.blocks and (empty or FOOTNOTE_RE.match(nxt.text)):
            cur.authors.append(b.text)  # the signature under a post
        elif not empty and _post_title_like(b.text):
            cur = open_post("post", b.text)
        else:
            cur.add(b)  # a subsection heading stays in the post's text
    names = [m.group(1)[:m.group(1).lower().rfind("issue")].strip(" -:#")
             for p in posts if p.kind == "issue" and (m := LABEL_RE.match(p.title))]
    names += [h for h, n in empty_headings.items() if n >= 3]
    return [p for p in posts if p.kind == "issue" or p.blocks], [n for n in dict.fromkeys(names) if n]


def _role(heading: str, first: Block | None, issue: Post, category: str | None) -> str:
    """Whether a new issue section is the editorial, a member question, or something else."""
    if QUESTION_HEAD_RE.search(heading) or category == "question" or (
            first is not None and first.kind == "para" and Q_RE.match(first.text)):
        return "question"
    if EDITORIAL_HEAD_RE.search(heading) and not any(s.role == "editorial" for s in issue.sections):
        return "editorial"
    if category is None and not issue.sections:
        return "editorial"
    return "other"


# ---------------------------------------------------------------- text helpers


def _names_in(sentence: str) -> set[str]:
    """Capitalised or mixed-case words and model numbers that are not sentence-initial."""
    names = set()
    initial = True
    for m in re.finditer(r"[A-Za-z0-9][\w'’+.-]*|[:;\"“(]", sentence):
        token = m.group(0)
        if token in ':;"“(':
            initial = True
            continue
        word = re.sub(r"['’]s$", "", token).rstrip(".")
        if word and word not in ("I", "I'm", "I've", "I'd", "I'll", "OK") and (
                (not initial and word[0].isupper()) or any(c.isupper() for c in word[1:])
                or (any(c.isdigit() for c in word) and any(c.isalpha() for c in word))):
            names.add(word.lower())
        initial = False
    return names


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    return (cut[:cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:-") + "…"


def headline(sentence: str) -> str:
    """A short title from a sentence that reports something: lead-ins and time words go."""
    text = sentence.strip().rstrip(".!?;: ")
    for _ in range(6):
        before = text
        for regex in LEAD_RES:
            text = regex.sub("", text, count=1)
        if text == before:
            break
    for regex in TAIL_RES:
        text = regex.sub("", text)
    text = text.strip(" ,;:-").rstrip(".!?")
    if len(text) > 100:
        comma = text.rfind(", ", 0, 100)
        text = text[:comma] if comma >= 30 else _shorten(text, 100)
    return (text[:1].upper() + text[1:]) if text else _shorten(sentence.strip(), 100)


def _year_named(text: str) -> str:
    """The year a title names ("GTC 2019"), else nothing: dates are never guessed."""
    m = YEAR_RE.search(text)
    return m.group(0) if m else ""


def _render(blocks: list[Block]) -> str:
    """The readable text of some blocks: paragraphs apart, list entries on their own lines."""
    parts = []
    for b in blocks:
        if b.kind == "list":
            parts.append("\n".join(
                f"{e.number}. {_plain(e.text)}" if e.number is not None else f"• {_plain(e.text)}"
                for e in b.entries))
        else:
            parts.append(_plain(b.text))
    return "\n\n".join(p for p in parts if p)


def _plain(text: str) -> str:
    return "\n".join(strip_inline(line)[0] for line in text.split("\n"))


def _first_url(text: str) -> str:
    urls = strip_inline(text)[1]
    return urls[0] if urls else ""


def _label_split(text: str) -> tuple[str, str] | None:
    """``"CUDA-X: More like a convergence..."`` -> ("CUDA-X", "More like ..."); else None."""
    m = re.match(r"^(?P<label>[^:\n]{1,60}?)\s*:\s+(?P<rest>\S.*)$", text, re.S) or \
        re.match(r"^(?P<label>[^\n]{1,60}?)\s+[-–—]\s+(?P<rest>\S.*)$", text, re.S)
    if not m:
        return None
    label, rest = m.group("label").strip(), m.group("rest").strip()
    if not label or not (label[0].isupper() or label[0].isdigit()) or len(label.split()) > 6:
        return None
    if re.search(r"[.!?,;]", label.rstrip(".")) or not (re.search(r"[.!?]", rest) or len(rest.split()) >= 12):
        return None
    return label, rest


# ---------------------------------------------------------------- issues


@dataclass
class _Event:
    title: str
    sentences: list[str]
    names: set[str]


def _self_ref(sentence: str, self_names: list[str]) -> bool:
    low = sentence.lower()
    return bool(SELF_RE.search(sentence)) or any(n.lower() in low for n in self_names)


def _is_event(sentence: str, names: set[str]) -> bool:
    return bool(STRONG_CUE_RE.search(sentence)) or bool(WEAK_CUE_RE.search(sentence) and names)


def _conjoined(sentence: str) -> list[str]:
    """``"we saw A's lawsuit against B, as well as C's new API"`` reports two events."""
    parts = re.split(r",?\s+as well as\s+", sentence)
    if len(parts) == 2 and all(_names_in(p) for p in parts):
        return parts
    return [sentence]


def events(paragraph: str, self_names: list[str]) -> list[tuple[str, str]]:
    """(headline, text) for each distinct event a paragraph of an editorial reports.

    A sentence reports an event when it has an event word ("acquired", "paper", "lawsuit") or a
    weaker one ("news", "is out") next to a name. Following sentences belong to the same event
    unless they bring a new name, an event word and no pronoun pointing back ("its spec", "these
    news"). Sentences about the newsletter itself never start or join an event.
    """
    found: list[_Event] = []
    lead: list[str] = []
    for sentence in split_sentences(paragraph):
        if _self_ref(sentence, self_names):
            continue
        names = _names_in(sentence)
        current = found[-1] if found else None
        fresh = current is None or (names - current.names and not BACKREF_RE.search(sentence))
        if _is_event(sentence, names) and fresh:
            for n, part in enumerate(_conjoined(sentence)):
                found.append(_Event(headline(part), [*lead, sentence] if n == 0 else [sentence], names))
            lead = []
        elif current is not None:
            current.sentences.append(sentence)
            current.names |= names
        else:
            lead.append(sentence)
    return [(e.title, " ".join(e.sentences)) for e in found]


def _question_title(question: str) -> str:
    """The question asked, in one line: its self-contained ``?`` sentence, else its aim, else its start."""
    q = re.sub(r"^\([^)]{0,200}\)\s*", "", Q_RE.sub("", question.strip()))
    q = " ".join(re.sub(r"\s*[(\[](?:\.{3}|…)[)\]]", "", q).split())
    sentences = split_sentences(q)
    asks = [re.sub(r"^(?:my|the|our)\s+(?:\w+\s+)?question\s+is\s*:?\s*", "", s, flags=re.I)
            for s in sentences if s.rstrip("\"”'").endswith("?")]
    pick = next((s for s in asks if not BACKREF_RE.search(s)), None) \
        or next((s for s in sentences if INTENT_RE.search(s)), None) \
        or (sentences[0] if sentences else q)
    return _shorten(pick.strip("\"” "), 120)


def _issue_items(post: Post, self_names: list[str]) -> list[Item]:
    """The issue (summed up by its editorial's opening), its editorial, news, questions, sections."""
    m = LABEL_RE.match(post.title)
    label = " ".join((m.group(1) if m else post.title).split())
    date = _year_named(post.title)
    editorial = next((s for s in post.sections if s.role == "editorial"), None)
    first = editorial or next((s for s in post.sections if s.blocks), None)
    summary = ""
    if first and first.blocks:
        lead = [first.blocks[0]]
        if first.blocks[0].text.endswith(":") and len(first.blocks) > 1 and first.blocks[1].kind == "list":
            lead.append(first.blocks[1])
        summary = _render(lead)
    items = [Item(title=post.title, kind="issue", text=summary, source=label, date=date,
                  extra={"issue": post.number})]
    for section in post.sections:
        if not section.blocks:
            continue
        if section.role == "editorial":
            items.append(Item(title=f"{label}: {section.heading or 'Editorial'}", kind="post",
                              text=_render(section.blocks), source=label, date=date))
            items.extend(_editorial_news(section.blocks, label, date, self_names))
        elif section.role == "question":
            items.append(_question_item(section, label, date))
        elif section.category != "skip":
            kind = {"news": "news", "post": "post", "resource": "resource"}.get(section.category or "", "news")
            items.append(Item(title=section.heading or label, kind=kind, text=_render(section.blocks),
                              source=label, date=date, url=_first_url(section.blocks[0].text)))
    return items


def _editorial_news(blocks: list[Block], label: str, date: str, self_names: list[str]) -> list[Item]:
    """News items from an editorial: every list entry, and each event its paragraphs report."""
    items = []
    for n, b in enumerate(blocks):
        if b.kind == "list":
            for e in b.entries:
                text = _plain(e.text).rstrip(" ,;")
                items.append(Item(title=headline(text), kind="news", text=text, source=label,
                                  date=_year_named(text) or date, url=_first_url(e.text)))
            continue
        if b.text.endswith(":") and n + 1 < len(blocks) and blocks[n + 1].kind == "list":
            continue
        found = events(_plain(b.text), self_names)
        url = _first_url(b.text) if len(found) == 1 else ""
        for title, text in found:
            items.append(Item(title=title, kind="news", text=text, source=label,
                              date=_year_named(title) or date, url=url))
    return items


def _question_item(section: Section, label: str, date: str) -> Item:
    blocks = section.blocks
    """One question item: titled by the question, holding the question and the whole answer."""
    asked = next((b for b in blocks if b.kind in ("para", "label") and Q_RE.match(b.text)), None)
    asked = asked or next((b for b in blocks if b.kind in ("para", "label")), blocks[0])
    return Item(title=_question_title(_render([asked])), kind="question", text=_render(blocks),
                source=label, date=date)


# ---------------------------------------------------------------- posts and resource lists


def _mostly_list(post: Post) -> bool:
    """A post that is a list of short entries with little prose: a reading list in disguise."""
    entries = [e for b in post.blocks if b.kind == "list" for e in b.entries]
    prose = sum(len(b.text) for b in post.blocks if b.kind == "para")
    return len(entries) >= 5 and sum(len(e.text) for e in entries) / len(entries) <= 120 \
        and sum(len(e.text) for e in entries) >= prose


def _post_items(post: Post) -> list[Item]:
    """The post with all its text, plus a news item per entry of its labelled numbered lists."""
    date = _year_named(post.title)
    items = [Item(title=post.title, kind="post", text=_render(post.blocks), source=post.title,
                  date=date, authors=list(post.authors), url=_first_url(_render(post.blocks[:1])))]
    for b in post.blocks:
        if b.kind != "list" or not b.numbered:
            continue
        labelled = [(e, _label_split(e.text)) for e in b.entries]
        if sum(1 for _, lab in labelled if lab) * 2 < len(labelled):
            continue
        for e, lab in labelled:
            if lab:
                items.append(Item(title=_plain(lab[0]), kind="news", text=_plain(e.text), source=post.title,
                                  date=_year_named(lab[0]) or date, url=_first_url(e.text)))
    return items


@dataclass
class _Entry:
    title: str
    text: str = ""
    url: str = ""
    authors: list[str] = field(default_factory=list)
    et_al: bool = False


def parse_entry(raw: str) -> _Entry | None:
    """One entry of a resource list: title, authors after ``by``, text after a dangling ``(``."""
    plain, urls = strip_inline(raw)
    text = " ".join(plain.split())
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    rest = ""
    open_at = text.find("(")
    if open_at >= 0 and text.find(")", open_at) < 0:  # "Title ( note" whose link was lost
        text, rest = text[:open_at].strip(), text[open_at + 1:].strip()
    else:
        lab = _label_split(text)
        if lab:
            text, rest = lab
    text = text.rstrip(" :-–—")
    title, authors, et_al = split_byline(text)
    title = title.strip(" \"“”'‘’").strip()
    if not title or not re.search(r"\w", title):
        return None
    return _Entry(title, rest, urls[0] if urls else "", authors, et_al)


def titled_works(paragraph: str) -> list[str]:
    """Works a resource list names in its prose: a quoted title after "read"/"on", or a
    capitalised name closing a sentence after "is"/"be" ("... would be CUDA C Programming Guide.")."""
    found = []
    for m in re.finditer(r"[\"“]([^\"“”\n]{3,120})[\"”]", paragraph):
        quoted, before = m.group(1).strip(), paragraph[max(0, m.start() - 25):m.start()].lower()
        if any(c.isupper() for c in quoted) and len(quoted.split()) >= 2 and \
                any(re.search(rf"\b{cue}\s*$", before) for cue in QUOTE_CUES):
            found.append(quoted)
    for sentence in split_sentences(paragraph):
        words = sentence.rstrip(" .!").split()
        tail: list[str] = []
        while words and (words[-1][:1].isupper() or words[-1][:1].isdigit() or words[-1].lower() in CONNECTORS):
            tail.insert(0, words.pop())
        while tail and tail[0].lower() in CONNECTORS and tail[0] not in ("C", "C++"):
            words.append(tail.pop(0))
        capitals = sum(1 for w in tail if w[:1].isupper())
        if len(tail) >= 2 and capitals >= 2 and words and words[-1].lower() in TITLE_CUES \
                and not any(c in "\"“”" for c in " ".join(tail)):
            found.append(" ".join(tail))
    return list(dict.fromkeys(found))


def _series(intro: str, post: Post) -> tuple[str, list[str]] | None:
    """Name and author of the series a numbered list forms, when the sentence before says so."""
    m = SERIES_RE.search(intro)
    if not m:
        return None
    noun = (m.group(2) or "series").lower()
    author = ""
    by = re.search(r"\bwritten by\s+", intro, re.I)
    if by:
        words = []
        for word in intro[by.end():].split()[:5]:
            clean = word.rstrip(",.;:")
            if not (clean[:1].isupper() and clean.replace(".", "").replace("-", "").isalpha()):
                break
            words.append(clean)
            if clean != word:
                break
        author = " ".join(words)
    base = post.topic or post.title
    return (f"{author}'s {base} {noun}" if author else f"{base} {noun}"), ([author] if author else [])


def _resource_items(post: Post) -> list[Item]:
    """The list itself, then its entries in order (see the module docstring for what counts)."""
    topics = [post.topic] if post.topic else []
    date = _year_named(post.title)

    def item(entry: _Entry, group: str, **kw) -> Item:
        extra: dict = {"et_al": True} if entry.et_al else {}
        if group:
            extra["group"] = group
        kw.setdefault("authors", entry.authors)
        return Item(title=entry.title, kind="resource", url=entry.url, text=entry.text, source=post.title,
                    date=_year_named(entry.title) or date, topics=list(topics), extra=extra, **kw)

    items = [Item(title=post.title, kind="resource", text=_render(post.blocks), source=post.title,
                  date=date, topics=list(topics), extra={"list": True})]
    group = ""
    previous: Block | None = None
    for b in post.blocks:
        if b.kind == "label":
            words = b.text.rstrip(":").strip()
            group = words if len(words.split()) <= 5 else ""
        elif b.kind == "heading":
            entry = parse_entry(b.text)
            if entry:
                items.append(item(entry, group))
        elif b.kind == "list":
            intro = previous.text if previous is not None and previous.kind in ("para", "label") else ""
            series = _series(intro, post) if b.numbered and intro else None
            for n, e in enumerate(b.entries, 1):
                entry = parse_entry(e.text)
                if entry is None:
                    continue
                if series:
                    items.append(item(entry, group, series=series[0], position=e.number or n,
                                      authors=entry.authors or list(series[1])))
                else:
                    items.append(item(entry, group))
            group = ""  # a label names the list right after it, no more
        else:
            group = ""
            plain = _plain(b.text)
            lab = _label_split(plain)
            if lab:
                entry = parse_entry(lab[0])
                if entry:
                    entry.text, entry.url = lab[1], _first_url(b.text)
                    items.append(item(entry, group))
            for work in titled_works(plain):
                entry = parse_entry(work)
                if entry:
                    entry.text = plain
                    items.append(item(entry, group))
        previous = b
    return items


# ---------------------------------------------------------------- entry point


def load_newsletter(text: str, origin: str) -> Batch:
    """Read a newsletter or blog dump; see the module docstring for what becomes what."""
    stem = Path(origin).stem
    posts, self_names = _segment(_blocks(text), stem)
    items: list[Item] = []
    for post in posts:
        if post.kind == "post" and _mostly_list(post):
            post.kind = "resources"
        if post.kind == "issue":
            items.extend(_issue_items(post, self_names))
        elif post.kind == "resources":
            items.extend(_resource_items(post))
        else:
            items.extend(_post_items(post))
    batch = Batch(origin=origin, items=_merge_repeated_titles(items))
    batch.declare_item_topics()
    return batch


def _merge_repeated_titles(items: list[Item]) -> list[Item]:
    """One item per id (the same source and title twice): the first wins, texts are kept."""
    by_id: dict[str, Item] = {}
    for it in items:
        first = by_id.get(it.id)
        if first is None:
            by_id[it.id] = it
        elif it.text and it.text not in first.text:
            first.text = f"{first.text}\n\n{it.text}".strip()
    return list(by_id.values())
