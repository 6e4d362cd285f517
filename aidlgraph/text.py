"""Text rules shared by every stage: names, words, queries and links.

One tokenizer (``terms``) feeds the FTS5 query, the matched-term explanations and the question
words ``ask`` weighs, so what a result says it matched is what the search matched.

Examples
--------
>>> normalise_name("  Semantic-Segmentation!! ")
'semantic segmentation'
>>> slugify("Semantic Segmentation")
'semantic-segmentation'
>>> terms("Reading about the unified memory of CUDA 9, and more")
['reading', 'unified', 'memory', 'cuda']
>>> fts_query("unified memory")
'"unified" OR "memory"'
>>> same_resource("https://a.org/x/", "http://a.org/x")
True
"""
from __future__ import annotations

import re

from .errors import InputError

MAX_QUERY = 2000  # characters of a query: a topic, a question or a short text (drafts have their own limit)
ABBREVIATIONS = {
    "prof", "dr", "mr", "mrs", "ms", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "jr", "sr", "no",
    "fig", "al", "approx", "cf", "vol", "ed", "eds", "pp", "p", "ph.d", "u.s", "a.i", "corp", "co",
}
SENTENCE_END_RE = re.compile(r"[.!?]+[\"”')\]]*\s+(?=[\"“(\[]?[A-Z0-9])")
MAX_PASSAGES = 80       # per item: a 5,000-word post is read in its first 80 passages
SHORT_SENTENCE = 7      # words: a sentence this short is read with the one before it

# Stop words: common English function words plus words that carry no subject in a curator's
# draft or a member's question.
STOPWORDS = frozenset("""a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my
myself no nor not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
she's should shouldn't so some such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're we've
were weren't what what's when when's where where's which while who who's whom why why's with won't would wouldn't
you you'd you'll you're you've your yours yourself yourselves also new get got one two use used using will just
like make makes made way ways much many may might us via vs per its it's""".split())

_WORD = re.compile(r"[a-z0-9][a-z0-9+#.\-]*[a-z0-9+#]|[a-z0-9]")


def normalise_name(text: str) -> str:
    """The form topic names and aliases are compared in: lowercase, single spaces, no punctuation."""
    return " ".join(re.sub(r"[^a-z0-9+#]+", " ", text.lower()).split())


def slugify(text: str) -> str:
    """A lowercase, hyphenated id for a topic name: ``"Semantic Segmentation" -> "semantic-segmentation"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80] or "topic"


def words(text: str) -> list[str]:
    """Every word of ``text``, lowercased, in order."""
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """Content words of ``text``: no stop words, no one-letter words, no bare numbers; each once."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()))


def fts_query(text: str, limit: int = 64) -> str:
    """An FTS5 query matching any of the content words of ``text``; every word is quoted, so no
    user text can break FTS5's syntax."""
    return " OR ".join(f'"{t}"' for t in terms(text)[:limit])


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; abbreviations (Prof., e.g., G.) and initials do not end one.

    >>> split_sentences("Prof. Li spoke. It was e.g. fine! Next")
    ['Prof. Li spoke.', 'It was e.g. fine!', 'Next']
    """
    out, start = [], 0
    for m in SENTENCE_END_RE.finditer(text):
        before = text[start:m.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if last in ABBREVIATIONS or len(last) == 1 or re.fullmatch(r"(?:[a-z]\.)+[a-z]", last):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def passages(text: str) -> list[str]:
    """The passages an answer can quote from a text: its sentences (and list entries, one a line),
    a very short sentence joined to the one before it ("Or Layer-wise Adaptive Rate Scaling
    (LARS).") so that each passage can stand on its own.

    >>> passages("Batch renorm fixes small batches. It works. A long second sentence follows here now.")
    ['Batch renorm fixes small batches. It works.', 'A long second sentence follows here now.']
    """
    out: list[str] = []
    for block in re.split(r"\n+", text or ""):
        block = re.sub(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+", "", block).strip()
        for sentence in split_sentences(" ".join(block.split())):
            if out and len(sentence.split()) < SHORT_SENTENCE and not re.match(r"^\s*(?:[-*•]|\d+[.)])", sentence):
                out[-1] = f"{out[-1]} {sentence}"
            else:
                out.append(sentence)
    return out[:MAX_PASSAGES]


def stem(term: str) -> str:
    """A light plural stem: "networks" -> "network", "libraries" -> "library"."""
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3] + "y"
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        return term[:-1]
    return term


def clean_query(query: str, what: str = "the query", limit: int = MAX_QUERY, longer: str = "") -> str:
    """``query`` with its whitespace collapsed, or InputError when empty or too long (``longer``
    says where a longer text can go)."""
    query = " ".join((query or "").split())
    if not query:
        raise InputError(f"{what} is empty; give a topic, a question or a text")
    if len(query) > limit:
        raise InputError(f"{what} is {len(query)} characters long; keep it under {limit}" + (f" ({longer})" if longer else ""))
    return query


def same_resource(url_a: str | None, url_b: str | None) -> bool:
    """Two near-identical items are the same resource unless both have links, and different ones
    (e.g. lecture slides titled "PCA" from two courses)."""
    a, b = (url_a or "").strip().rstrip("/"), (url_b or "").strip().rstrip("/")
    return not (a and b and a.split("://")[-1].lower() != b.split("://")[-1].lower())
