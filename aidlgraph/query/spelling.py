"""Misspelt words read as the library's own words ("segmantation" -> "segmentation")."""
from __future__ import annotations

import difflib
import re

from ..library import Library
from ..text import stem

FIXES = 10_000  # misspellings remembered per library generation (a server sees the same ones again)


def topic_words(lib: Library) -> set[str]:
    """Words of the library's topic names, aliases and descriptions (until the library changes)."""
    def compute() -> set[str]:
        texts = [" ".join([t["name"], *t["aliases"], t.get("description") or ""]) for t in lib.topics()]
        return {w for text in texts for w in re.findall(r"[a-z][a-z0-9]+", text.lower())}

    return lib.derived("spelling.topic_words", compute)


def vocabulary(lib: Library) -> set[str]:
    """The topic words and the words of every item title (until the library changes): what a
    misspelt word is corrected to. Reading every title costs seconds at a million items, so it is
    read only when a word is found nowhere else."""
    def compute() -> set[str]:
        return topic_words(lib) | {w for title in lib.store.item_titles() for w in re.findall(r"[a-z][a-z0-9]+", title.lower())}

    return lib.derived("spelling.vocabulary", compute)


def spell_fixed(lib: Library, text: str, keep: set[str] = frozenset(), cutoff: float = 0.85) -> str:
    """``text`` with each word of six letters or more that the library has never seen replaced by
    the library's closest word, when one is this close (difflib's ratio); other words (and those
    in ``keep``) as they are."""
    candidates: list[str] | None = None

    def known(word: str) -> bool:
        forms = {word, stem(word), word + "s", word + "es"}
        return bool(forms & topic_words(lib)) or bool(lib.store.document_frequency(
            " ".join(re.findall(r"[a-z0-9]+", word)))) or bool(forms & vocabulary(lib))

    def fix(m: re.Match) -> str:
        nonlocal candidates
        word = m.group(0)
        low = word.lower()
        if len(low) < 6 or low in keep or known(low):
            return word
        found = lib.derived("spelling.fixes", dict)  # word -> its fix in this library (at most FIXES)
        if (low, cutoff) in found:
            return found[low, cutoff] or word
        candidates = candidates if candidates is not None else sorted(w for w in vocabulary(lib) if len(w) >= 5)
        close = difflib.get_close_matches(low, candidates, n=1, cutoff=cutoff)
        if len(found) < FIXES:
            found[low, cutoff] = close[0] if close else None
        return close[0] if close else word

    def unit(m: re.Match) -> str:  # "1080ti" -> "1080 ti"
        return f"{m.group(1)} {m.group(2)}" if m.group(2).lower() in vocabulary(lib) else m.group(0)

    text = re.sub(r"\b(\d+)([a-z]{1,3})\b", unit, text, flags=re.I)
    return re.sub(r"[A-Za-z][A-Za-z0-9]+", fix, text)
