"""First stage of ``related``: candidates for each passage of a draft, by meaning (FAISS) and by
words (FTS5 BM25), each with its rank in both lists."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...text import fts_query

CANDIDATES = 50
PASSAGE_WORDS = 120
MAX_PASSAGES = 24


@dataclass
class Hit:
    """One candidate item, across every passage that found it."""

    num: int
    fused: float = 0.0
    cosine: float = 0.0
    bm25_rank: int | None = None
    dense_rank: int | None = None
    passages: set[int] = field(default_factory=set)


def split_passages(text: str) -> list[str]:
    """Passages of a draft: by headings and blank lines, packed up to ~PASSAGE_WORDS words."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n|\n(?=#{1,6} )|\n(?=\s*(?:[-*+]|\d+[.)])\s)", text) if b.strip()]
    passages: list[str] = []
    current: list[str] = []
    for block in blocks:
        words = len(block.split())
        if current and (sum(len(c.split()) for c in current) + words > PASSAGE_WORDS or block.startswith("#")):
            passages.append("\n".join(current))
            current = []
        current.append(block)
    if current:
        passages.append("\n".join(current))
    passages = [p for p in passages if len(re.findall(r"\w+", p)) >= 3] or [text.strip()]
    return passages[:MAX_PASSAGES]


def dense(lib, vector, want: int) -> list[tuple[int, float]]:
    """(num, cosine) of the ``want`` nearest items, nearest first."""
    scores, ids = lib.index.search(vector, want)
    return [(int(num), float(score)) for score, num in zip(scores[0], ids[0]) if num >= 0]


def lexical(lib, passage: str, want: int) -> list[int]:
    """Nums of the ``want`` best BM25 matches of the passage's content words, best first."""
    return [num for num, _ in lib.store.fts(fts_query(passage), want)]
