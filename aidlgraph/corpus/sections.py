"""What a heading of a reading list says about the entries under it.

A community knowledge base files its entries under headings of several sorts, and only one sort
names a subject. ``## Scientific Papers`` says what the entries *are* (a medium), ``## Free
Courses`` also says what they cost, ``## Beginners`` for whom they are; ``## Frequently Asked
Questions`` or ``## The Path We Recommend`` arrange the page; ``### Do I need a GPU?`` asks a
question that the paragraphs below answer. What is left, ``## Segmentation, Object Detection``,
is a *field* heading: its name is what the entries are about, and the build step matches it to
the library's topics (``aidlgraph.build.headings``). Deciding the sort needs only the words of
the heading, so it happens here, in the loader.

Examples
--------
>>> read_heading("Scientific Papers").sort, read_heading("Scientific Papers").medium
('medium', 'paper')
>>> h = read_heading("Free Courses"); (h.sort, h.medium, h.free)
('medium', 'course', True)
>>> read_heading("Segmentation, Object Detection").sort
'field'
>>> read_heading("The Path We Recommend").sort, read_heading("FAQ").sort
('structure', 'structure')
>>> read_heading("Do I need a GPU to start?").sort
'question'
>>> read_heading("Frameworks and Tools").medium, read_heading("Awesome Deep Learning").name
('tool', 'Deep Learning')
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .model import level_of, medium_of, normalise_name

# Headings that arrange a page rather than name a subject: entries under them belong to the
# heading above.
STRUCTURE = {
    "frequently asked questions", "faq", "faqs", "questions", "q a", "q and a", "questions and answers",
    "introduction", "intro", "overview", "about", "about this list", "summary", "getting started", "start here",
    "where to start", "how to start", "misc", "miscellaneous", "other", "others", "more", "general", "resources",
    "other resources", "more resources", "further reading", "see also", "references", "notes", "pages", "links",
    "useful links", "related", "conclusion", "prerequisites", "recommended", "highly recommended", "must read",
    "must reads", "classics", "the classics", "essentials", "basics", "top picks", "extras", "bonus", "archive",
}
# A heading that speaks to or for people ("The Path We Recommend", "Your First Week") is prose
# structure, never the name of a concept.
PRONOUNS = {"we", "our", "us", "you", "your", "i", "my", "me", "they", "their"}
ACCESS = {"free": True, "paid": False, "open": True, "online": None, "recommended": None, "selected": None,
          "other": None, "more": None, "classic": None, "popular": None, "top": None, "useful": None,
          "for": None, "the": None}
PARTS_RE = re.compile(r"\s*(?:,|;|/|&|\+|\band\b)\s*", re.I)


@dataclass(frozen=True)
class Heading:
    """One heading, read: its ``sort`` (field, medium, level, structure, question) and the fields
    it gives the entries under it."""

    sort: str
    name: str = ""          # the cleaned heading (for a field: the topic name it proposes)
    medium: str = ""
    free: bool | None = None
    level: str = ""


def split_parts(name: str) -> list[str]:
    """``"Segmentation, Object Detection"`` -> ``["Segmentation", "Object Detection"]``; also "and", "&", "/".

    >>> split_parts("TensorFlow and Keras"), split_parts("CUDA")
    (['TensorFlow', 'Keras'], ['CUDA'])
    """
    return [p for p in PARTS_RE.split(name) if p.strip()]


def read_heading(name: str) -> Heading:
    """What the (already cleaned, see ``markdown.clean_heading``) heading ``name`` says."""
    name = re.sub(r"^(?:the\s+)?awesome\s+(?:list\s+of\s+)?", "", name.strip(), flags=re.I) or name.strip()
    key = normalise_name(name)
    if not key:
        return Heading("structure")
    if name.rstrip().endswith("?"):
        return Heading("question", name)
    if key in STRUCTURE or PRONOUNS & set(key.split()):
        return Heading("structure", name)
    fields = _fields_of(key)
    if fields is not None:
        return fields
    return Heading("field", name)


def _fields_of(key: str) -> Heading | None:
    """A heading made only of a medium, access and level words ("Free Courses", "Beginners",
    "Books and Tutorials"), as a Heading; None when some word names something else."""
    medium = medium_of(key)
    if medium:
        return Heading("medium", key, medium)
    words = key.split()
    free, level, media = None, "", []
    rest = []
    for word in words:
        if word in ACCESS:
            free = ACCESS[word] if ACCESS[word] is not None else free
        elif level_of(word):
            level = level or level_of(word)
        else:
            rest.append(word)
    if rest:
        parts = split_parts(" ".join(rest))
        media = [medium_of(p) for p in parts]
        if not all(media):
            return None
    if media:
        return Heading("medium", key, media[0], free, level)
    if level:
        return Heading("level", key, "", free, level)
    return None
