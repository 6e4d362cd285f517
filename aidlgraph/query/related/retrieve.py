"""First stage of ``related``: a draft cut into the parts a curator wrote (one story a paragraph),
and candidates for each part by meaning (FAISS) and by words (FTS5 BM25), each with its rank in
both lists and its cosine to the part."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...text import fts_query, terms

CANDIDATES = 50
PASSAGE_WORDS = 120   # a paragraph longer than this is searched a window of sentences at a time
MIN_PART_TERMS = 4    # a block with fewer content words (a heading, "This week:") joins the next one
MAX_PARTS = 40       # parts searched; a longer draft says how many it left out
MAX_PASSAGES = 80    # windows searched over all parts

_BLOCKS = re.compile(r"\n\s*\n|\n(?=#{1,6} )|\n(?=\s*(?:[-*+]|\d+[.)])\s)")
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass
class Part:
    """One paragraph of a draft (or the whole of a short text), and the passages it is searched as."""

    text: str
    passages: list[str]

    @property
    def excerpt(self) -> str:
        """The first words of the part, for a curator to recognise it by."""
        flat = " ".join(self.text.split())
        return flat if len(flat) <= 90 else flat[:87].rsplit(" ", 1)[0] + "..."


@dataclass
class Hit:
    """One candidate item for one part, across the passages of that part that found it."""

    num: int
    fused: float = 0.0
    cosine: float = 0.0
    bm25_rank: int | None = None
    dense_rank: int | None = None
    passages: set[int] = field(default_factory=set)
    matched: list[str] = field(default_factory=list)   # the part's words FTS5 finds in the item
    shown: list[str] = field(default_factory=list)     # those of them worth telling a curator
    relevance: float = 0.0


def split_parts(text: str) -> list[Part]:
    """The parts of a draft: its paragraphs (blank lines, headings and list items start one), a
    heading or a line too short to search joined to the paragraph after it; a paragraph over
    PASSAGE_WORDS words is searched as windows of whole sentences.

    >>> [p.excerpt for p in split_parts("# News\\n\\nNVIDIA bought Mellanox for its InfiniBand gear.\\n\\n"
    ...                                   "Google acquired Kaggle, the data science competition site.")]
    ['# News NVIDIA bought Mellanox for its InfiniBand gear.', 'Google acquired Kaggle, the data science competition site.']
    """
    blocks = [b.strip() for b in _BLOCKS.split(text) if b.strip()]
    paragraphs: list[str] = []
    pending = ""
    for block in blocks:
        block = f"{pending}\n{block}" if pending else block
        if len(terms(block)) < MIN_PART_TERMS:
            pending = block
            continue
        paragraphs.append(block)
        pending = ""
    if pending:
        if paragraphs:
            paragraphs[-1] += "\n" + pending
        else:
            paragraphs.append(pending)
    parts = [Part(p, _windows(p)) for p in paragraphs]
    for part in parts:  # a very long draft keeps every part it searches, each with fewer windows
        part.passages = part.passages[:max(1, MAX_PASSAGES // min(len(parts), MAX_PARTS))]
    return parts or [Part(text.strip(), [text.strip()])]


def split_passages(text: str) -> list[str]:
    """Every passage searched for ``text``: the passages of all its parts, in order."""
    return [p for part in split_parts(text) for p in part.passages]


def _windows(paragraph: str) -> list[str]:
    """A long paragraph as consecutive windows of whole sentences, each up to PASSAGE_WORDS words."""
    if len(paragraph.split()) <= PASSAGE_WORDS:
        return [paragraph]
    out: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCES.split(paragraph):
        if current and sum(len(s.split()) for s in current) + len(sentence.split()) > PASSAGE_WORDS:
            out.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        out.append(" ".join(current))
    return out


def dense(lib, vector, want: int) -> list[tuple[int, float]]:
    """(num, cosine) of the ``want`` nearest items, nearest first."""
    scores, ids = lib.index.search(vector, want)
    return [(int(num), float(score)) for score, num in zip(scores[0], ids[0]) if num >= 0]


def lexical(lib, passage: str, want: int) -> list[tuple[int, float]]:
    """(num, BM25 score) of the ``want`` best matches of the passage's content words, best first."""
    return lib.store.fts(fts_query(passage), want)


def cosines(lib, nums: list[int], vector) -> dict[int, float]:
    """The cosine of each item to a passage's vector, from the stored item vectors (for the
    candidates BM25 found and FAISS did not)."""
    if not nums:
        return {}
    ids, vectors = lib.store.vectors(nums, dim=lib.dim)
    if not len(ids):
        return {}
    return {int(n): float(s) for n, s in zip(ids, np.asarray(vectors) @ np.asarray(vector))}
