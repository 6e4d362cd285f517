"""Misspelt words read as the library's own words ("segmantation" -> "segmentation")."""
from __future__ import annotations

import difflib
import re

from ..library import Library
from ..text import stem


def vocabulary(lib: Library) -> set[str]:
    """Words of the library's topic names, aliases, descriptions and item titles (until the library
    changes): what a misspelt word is corrected to."""
    def compute() -> set[str]:
        texts = [" ".join([t["name"], *t["aliases"], t.get("description") or ""]) for t in lib.store.topics()]
        texts += lib.store.item_titles()
        return {w for text in texts for w in re.findall(r"[a-z][a-z0-9]+", text.lower())}

    return lib.derived("spelling.vocabulary", compute)


def spell_fixed(lib: Library, text: str, keep: set[str] = frozenset(), cutoff: float = 0.85) -> str:
    """``text`` with each word of six letters or more that the library has never seen replaced by
    the library's closest word, when one is this close (difflib's ratio); other words (and those
    in ``keep``) as they are."""
    vocab = vocabulary(lib)
    candidates: list[str] | None = None

    def fix(m: re.Match) -> str:
        nonlocal candidates
        word = m.group(0)
        low = word.lower()
        if len(low) < 6 or low in keep or {low, stem(low), low + "s", low + "es"} & vocab:
            return word
        if lib.store.document_frequency(" ".join(re.findall(r"[a-z0-9]+", low))):
            return word
        candidates = candidates if candidates is not None else sorted(w for w in vocab if len(w) >= 5)
        close = difflib.get_close_matches(low, candidates, n=1, cutoff=cutoff)
        return close[0] if close else word

    text = re.sub(r"\b(\d+)([a-z]{1,3})\b", lambda m: f"{m.group(1)} {m.group(2)}"
                  if m.group(2) in vocab else m.group(0), text, flags=re.I)  # "1080ti" -> "1080 ti"
    return re.sub(r"[A-Za-z][A-Za-z0-9]+", fix, text)
