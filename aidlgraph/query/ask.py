"""FAQ answers from the archive, with sources, and a plain "I don't know" when unsure.

Three kinds of candidate answer are scored against the question:

- **member questions**, matched on their question text (title and the "Q." part, as Haystack's
  FAQ retrieval matches on questions, not answers); they answer with the member's answer;
- **items** (resources, resource lists, posts, news) found by meaning (FAISS) or by words (FTS5
  BM25); they answer with the readings of the topic they are about, in reading-path order;
- **topics**, nearest by meaning or *named* in the question (a name or alias at word
  boundaries: "What is LARS?"); they answer with the topic's description and its readings.

A candidate's score is its cosine similarity, plus ``lexical_weight`` times the share of the
question's words (weighted by BM25's idf over the library, misspellings read as the library's
nearest word) found in the candidate, plus ``question_bonus`` for a member question, plus
``name_bonus`` times the share of the question a topic's name covers. The best candidate
answers only when its score clears ``min_score`` and, like Rasa's fallback, beats the best
candidate about an unrelated topic (more than FAMILY_HOPS prerequisite steps from all of the
winner's topics) by ``min_gap``; otherwise the answer abstains and offers the nearest topics. A
topic with no readings of its own never answers: the archive has nothing to cite.

The five numbers come from ``data/ask_thresholds.json``, written by ``bench/faq.py --write``
from the calibration half of ``data/faq_cases.yaml``.
"""
from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field

import networkx as nx

from ..config import settings
from ..library import Library
from ..text import clean_query, fts_query, normalise_name, terms
from ..text import stem as light_stem

# Used only when data/ask_thresholds.json is missing (e.g. AIDLGRAPH_DATA points elsewhere): the
# numbers bench/faq.py last chose for the shipped corpus.
DEFAULTS = {"min_score": 0.65, "min_gap": 0.0, "question_bonus": 0.0, "lexical_weight": 0.2, "name_bonus": 0.1}
MAX_SOURCES = 5
QUESTION_SOURCES = 2  # readings cited beside a member's answer
ITEM_CANDIDATES = 40
FTS_CANDIDATES = 20
TOPIC_CANDIDATES = 8
FAMILY_HOPS = 2  # topics this close in the prerequisite graph (either direction) are one subject, not rivals
ITEM_KINDS = ("resource", "post", "news")  # issues summarise everything, so they match everything

# Words that say what kind of answer is wanted, not what it is about: they count for neither
# the lexical score nor a topic name's share of the question.
GENERIC = set("""what whats how where why when who which is are was does do did can could should would will
learn learned learning learns study studying read reading start started starting begin beginning beginner
beginners get getting good best great nice top useful resource resources tutorial tutorials course courses
book books guide guides material materials link links paper papers lecture lectures video videos intro
introduction introductions explain explained explanation explanations understand understanding know knowing
need needs want wants anyone someone somebody recommend recommended recommendation recommendations suggest
suggestion suggestions tip tips advice help please thanks thank find look looking tell work works really
actually thing things stuff way ways mean means meaning definition define question questions idea ideas
hi hey pls plz any anything some something here there place places online free even simple simply basics
basic overview summary info information source sources right go going first
""".split())
DEFINE_INTENT = re.compile(r"^\W*(what(?:'s|s| is| are| was| does)\b|define\b|definition\b|explain\b|meaning of\b|"
                           r"who (?:is|are)\b)", re.I)
LEARN_INTENT = re.compile(
    r"\b(learn|learning|resources?|tutorials?|courses?|books?|guides?|start(ed)?|begin|beginner|study|read|"
    r"materials?|introduction|intro|get into|where can|recommend)\b", re.I)


def thresholds() -> dict:
    """The calibrated numbers (``data/ask_thresholds.json``), defaults for any missing."""
    return dict(_thresholds(settings().data_dir() / "ask_thresholds.json"))


@functools.lru_cache(maxsize=4)
def _thresholds(path) -> tuple:
    try:
        values = json.loads(path.read_text())
        return tuple({**DEFAULTS, **{k: float(v) for k, v in values.items() if k in DEFAULTS}}.items())
    except (OSError, ValueError, TypeError, AttributeError):
        return tuple(DEFAULTS.items())


@dataclass
class Candidate:
    kind: str  # "question", "item", "topic"
    cosine: float
    coverage: float = 0.0  # idf-weighted share of the question's words found in the candidate
    named: float = 0.0  # idf-weighted share of the question inside this topic's name (topics only)
    topics: tuple[str, ...] = ()  # what it is about, main topic first
    item: dict | None = None
    answerable: bool = True  # a topic without readings of its own cannot be cited

    @property
    def topic(self) -> str | None:
        return self.topics[0] if self.topics else None

    def score(self, limits: dict) -> float:
        s = self.cosine + limits["lexical_weight"] * self.coverage
        if self.kind == "question":
            s += limits["question_bonus"]
        elif self.kind == "topic":
            s += limits["name_bonus"] * self.named
        return s

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.item['id'] if self.item else self.topic}"


@dataclass
class Evidence:
    """Everything ``ask`` weighs for one question, computed once (``bench/faq.py`` sweeps
    thresholds over it without recomputing)."""

    question: str
    intent: str  # "define", "learn" or "ask"
    candidates: list[Candidate]
    neighbours: dict[str, set[str]] = field(default_factory=dict)  # topic -> it and its graph neighbours


@dataclass
class AnswerDecision:
    best: Candidate | None
    score: float
    gap: float
    answered: bool
    why: str = ""


# -- gathering the evidence ---------------------------------------------------------------------
def gather(lib: Library, question: str) -> Evidence:
    """Score every candidate answer for ``question`` (see the module docstring)."""
    question = clean_query(question)
    vector = lib.embed_query(question)
    words = spell_fixed(lib, question)  # for the word-level signals; the embedding takes typos as they are
    weights = _term_weights(lib, words)
    topics = {t["id"]: t for t in lib.store.topics()}
    topic_ids, topic_matrix = lib.topic_vectors()
    topic_cos = dict(zip(topic_ids, (topic_matrix @ vector).tolist())) if topic_ids else {}
    named = named_topics(question, topics.values(), weights, words)
    out: list[Candidate] = []

    # Items by meaning and by words (BM25 brings in what the embedding misses, e.g. rare names).
    nums: dict[int, float | None] = {}
    if lib.index.size:
        scores, ids = lib.index.search(vector, ITEM_CANDIDATES)
        nums.update({int(n): float(s) for s, n in zip(scores[0], ids[0]) if n >= 0})
    for num, _ in lib.store.fts(fts_query(words), FTS_CANDIDATES):
        nums.setdefault(int(num), None)
    missing = [n for n, s in nums.items() if s is None]
    if missing:
        vec_ids, vecs = lib.vectors(missing)
        nums.update({int(n): float(v @ vector) for n, v in zip(vec_ids, vecs)})
    rows = lib.store.items_by_num([n for n, s in nums.items() if s is not None])
    for num, row in rows.items():
        # The main topic of a many-topic item (a resource list) is the one the question names,
        # else the one nearest the question.
        about = tuple(sorted(row["topics"], key=lambda t: (-named.get(t, 0.0), -topic_cos.get(t, -1.0))))
        if row["kind"] == "question":
            qtext = question_text(row)
            cos = max(float(lib.embed_query(row["title"]) @ vector),
                      float(lib.embed_query(qtext) @ vector) if qtext != row["title"] else -1.0)
            text = f"{row['title']} {qtext}"
            out.append(Candidate("question", cos, _coverage(weights, text + _topic_words(topics, row["topics"])),
                                 topics=about, item=row))
        elif row["kind"] in ITEM_KINDS:
            text = f"{row['title']} {row.get('text') or ''}" + _topic_words(topics, row["topics"])
            out.append(Candidate("item", nums[num], _coverage(weights, text), topics=about, item=row))

    # Topics: the nearest by meaning, and any the question names.
    nearest = sorted(topic_cos, key=lambda t: -topic_cos[t])[:TOPIC_CANDIDATES]
    with_items = lib.store.topics_with_items(set(nearest) | set(named))
    for tid in dict.fromkeys([*named, *nearest]):
        t = topics.get(tid)
        if t is None:
            continue
        text = " ".join([t["name"], *t["aliases"], t.get("description") or ""])
        out.append(Candidate("topic", topic_cos.get(tid, 0.0), _coverage(weights, text), named.get(tid, 0.0),
                             topics=(tid,), answerable=tid in with_items))

    g = lib.graph
    undirected = g.to_undirected(as_view=True)
    neighbours = {}
    for c in out:
        for t in c.topics:
            if t not in neighbours:
                near = nx.single_source_shortest_path_length(undirected, t, cutoff=FAMILY_HOPS) if t in g else {t: 0}
                neighbours[t] = set(near)
    return Evidence(question, intent(question), out, neighbours)


def intent(question: str) -> str:
    if DEFINE_INTENT.search(question):
        return "define"
    if LEARN_INTENT.search(question):
        return "learn"
    return "ask"


def _term_weights(lib: Library, question: str) -> dict[str, float]:
    """Content words of the question (stems) -> BM25 idf over the library's items.

    Words the library has never seen weigh most: a question about something the archive
    lacks keeps most of its weight uncovered."""
    total = lib.store.item_total() or 1
    weights: dict[str, float] = {}
    for term in terms(question):
        if term in GENERIC:
            continue
        stem = light_stem(term)
        if stem in weights or not re.search(r"[a-z]", stem):
            continue
        df = _document_frequency(lib, stem)
        weights[stem] = math.log(1.0 + (total - df + 0.5) / (df + 0.5))
    return weights


def vocabulary(lib: Library) -> set[str]:
    """Words of the library's topic names, aliases, descriptions and item titles (until the library
    changes): what a misspelt word is corrected to."""
    def compute() -> set[str]:
        texts = [" ".join([t["name"], *t["aliases"], t.get("description") or ""]) for t in lib.store.topics()]
        texts += lib.store.item_titles()
        return {w for text in texts for w in re.findall(r"[a-z][a-z0-9]+", text.lower())}

    return lib.derived("ask.vocabulary", compute)


def spell_fixed(lib: Library, question: str) -> str:
    """``question`` with each long word the library has never seen replaced by the library's
    closest word, when one is very close ("segmantation" -> "segmentation"); others unchanged."""
    import difflib

    vocab = vocabulary(lib)
    words = None

    def fix(m: re.Match) -> str:
        nonlocal words
        word = m.group(0)
        low = word.lower()
        if len(low) < 6 or low in GENERIC or {low, light_stem(low), low + "s", low + "es"} & vocab:
            return word
        if _document_frequency(lib, low):
            return word
        words = words if words is not None else sorted(w for w in vocab if len(w) >= 5)
        close = difflib.get_close_matches(low, words, n=1, cutoff=0.85)
        return close[0] if close else word

    return re.sub(r"[A-Za-z][A-Za-z0-9]+", fix, question)


def _document_frequency(lib: Library, term: str) -> int:
    return lib.store.document_frequency(" ".join(re.findall(r"[a-z0-9]+", term.lower())))


def _coverage(weights: dict[str, float], text: str) -> float:
    """The idf-weighted share of the question's words that start a word of ``text``."""
    total = sum(weights.values())
    if not total:
        return 0.0
    low = text.lower()
    found = sum(w for stem, w in weights.items() if re.search(rf"(?<![a-z0-9]){re.escape(stem)}", low))
    return found / total


def _topic_words(topics: dict[str, dict], ids) -> str:
    return "".join(f" {topics[t]['name']} {' '.join(topics[t]['aliases'])}" for t in ids if t in topics)


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
            pattern = rf"(?<![a-z0-9+#]){re.escape(key)}(?:e?s)?(?![a-z0-9+#])"
            if len(key) <= 3:
                if not re.search(rf"(?<![A-Za-z0-9]){re.escape(key.upper())}s?(?![A-Za-z0-9])", question):
                    continue
            for m in re.finditer(pattern, low):
                spans.append((m.start(), m.end(), t["id"]))
    spans = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0]) for o in spans)]
    total = sum(weights.values())
    out: dict[str, float] = {}
    for start, end, tid in spans:
        inside = set(terms(low[start:end]))
        share = sum(w for stem, w in weights.items() if any(light_stem(i) == stem or i.startswith(stem) for i in inside))
        out[tid] = max(out.get(tid, 0.0), share / total if total else 1.0)
    return out


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


# -- deciding -----------------------------------------------------------------------------------
def decide(evidence: Evidence, limits: dict) -> AnswerDecision:
    """Answer with the best candidate, or abstain (too weak, too close to another topic, or
    nothing to cite)."""
    scored = sorted(((c.score(limits), c) for c in evidence.candidates), key=lambda sc: -sc[0])
    if not scored:
        return AnswerDecision(None, 0.0, 0.0, False, "the library has nothing to match against")
    best_score, best = scored[0]
    family = set().union(*(evidence.neighbours.get(t, {t}) for t in best.topics)) if best.topics else set()
    rival = next((s for s, c in scored[1:] if c.topics and family and not family.intersection(c.topics)), None)
    gap = best_score - rival if rival is not None else 1.0
    if best_score < limits["min_score"]:
        return AnswerDecision(best, best_score, gap, False, f"best match {best_score:.2f} is below {limits['min_score']:.2f}")
    if gap < limits["min_gap"]:
        return AnswerDecision(best, best_score, gap, False,
                        f"best match {best_score:.2f} is too close to another topic ({gap:.2f} < {limits['min_gap']:.2f})")
    if not best.answerable:
        return AnswerDecision(best, best_score, gap, False, "the best matching topic has no readings in the archive")
    return AnswerDecision(best, best_score, gap, True)


def suggestions(lib: Library, evidence: Evidence, limits: dict, n: int = 3) -> list[str]:
    """The nearest topics, by the same score candidates answer with."""
    names = {t["id"]: t["name"] for t in lib.store.topics()}
    ranked = sorted((c for c in evidence.candidates if c.kind == "topic"), key=lambda c: -c.score(limits))
    return [names.get(c.topic, c.topic) for c in ranked[:n]]


# -- answering ----------------------------------------------------------------------------------
def sources_for(lib: Library, c: Candidate, evidence: Evidence | None = None) -> list[dict]:
    """What an answer from candidate ``c`` cites.

    A member question cites itself and the resources nearest it. A topic or item answer cites
    the topic's readings: for "what is X", X's own readings first, the one nearest the question
    leading, then background from its prerequisites; otherwise in reading-path order
    (prerequisites' readings first). A matched item that is not among them leads."""
    if c.kind == "question":
        return [c.item] + _question_readings(lib, c.item)
    before, own = topic_readings(lib, c.topic)
    if evidence is not None and evidence.intent == "define":
        near = {x.item["id"]: x.cosine for x in evidence.candidates if x.item is not None}
        readings = sorted(own, key=lambda r: -near.get(r["id"], -1.0)) + before
    else:
        readings = before[: max(0, MAX_SOURCES - len(own))] + own
    readings = readings[:MAX_SOURCES]
    if c.kind == "item" and c.item["id"] not in {s["id"] for s in readings}:
        readings = [c.item] + readings[:MAX_SOURCES - 1]
    return readings


def ask(lib: Library, question: str) -> dict:
    """Answer ``question`` from the archive; the JSON of DESIGN.md."""
    limits = thresholds()
    evidence = gather(lib, question)
    decision = decide(evidence, limits)
    result = {"question": evidence.question, "answered": False, "answer": "",
              "confidence": round(min(max(decision.score, 0.0), 1.0), 4), "sources": [],
              "suggestions": suggestions(lib, evidence, limits)}
    if not decision.answered:
        result["why"] = decision.why
        return result
    best = decision.best
    sources = sources_for(lib, best, evidence)
    topic = lib.store.topic(best.topic) if best.topic else None
    if best.kind == "question":
        answer, kind = answer_part(best.item.get("text") or ""), "question"
    else:
        answer, kind = _readings_answer(topic, sources, evidence.intent)
    result.update({"answered": True, "answer": answer, "kind": kind, "topic": topic["name"] if topic else None,
                   "sources": [{"id": s["id"], "title": s["title"], "url": s.get("url") or ""} for s in sources]})
    return result


def _readings_answer(topic: dict | None, sources: list[dict], how: str) -> tuple[str, str]:
    listing = [f"{n}. {s['title']}" + (f" <{s['url']}>" if s.get("url") else "") for n, s in enumerate(sources, 1)]
    if topic is None:
        return "\n".join(["From the archive:", *listing]), "resources"
    described = f"{topic['name']}: {topic.get('description') or ''}".rstrip(": ")
    if how == "define":
        return "\n".join([described, "", "To read more, in order:", *listing]), "topic"
    return "\n".join([f"For {topic['name']}, read in this order:", *listing, "", described]), "resources"


def _question_readings(lib: Library, item: dict) -> list[dict]:
    """Resources about the member question's topics, nearest the question first."""
    about = lib.store.items_about(list(item["topics"]))
    pool = {i["num"]: i for pairs in about.values() for i, _ in pairs if i["kind"] == "resource" and i["id"] != item["id"]}
    if not pool:
        return []
    ids, vecs = lib.vectors([item["num"], *pool])
    by_num = dict(zip(ids.tolist(), vecs))
    if item["num"] not in by_num:
        return list(pool.values())[:QUESTION_SOURCES]
    anchor = by_num[item["num"]]
    ranked = sorted(pool, key=lambda n: -float(by_num[n] @ anchor) if n in by_num else 0.0)
    return [pool[n] for n in ranked[:QUESTION_SOURCES]]


def topic_readings(lib: Library, tid: str | None) -> tuple[list[dict], list[dict]]:
    """(one reading for each direct prerequisite that has one, in path order; the topic's own
    best readings), both empty when the topic has no readings of its own. Issues (tables of
    contents) are left out. Remembered until the library changes."""
    if not tid or tid not in lib.graph:
        return [], []
    cache = lib.derived("ask.readings", dict)
    if tid not in cache:
        from .. import graph as graphs
        from .path import best_items

        order = graphs.plan(lib.graph, tid, depth=1)
        picks = {t: [item for item, _ in chosen if item["kind"] != "issue"]
                 for t, chosen in best_items(lib, order, per_topic=4).items()}
        own = picks.get(tid, [])[:3]
        before = [picks[t][0] for t in order[:-1] if picks.get(t)] if own else []
        cache[tid] = (before, own)
    before, own = cache[tid]
    return list(before), list(own)
