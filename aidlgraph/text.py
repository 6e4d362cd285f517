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

import functools
import re
import unicodedata

from .errors import InputError

MAX_QUERY = 2000  # characters of a query: a topic, a question or a short text (drafts have their own limit)
ABBREVIATIONS = {
    "prof", "dr", "mr", "mrs", "ms", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "jr", "sr", "no",
    "fig", "al", "approx", "cf", "vol", "ed", "eds", "pp", "p", "ph.d", "u.s", "a.i", "corp", "co",
}
SENTENCE_END_RE = re.compile(r"[.!?]+[\"”')\]]*\s+(?=[\"“(\[]?[A-Z0-9])")
MAX_PASSAGES = 80       # per item: a 5,000-word post is read in its first 80 passages
SHORT_SENTENCE = 7      # words: a sentence this short is read with the one before it

# Stop words: NLTK's English stop-word list (the 179 words of the nltk_data "stopwords" corpus),
# which already holds the pieces a word tokenizer leaves of contractions
# ("I've" -> "i", "ve"; "don't" -> "don", "t"), plus words that carry no subject in a curator's
# draft or a member's question ("new", "use", "week", "says", ...).
NLTK_ENGLISH = frozenset("""i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
yourselves he him his himself she she's her hers herself it it's its itself they them their theirs themselves what
which who whom this that that'll these those am is are was were be been being have has had having do does did doing a
an the and but if or because as until while of at by for with about against between into through during before after
above below to from up down in out on off over under again further then once here there when where why how all any
both each few more most other some such no nor not only own same so than too very s t can will just don don't should
should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven
haven't isn isn't ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
weren't won won't wouldn wouldn't""".split())
FILLER = frozenset("""also could would might must may shall cannot ought let get gets got getting one two use uses
used using make makes made way ways much many like via vs per etc us new week weeks today yesterday tomorrow ago
says said say""".split())
STOPWORDS = NLTK_ENGLISH | FILLER

# A word as SQLite FTS5's unicode61 tokenizer (under BM25's porter stemmer) sees one: a run of
# letters and digits, accents removed, so "I've" is "i" + "ve" and "GPU-based" is "gpu" + "based".
# Only Latin letters and digits make words here (every FTS5 query stays plain ASCII; the embedding
# still reads other scripts). "C++" and "C#" keep their sign: FTS5 reads the quoted term as the
# word "c", and a reason saying "c++" is clearer.
_WORD = re.compile(r"[a-z0-9]+(?:\+\+|#)?")


def normalise_name(text: str) -> str:
    """The form topic names and aliases are compared in: lowercase, single spaces, no punctuation."""
    return _normalised(text) if len(text) <= MEMO_CHARS else _normalise(text)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9+#]+", " ", text.lower()).split())


# Topic names and passages come back request after request in a server: short texts are memoised
# (bounded: at most MEMO_SIZE texts of at most MEMO_CHARS characters each, a few MB).
MEMO_CHARS = 1000
MEMO_SIZE = 16384
_normalised = functools.lru_cache(maxsize=MEMO_SIZE)(_normalise)


def slugify(text: str) -> str:
    """A lowercase, hyphenated id for a topic name: ``"Semantic Segmentation" -> "semantic-segmentation"``."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80] or "topic"


def words(text: str) -> list[str]:
    """Every word of ``text`` as FTS5 splits it: lowercased, accents removed, in order.

    >>> words("I've naïvely used GPU-based C++")
    ['i', 've', 'naively', 'used', 'gpu', 'based', 'c++']
    """
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """Content words of ``text``: no stop words, no one-letter words, no bare numbers; each once.

    >>> terms("I've watched the GTX 1080 Ti's launch; we'll see")
    ['watched', 'gtx', 'ti', 'launch', 'see']
    """
    return list(_memo_terms(text) if len(text) <= MEMO_CHARS else _terms(text))


def _terms(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()))


_memo_terms = functools.lru_cache(maxsize=MEMO_SIZE)(_terms)


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
    (LARS).") -- or, opening a text, to the one after it ("No. You can ...") -- so that each
    passage can stand on its own.

    >>> passages("Batch renorm fixes small batches. It works. A long second sentence follows here now.")
    ['Batch renorm fixes small batches. It works.', 'A long second sentence follows here now.']
    >>> passages("No. You can learn the basics on a laptop CPU.")
    ['No. You can learn the basics on a laptop CPU.']
    """
    out: list[str] = []
    pending = ""  # a short opening sentence waiting for the next one
    for block in re.split(r"\n+", text or ""):
        block = re.sub(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+", "", block).strip()
        for sentence in split_sentences(" ".join(block.split())):
            short = len(sentence.split()) < SHORT_SENTENCE
            if pending:
                sentence, pending = f"{pending} {sentence}", ""
            elif short and out:
                out[-1] = f"{out[-1]} {sentence}"
                continue
            elif short:
                pending = sentence
                continue
            out.append(sentence)
    if pending:
        out.append(pending)
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
