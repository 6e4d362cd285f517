"""The evidence for an answer: passages of the archive that may state it, and member questions
that asked it before, each scored against the question.

Passages are found by meaning (the items nearest the question in the FAISS index, and the
passages of those items) and by words (FTS5 BM25 over passages and items). A passage's score is
its cosine similarity to the question plus ``lexical_weight`` times the idf-weighted share of the
question's words found in the passage or its item's title (misspellings read as the library's own
words). A member question is matched on its question (title and "Q." part), as Haystack's FAQ
retrieval matches questions, not answers; it then answers with its own answer's passages.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ...corpus.model import passage_embed_text
from ...library import Library
from ...text import fts_query, normalise_name, passages, terms
from ...text import stem as light_stem
from ..spelling import spell_fixed
from .question import GENERIC, Question

ITEM_CANDIDATES = 30
FTS_CANDIDATES = 20
PASSAGE_FTS = 40
ANSWER_KINDS = ("resource", "post", "news", "question")
SHORT_QUOTE = 12  # words: a passage this short is quoted with the one after it ("A paper titled X." says little)
# A sentence opening like this leans on the one before it, which is quoted with it.
LEANS = re.compile(r"^\W*(but|and|so|also|however|it|its|it's|this|that|these|those|they|their|he|she|his|her|"
                   r"such|there|then|thus|which|the (?:paper|article|post|work|company|event|idea))\b", re.I)  # issues summarise everything, so they match everything


@dataclass
class Passage:
    num: int
    item: dict
    position: int
    text: str
    cosine: float
    coverage: float = 0.0
    via_question: float = 0.0  # the member question's match, for passages of a member's answer
    named: float = 0.0  # the share of the question naming a topic this passage's item is about
    context: str = ""  # the sentence before, when this one leans on it ("But ...", "It ...")
    follow: str = ""   # the sentence after, when this one is too short to say much on its own

    def score(self, limits: dict) -> float:
        lead = limits.get("lead_bonus", 0.0) if self.position == 0 else 0.0  # news states itself first
        own = self.cosine + limits["lexical_weight"] * self.coverage + limits["name_bonus"] * self.named + lead
        return max(own, self.via_question + limits["question_bonus"]) if self.via_question else own


@dataclass
class Evidence:
    question: Question
    words: str  # the question with misspellings read as the library's words
    weights: dict[str, float]  # question term (stem) -> idf over the library
    unseen: set[str] = field(default_factory=set)  # question terms no item of the library contains
    passages: list[Passage] = field(default_factory=list)
    named: dict[str, float] = field(default_factory=dict)  # topic id -> share of the question it names

    def ranked(self, limits: dict) -> list[Passage]:
        return sorted(self.passages, key=lambda p: (-p.score(limits), p.item["id"], p.position))


def gather(lib: Library, question: Question) -> Evidence:
    """Score every passage that may answer ``question`` (see the module docstring)."""
    words = spell_fixed(lib, question.text, keep=GENERIC)
    vector = lib.embed_query(question.text)
    # a misspelt question is also read as the library spells it: the better reading counts
    fixed = lib.embed_query(words) if words != question.text else None
    weights, unseen = term_weights(lib, words)
    nums: set[int] = set()
    if lib.index.size:
        _, ids = lib.index.search(vector, ITEM_CANDIDATES)
        nums.update(int(n) for n in ids[0] if n >= 0)
    query = fts_query(" ".join(weights) or words)
    nums.update(num for num, _ in lib.store.fts(query, FTS_CANDIDATES))
    nums.update(item for _, item in lib.store.passages_fts(query, PASSAGE_FTS))
    rows = {n: r for n, r in lib.store.items_by_num(sorted(nums)).items() if r["kind"] in ANSWER_KINDS}
    vec_ids, vecs = lib.vectors(sorted(rows))
    item_vec = {int(n): v for n, v in zip(vec_ids, vecs)}
    evidence = Evidence(question, words, weights, unseen,
                        named=named_topics(question.text, lib.topics(), weights, words))
    asked = {n: question_text(r) for n, r in rows.items() if r["kind"] == "question"}
    found = passages_of(lib, rows)
    before = {(p["item_num"], p["position"]): p["text"] for p in found}
    for p in found:
        vec = p["vector"] if p["vector"] is not None else item_vec.get(p["item_num"])
        if vec is None:
            continue
        row = rows[p["item_num"]]
        text = p["text"]
        if row["kind"] == "question":  # a member's question is matched as a question, never quoted as an answer
            text = answer_part(text)
            if not text or _is_question_part(text, asked[p["item_num"]]):
                continue
        if not quotable(text):
            continue
        named = max((evidence.named.get(t, 0.0) for t in row["topics"]), default=0.0)
        # the words count in the passage itself: the title already speaks through the embedding
        context = before.get((p["item_num"], p["position"] - 1), "") if LEANS.match(text) else ""
        follow = before.get((p["item_num"], p["position"] + 1), "") if len(text.split()) < SHORT_QUOTE else ""
        cosine = float(vec @ vector) if fixed is None else max(float(vec @ vector), float(vec @ fixed))
        evidence.passages.append(Passage(p["num"], row, p["position"], text, cosine,
                                         coverage(weights, f"{context} {text}"), named=named, context=context,
                                         follow=follow))
    _match_member_questions(lib, evidence, vector, rows)
    return evidence


def passages_of(lib: Library, rows: dict[int, dict]) -> list[dict]:
    """The stored passages of these items; an item stored before passages existed (an upgraded
    library) has its passages made now, and kept when the library can be written."""
    found = lib.store.passages(list(rows))
    missing = lib.store.items_without_passages(list(rows))
    for num in missing:
        row = rows[num]
        texts = passages(row.get("text") or "") or [row["title"]]
        vecs = lib.query_embedder.encode([passage_embed_text(row["title"], t) for t in texts]) if len(texts) > 1 else None
        if not lib.readonly:
            lib.store.cache_passages(num, texts, vecs)
        found += [{"num": -1 - n, "item_num": num, "position": n, "text": t, "vector": None if vecs is None else vecs[n]}
                  for n, t in enumerate(texts)]
    return found


def quotable(text: str) -> bool:
    """A passage that can state an answer: not a question (a rhetorical "What is the basis of its
    technology?" answers nothing) and not a fragment."""
    return not text.rstrip().endswith("?") and len(terms(text)) >= 3


def _match_member_questions(lib: Library, evidence: Evidence, vector: np.ndarray, rows: dict[int, dict]) -> None:
    """A member question that asked the same: its answer's passages carry the match."""
    for num, row in rows.items():
        if row["kind"] != "question":
            continue
        asked = question_text(row)
        match = max(float(lib.embed_query(row["title"]) @ vector),
                    float(lib.embed_query(asked) @ vector) if asked != row["title"] else -1.0)
        for p in evidence.passages:
            if p.item["num"] == num:
                p.via_question = match


def _is_question_part(text: str, asked: str) -> bool:
    return normalise_name(text)[:60] in normalise_name(asked) or bool(re.match(r"^\s*Q[.:]\s", text))


def term_weights(lib: Library, words: str) -> tuple[dict[str, float], set[str]]:
    """(content words of the question (stems) -> BM25 idf over the library's items, the words no
    item contains).

    Words the library has never seen weigh most: a question about something the archive lacks
    keeps most of its weight uncovered."""
    total = lib.store.item_total() or 1
    weights: dict[str, float] = {}
    unseen: set[str] = set()
    for term in terms(words):
        if term in GENERIC:
            continue
        stem = light_stem(term)
        if stem in weights or not re.search(r"[a-z]", stem):
            continue
        df = lib.store.document_frequency(" ".join(re.findall(r"[a-z0-9]+", stem)))
        weights[stem] = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
        if not df:
            unseen.add(stem)
    return weights, unseen


def coverage(weights: dict[str, float], text: str) -> float:
    """The idf-weighted share of the question's words that start a word of ``text``."""
    total = sum(weights.values())
    if not total:
        return 0.0
    low = text.lower()
    found = sum(w for stem, w in weights.items() if re.search(rf"(?<![a-z0-9]){re.escape(stem)}", low))
    return found / total


def named_topics(question: str, topics, weights: dict[str, float], words: str | None = None) -> dict[str, float]:
    """Topics whose name or an alias the question contains (at word boundaries), each with the
    idf-weighted share of the question's words inside the match.

    One-letter aliases ("c") are never matched, and aliases of two or three letters ("RL", "TF",
    "AMP") only when written in capitals: lowercase they are ordinary words ("amp", "hmm"). A
    name inside a longer matched name ("deep learning" in "deep learning frameworks") yields to it.
    """
    low = normalise_name(words or question)
    spans: list[tuple[int, int, str]] = []
    for t in topics:
        for name in [t["name"], *t["aliases"]]:
            key = normalise_name(name)
            if len(key) < 2:
                continue
            pattern, capitals = _name_patterns(key)
            if len(key) <= 3 and not capitals.search(question):
                continue
            for m in pattern.finditer(low):
                spans.append((m.start(), m.end(), t["id"]))
    spans = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0]) for o in spans)]
    total = sum(weights.values())
    out: dict[str, float] = {}
    for start, end, tid in spans:
        inside = set(terms(low[start:end]))
        share = sum(w for stem, w in weights.items() if any(light_stem(i) == stem or i.startswith(stem) for i in inside))
        out[tid] = max(out.get(tid, 0.0), share / total if total else 1.0)
    return out


@functools.lru_cache(maxsize=8192)
def _name_patterns(key: str) -> tuple[re.Pattern, re.Pattern]:
    """(the name at word boundaries, plural allowed; the name in capitals, for short aliases)."""
    return (re.compile(rf"(?<![a-z0-9+#]){re.escape(key)}(?:e?s)?(?![a-z0-9+#])"),
            re.compile(rf"(?<![A-Za-z0-9]){re.escape(key.upper())}s?(?![A-Za-z0-9])"))


def question_text(row: dict) -> str:
    """The question part of a Q&A item: the text before its marked answer, else its title."""
    text = row.get("text") or ""
    m = re.search(r"(?:^|\n|\s)A[.:]\s", text)
    if not m:
        return row["title"]
    q = re.sub(r"^\s*Q[.:]\s*", "", text[:m.start()]).strip()
    q = re.sub(r"\((?:re)?phrase[sd]?[^)]*\)\s*", "", q, flags=re.I)  # "(Rephrase ...)" is the editor's note
    return " ".join(q.split())[:1000] or row["title"]


def answer_part(text: str) -> str:
    """The answer of a 'Q. ... A. ...' text; the whole text when it has no marked answer."""
    m = re.search(r"(?:^|\n|\s)A[.:]\s", text)
    return text[m.end():].strip() if m else text.strip()
