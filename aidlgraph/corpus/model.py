"""The records every loader produces: items, topics, prerequisite edges, gathered in a Batch."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields

from ..text import normalise_name, slugify

KINDS = ("resource", "news", "post", "question", "issue")


def embed_text(title: str, text: str | None) -> str:
    """What the model reads for an item: its title first, then its text. The one definition, for
    items being ingested and for stored rows being re-embedded alike."""
    return f"{title}\n{text or ''}".strip()


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
    extra: dict = field(default_factory=dict)  # loader-specific fields (tags, level, venue, ...)

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
