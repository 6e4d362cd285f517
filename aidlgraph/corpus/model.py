"""The records every loader produces: items, topics, prerequisite edges, gathered in a Batch."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

from ..text import normalise_name, slugify

KINDS = ("resource", "news", "post", "question", "issue")

# What a resource is, for a learner: the medium decides how it is read, how long it takes and
# where in a path it suits (introductions and courses before manuals and papers).
MEDIA = ("tutorial", "course", "lecture", "video", "article", "book", "manual", "paper", "list", "news",
         "dataset", "tool", "person", "podcast", "code")
LEVELS = ("beginner", "intermediate", "advanced")
_MEDIUM_WORDS = {
    "tutorial": "tutorial", "tutorials": "tutorial", "guide": "tutorial", "guides": "tutorial",
    "walkthrough": "tutorial", "how-to": "tutorial", "howto": "tutorial", "introduction": "tutorial",
    "course": "course", "courses": "course", "mooc": "course", "moocs": "course", "online course": "course",
    "online courses": "course", "class": "course", "classes": "course", "specialization": "course",
    "lecture": "lecture", "lectures": "lecture", "lecture notes": "lecture", "slides": "lecture",
    "video": "video", "videos": "video", "youtube": "video", "talk": "video", "talks": "video",
    "screencast": "video", "video lectures": "video",
    "article": "article", "articles": "article", "blog": "article", "blogs": "article", "blog post": "article",
    "blog posts": "article", "essay": "article", "essays": "article", "write-up": "article", "writeup": "article",
    "book": "book", "books": "book", "textbook": "book", "textbooks": "book", "ebook": "book", "ebooks": "book",
    "manual": "manual", "manuals": "manual", "documentation": "manual", "docs": "manual", "reference": "manual",
    "specification": "manual", "programming guide": "manual",
    "paper": "paper", "papers": "paper", "scientific papers": "paper", "research papers": "paper",
    "research paper": "paper", "publications": "paper", "preprint": "paper", "arxiv": "paper",
    "list": "list", "lists": "list", "curated list": "list", "curated lists": "list", "awesome list": "list",
    "awesome lists": "list", "reading list": "list", "reading lists": "list",
    "dataset": "dataset", "datasets": "dataset", "data sets": "dataset",
    "tool": "tool", "tools": "tool", "library": "tool", "libraries": "tool", "framework": "tool",
    "frameworks": "tool", "software": "tool",
    "person": "person", "people": "person", "researchers": "person", "researcher": "person",
    "podcast": "podcast", "podcasts": "podcast", "news": "news",
    "code": "code", "repository": "code", "repositories": "code", "implementations": "code",
    "notebook": "code", "notebooks": "code",
    # the spellings of Metacademy's resource_type and TutorialBank's medium columns
    "online textbook": "book", "reference book": "book", "monograph": "book", "online lecture": "lecture",
    "online lectures": "lecture", "video lecture": "lecture", "lecture videos": "lecture", "lecture slide": "lecture",
    "presentation slides": "lecture", "tutorial paper": "tutorial", "online tutorial": "tutorial",
    "video tutorials": "video", "tutorial video": "video", "youtube videos": "video", "survey paper": "paper",
    "review paper": "paper", "surveys": "paper", "thesis": "paper", "technical report": "paper",
    "corpora": "dataset", "corpus": "dataset",
}
_LEVEL_WORDS = {"beginner": "beginner", "beginners": "beginner", "novice": "beginner", "introductory": "beginner",
                "basic": "beginner", "easy": "beginner", "intermediate": "intermediate", "advanced": "advanced",
                "expert": "advanced", "hard": "advanced"}


def medium_of(text) -> str:
    """The medium a word or heading names ("Scientific Papers" -> "paper"), or "".

    >>> medium_of("Scientific Papers"), medium_of("Curated Lists"), medium_of("Segmentation")
    ('paper', 'list', '')
    """
    return _MEDIUM_WORDS.get(normalise_name(str(text or "")).replace(" and ", " "), "")


def level_of(text) -> str:
    """The level a word names ("Beginners" -> "beginner"), or ""."""
    return _LEVEL_WORDS.get(normalise_name(str(text or "")), "")


def embed_text(title: str, text: str | None) -> str:
    """What the model reads for an item: its title first, then its text. The one definition, for
    items being ingested and for stored rows being re-embedded alike."""
    return f"{title}\n{text or ''}".strip()


def passage_embed_text(title: str, passage: str) -> str:
    """What the model reads for one passage of an item: the item's title gives it its subject."""
    return f"{title}: {passage}"


def topic_text(topic) -> str:
    """What the model reads for a topic (a Topic or a stored topic row): its name, aliases and
    description."""
    get = topic.get if isinstance(topic, dict) else lambda key, default=None: getattr(topic, key, default)
    aliases = ", ".join(get("aliases") or [])
    text = get("name") + (f" ({aliases})" if aliases else "")
    return f"{text}: {get('description') or ''}".strip(": ")


@dataclass
class Item:
    """Something to read, or something that answers a question."""

    title: str
    kind: str = "resource"
    url: str = ""
    text: str = ""
    source: str = ""
    date: str = ""
    authors: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # topic ids, names or aliases until resolved
    series: str = ""
    position: int | None = None
    free: bool | None = None
    core: bool = False
    minutes: float | None = None
    medium: str = ""  # one of MEDIA, or "" when the source does not say
    level: str = ""   # one of LEVELS, or "" when the source does not say
    extra: dict = field(default_factory=dict)  # loader-specific fields (tags, venue, ...)

    @property
    def id(self) -> str:
        """Stable id: the same source and url (or title) always give the same id."""
        key = self.url.strip() or normalise_name(self.title)
        digest = hashlib.sha1(f"{self.source}\x1f{key}".encode("utf-8")).hexdigest()
        return digest[:12]

    @property
    def content_hash(self) -> str:
        """Changes exactly when something that is stored or embedded changes."""
        # Fields read directly: dataclasses.asdict deep-copies every value, which made hashing
        # the largest cost of re-ingesting 20k unchanged rows.
        body = json.dumps({f.name: getattr(self, f.name) for f in fields(self)},
                          sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha1(body.encode("utf-8")).hexdigest()

    def embed_text(self) -> str:
        """What the model reads for this item (see ``embed_text``)."""
        return embed_text(self.title, self.text)


@dataclass
class Topic:
    """A concept a learner can learn."""

    name: str
    id: str = ""
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    minutes: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = slugify(self.name)


@dataclass
class Prereq:
    """``src`` must be understood before ``dst`` (topic ids or names until resolved)."""

    src: str
    dst: str
    reason: str = ""
    source: str = "curated"
    confidence: float = 1.0


@dataclass
class Batch:
    """What one source file yields."""

    origin: str
    items: list[Item] = field(default_factory=list)
    # True when the source states *all* curated prerequisites of the topics it declares (a
    # topics file): re-ingesting it then drops curated edges it no longer lists.
    states_prereqs: bool = False
    # True when the items' topic names are a page's headings (a Markdown reading list): the build
    # step matches them to the library's topics (by name, alias, parts or meaning) before planning,
    # and only those that match nothing become new topics (see ``aidlgraph.build.headings``).
    heading_topics: bool = False
    digest: str = ""  # of the file's bytes, when it came from a file
    unchanged: bool = False  # the file is as it was last ingested: not parsed, nothing to do
    topics: list[Topic] = field(default_factory=list)
    prereqs: list[Prereq] = field(default_factory=list)

    def declare_item_topics(self) -> None:
        """Declare every topic the items name (once per normalised name): for sources whose
        headings or columns are their own taxonomy."""
        declared: dict[str, Topic] = {}
        for item in self.items:
            for name in item.topics:
                declared.setdefault(normalise_name(name), Topic(name=name))
        self.topics = list(declared.values())

    def extend(self, other: "Batch") -> None:
        self.items.extend(other.items)
        self.topics.extend(other.topics)
        self.prereqs.extend(other.prereqs)
