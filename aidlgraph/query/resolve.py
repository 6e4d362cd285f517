"""From what a learner typed to a topic, with a confidence, or an honest "no such topic".

A name or alias typed as it is (``"ResNets"``) resolves at once, with no model. Anything else is
scored against every topic on these signals:

- ``phrase``: a topic's name or alias appears in the query as a whole phrase, weighted by the share
  of the query's words it covers (``"how do I learn resnets"`` names ``resnets``);
- ``fuzzy`` and ``token_fuzzy``: spelling, of the whole query and word by word (``"reccurent
  nets"``, ``"semantic segmantation"``);
- ``cosine`` and ``cosine_raw``: the query's embedding (without and with the learner's phrasing,
  ``"I wanna get into ..."``) against the topic's name, aliases and description, and ``cos_gap``,
  how far the topic is behind the best;
- ``vote``: the topics of the library's items that best match the query (a question about
  spotting pedestrians finds object-detection items).

A logistic model (``data/resolve_model.json``, fitted by ``bench/resolution.py --write`` on the
calibrate half of ``data/resolution_cases.yaml``) turns the signals into a probability. The best
topic is the target when it clears the calibrated ``accept`` probability and beats the next by
``margin``; a query that clears only ``ask`` gets "did you mean" with the best two or three
(``AmbiguousTopicError``); below that, the library has no such topic (``UnknownTopicError``, with
the closest topics and related items). Resolving costs one or two query embeddings, cached.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import settings
from ..errors import AmbiguousTopicError, UnknownTopicError
from ..learn import ChoiceModel
from ..library import Library
from ..text import STOPWORDS, clean_query, normalise_name, stem
from .spelling import spell_fixed

FEATURES = ("phrase", "fuzzy", "token_fuzzy", "name_coverage", "head_coverage", "coverage", "cosine", "cosine_raw",
            "cos_gap", "vote")
CANDIDATES = 10
VOTERS = 10
# Used only when data/resolve_model.json is missing (AIDLGRAPH_DATA elsewhere): a hand-set model
# that leans on the embedding and on names found in the query.
DEFAULT_MODEL = {"features": list(FEATURES), "coef": [0.5, 0.3, 0.8, 0.5, 0.5, 0.8, 0.5, 0.5, 1.0, 0.4], "none": 0.0,
                 "mean": [0.05, 0.5, 0.3, 0.3, 0.3, 0.4, 0.35, 0.35, -0.15, 0.05],
                 "scale": [0.2, 0.15, 0.3, 0.3, 0.3, 0.3, 0.12, 0.12, 0.1, 0.15],
                 "accept": 0.5, "margin": 0.1, "ask": 0.25}

# How learners ask, none of it the subject: stripped before matching names and embedding.
LEARNER_PHRASES = re.compile(r"""\b(
    how\s+(?:do|can|should|would|to)(?:\s+(?:i|we|you|one))?|where\s+(?:do|can|should|to)(?:\s+(?:i|we))?
  | what\s+(?:should|do|can)\s+i | i\s+(?:want|wanna|would\s+like|need|'d\s+like|am\s+trying)(?:\s+to)?
  | i'?m\s+(?:trying|looking|keen|interested)(?:\s+(?:to|for|in))? | wanna | gonna | teach\s+me | help\s+me
  | show\s+me | tell\s+me(?:\s+about)? | explain(?:ed)? | (?:get|getting)\s+(?:into|started(?:\s+with)?|going(?:\s+with)?)
  | learn(?:ing)?(?:\s+about)? | study(?:ing)? | understand(?:ing)? | master(?:ing)? | start(?:ing)?(?:\s+(?:with|on))?
  | begin(?:ning)?(?:\s+with)? | (?:an?\s+)?(?:gentle\s+)?(?:introduction|intro)(?:\s+to)? | the\s+basics\s+of
  | from\s+scratch | (?:for\s+)?(?:a\s+)?(?:total|complete|absolute)?\s*(?:beginners?|noobs?|newbies?|dummies|novices?)
  | (?:a\s+)?(?:good\s+)?(?:tutorials?|courses?|resources?|reading\s+(?:list|path)|roadmap|path)(?:\s+(?:on|for|to|about))?
  | i\s+already\s+know\s+.* | please | pls | thanks | me | my | i | some | any | about
)\b""", re.I | re.X)
BEGINNER = re.compile(r"\b(beginners?|noobs?|newbies?|novices?|dummies|from scratch|gentle|basics|easy|simple|"
                      r"total|complete|absolute|first steps?|intro(?:duction)?)\b", re.I)
ADVANCED = re.compile(r"\b(advanced|in depth|in-depth|deep dive|expert|research(?:ers)?|state of the art|sota)\b", re.I)
# Two-letter aliases ("RL", "DL") are ordinary letters in lowercase; these longer ones are words.
COMMON_WORDS = {"amp", "hmm", "gan", "can", "art", "map"}
SYNONYMS = {"nets": "networks", "net": "network", "nn": "neural network", "nns": "neural networks",
            "ml": "machine learning", "dl": "deep learning",
            "convnet": "convolutional network", "convnets": "convolutional networks", "fp16": "mixed precision",
            "half precision": "mixed precision"}


@dataclass
class Candidate:
    topic_id: str
    name: str
    features: dict[str, float]
    probability: float = 0.0  # that this topic is the one meant (the candidates and "none" sum to 1)


@dataclass
class Resolution:
    topic_id: str
    name: str
    how: str  # "name", "alias" or "scored"
    score: float  # the probability that this is the topic meant
    level: str = ""  # "beginner" or "advanced" when the query says so ("cuda for beginners")
    candidates: list[Candidate] = field(default_factory=list)

    def describe(self, query: str) -> str:
        how = {"name": "by name", "alias": "by alias"}.get(self.how, f"with confidence {self.score:.2f}")
        return f'resolved "{query}" -> topic "{self.name}" {how}'


def learner_core(query: str) -> tuple[str, str]:
    """(the subject of a learner's query, the level it asks for).

    >>> learner_core("I wanna get into GPU programming, total noob")
    ('gpu programming', 'beginner')
    >>> learner_core("teach me residual nets")
    ('residual nets', '')
    """
    level = "advanced" if ADVANCED.search(query) else ("beginner" if BEGINNER.search(query) else "")
    core = LEARNER_PHRASES.sub(" ", query.lower())
    core = normalise_name(core)
    return (core or normalise_name(query)), level


def _words(text: str) -> list[str]:
    words = normalise_name(text)
    for short, long in SYNONYMS.items():
        words = re.sub(rf"(?<![a-z0-9]){re.escape(short)}(?![a-z0-9])", long, words)
    return [stem(w) for w in words.split()]


def _names(topic: dict) -> list[str]:
    return [topic["name"], *topic["aliases"]]


def exact_topic(topics: list[dict], query: str) -> tuple[str, str] | None:
    """(topic id, "name" or "alias") of a topic the query names exactly, up to case, punctuation
    and plural; None otherwise.

    >>> exact_topic([{"id": "rn", "name": "residual networks", "aliases": ["resnet"]}], "ResNets")
    ('rn', 'alias')
    """
    key = _words(query)
    for how in ("name", "alias"):
        for t in topics:
            names = [t["name"]] if how == "name" else t["aliases"]
            if any(_words(n) == key for n in names) or (how == "name" and query.strip() == t["id"]):
                return t["id"], how
    return None


def _phrase(query: str, core_words: list[str], topic: dict) -> float:
    """The share of the query's words covered by the longest name or alias found in it."""
    best = 0.0
    for name in _names(topic):
        words = _words(name)
        if not words:
            continue
        key = normalise_name(name)
        if len(key) <= 2 and not re.search(rf"(?<![A-Za-z0-9]){re.escape(key.upper())}s?(?![A-Za-z0-9])", query):
            continue
        if len(key) == 3 and key in COMMON_WORDS:
            continue
        for start in range(len(core_words) - len(words) + 1):
            if core_words[start:start + len(words)] == words:
                best = max(best, len(words) / max(len(core_words), 1))
    return best


def _similar(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a))) or (
        min(len(a), len(b)) >= 5 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.8)


def _token_fuzzy(core_words: list[str], topic: dict) -> float:
    """F1 of content-word matches (allowing misspellings and truncations) between query and a name."""
    best = 0.0
    for name in _names(topic):
        words = [w for w in _words(name) if w not in STOPWORDS] or _words(name)
        if not words or not core_words:
            continue
        hit_name = sum(1 for w in words if any(_similar(w, c) for c in core_words))
        hit_core = sum(1 for c in core_words if any(_similar(w, c) for w in words))
        if hit_name and hit_core:
            p, r = hit_core / len(core_words), hit_name / len(words)
            best = max(best, 2 * p * r / (p + r))
    return best


def _fuzzy(core: str, topic: dict) -> float:
    return max(difflib.SequenceMatcher(None, core, normalise_name(n)).ratio() for n in _names(topic))


def _votes(lib: Library, vector: np.ndarray) -> dict[str, float]:
    """Each topic's share of the best-matching items' similarity."""
    if not lib.index.size:
        return {}
    scores, nums = lib.index.search(vector, VOTERS)
    pairs = [(int(n), float(s)) for s, n in zip(scores[0], nums[0]) if n >= 0 and s > 0]
    rows = lib.store.items_by_num([n for n, _ in pairs])
    votes: dict[str, float] = {}
    total = 0.0
    for num, score in pairs:
        topics = rows[num]["topics"] if num in rows else []
        total += score
        for tid in topics:
            votes[tid] = votes.get(tid, 0.0) + score / len(topics)
    return {t: v / total for t, v in votes.items()} if total else {}


def candidates(lib: Library, query: str, exclude: set[str] = frozenset(), k: int = CANDIDATES) -> list[Candidate]:
    """The ``k`` likeliest topics for ``query``, each with its signals and probability, best first.
    Topics in ``exclude`` (what the learner already knows) are never candidates."""
    return rank(signals(lib, query, exclude, k * 2), model())[:k]


def rank(cands: list[Candidate], choice: ChoiceModel) -> list[Candidate]:
    """``cands`` with their probabilities under ``choice``, likeliest first."""
    if cands:
        probs, _ = choice.probabilities(np.array([[c.features[f] for f in FEATURES] for c in cands]))
        for c, p in zip(cands, probs):
            c.probability = float(p)
    return sorted(cands, key=lambda c: (-c.probability, c.name))


def signals(lib: Library, query: str, exclude: set[str] = frozenset(), k: int = 2 * CANDIDATES) -> list[Candidate]:
    """The signals of the ``k`` topics most plausibly meant (by a rough, model-free sum), unscored."""
    topics = [t for t in lib.topics() if t["id"] not in exclude]
    if not topics:
        return []
    # A topic's name is short: one swapped letter in six ("nueral", "speach") is a typo, not a word.
    core, _ = learner_core(spell_fixed(lib, query, cutoff=0.8))
    core_words = _words(core)
    content = [w for w in core_words if w not in STOPWORDS] or core_words
    # "calculus for ML", "CNNs for text": the words before "for" name the subject
    head = [w for w in _words(core.split(" for ")[0]) if w not in STOPWORDS] or content
    ids, matrix = lib.topic_vectors()
    row = {tid: n for n, tid in enumerate(ids)}
    vector = lib.embed_query(core)
    cos = matrix @ vector if len(ids) else np.zeros(0)
    cos_raw = matrix @ lib.embed_query(query) if core != normalise_name(query) and len(ids) else cos
    best = float(max(cos.max(initial=-1.0), cos_raw.max(initial=-1.0)))
    votes = _votes(lib, vector)
    rough = []
    for t in topics:
        n = row.get(t["id"])
        c, c_raw = (float(cos[n]), float(cos_raw[n])) if n is not None else (0.0, 0.0)
        phrase = _phrase(query, core_words, t)
        spelled = _token_fuzzy(content, t)
        rough.append((max(c, c_raw) + phrase + votes.get(t["id"], 0.0) + spelled, t, c, c_raw, phrase, spelled))
    rough.sort(key=lambda r: (-r[0], r[1]["name"]))
    out = []
    for _, t, c, c_raw, phrase, spelled in rough[:k]:
        names = [w for n in _names(t) for w in _words(n)]
        features = {"phrase": phrase, "fuzzy": _fuzzy(core, t), "token_fuzzy": spelled,
                    "name_coverage": _coverage(content, names), "head_coverage": _coverage(head, names),
                    "coverage": _coverage(content, [w for n in _names(t) for w in _words(n)] + _words(t["description"])),
                    "cosine": c, "cosine_raw": c_raw, "cos_gap": max(c, c_raw) - best, "vote": votes.get(t["id"], 0.0)}
        out.append(Candidate(t["id"], t["name"], features))
    return out


def _coverage(query_words: list[str], topic_words: list[str]) -> float:
    """The share of the query's content words that the topic's words contain (spelling allowed):
    "graph neural networks" is only two-thirds covered by the topic neural networks."""
    if not query_words:
        return 0.0
    vocabulary = set(topic_words)
    return sum(1 for w in query_words if w in vocabulary or any(_similar(w, v) for v in vocabulary)) / len(query_words)


def decide(cands: list[Candidate], limits: dict) -> str:
    """"accept" (the first candidate is the topic), "ask" (did you mean ...?) or "none"."""
    if not cands or cands[0].probability < limits["ask"]:
        return "none"
    runner_up = cands[1].probability if len(cands) > 1 else 0.0
    if cands[0].probability >= limits["accept"] and cands[0].probability - runner_up >= limits["margin"]:
        return "accept"
    return "ask"


def resolve_topic(lib: Library, query: str, exclude: set[str] = frozenset()) -> Resolution:
    """The topic ``query`` names; AmbiguousTopicError ("did you mean") or UnknownTopicError (the
    library has no such topic) otherwise, both carrying the closest topics."""
    query = clean_query(query)
    topics = lib.topics()
    if not topics:
        raise UnknownTopicError("the library has no topics yet; ingest a topics file or a reading list first")
    _, level = learner_core(query)
    exact = exact_topic(topics, query)
    if exact is not None:
        name = next(t["name"] for t in topics if t["id"] == exact[0])
        return Resolution(exact[0], name, exact[1], 1.0, level)
    cands = candidates(lib, query, exclude)
    verdict = decide(cands, limits())
    if verdict == "accept":
        best = cands[0]
        return Resolution(best.topic_id, best.name, "scored", best.probability, level, cands)
    names = [c.name for c in cands[:3]]
    if verdict == "ask":
        raise AmbiguousTopicError(f'"{query}" could be {_either(names)}; say which (e.g. '
                                  f'`aidlgraph path "{names[0]}"`)', names)
    raise UnknownTopicError(f'the library has no topic for "{query}"; the closest are {", ".join(names) or "none"}. '
                            "Try one of those, or `aidlgraph topics` for the list", names)


def _either(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    return " or ".join(quoted) if len(quoted) <= 2 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def resolve_known(lib: Library, names: list[str]) -> tuple[list[str], list[str]]:
    """(topic ids, names not found) of what a learner says they know. Only names the library
    has (exactly, or by a confident match) count: a wrong guess would hide steps."""
    found, missing = [], []
    topics = lib.topics()
    for name in (n.strip() for n in names):
        if not name:
            continue
        exact = exact_topic(topics, name)
        if exact is not None:
            found.append(exact[0])
            continue
        cands = candidates(lib, name, k=3)
        if cands and decide(cands, limits()) == "accept" and cands[0].features["token_fuzzy"] >= 0.5:
            found.append(cands[0].topic_id)
        else:
            missing.append(name)
    return list(dict.fromkeys(found)), missing


def nearest_topics(lib: Library, text: str, k: int = 5, vector: np.ndarray | None = None) -> list[tuple[str, float]]:
    """The ``k`` topics whose embeddings are closest to ``text`` (cosine, best first)."""
    ids, matrix = lib.topic_vectors()
    if not ids:
        return []
    vector = lib.embed_query(text) if vector is None else vector
    scores = matrix @ vector
    order = np.argsort(-scores)[:k]
    return [(ids[i], float(scores[i])) for i in order]


# -- the calibrated model --------------------------------------------------------------------
def model_path() -> Path:
    return settings().data_dir() / "resolve_model.json"


def model() -> ChoiceModel:
    return _load(model_path())[0]


def limits() -> dict:
    return dict(_load(model_path())[1])


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> tuple[ChoiceModel, tuple]:
    try:
        data = json.loads(path.read_text())
        choice = ChoiceModel.from_json(data, list(FEATURES))
    except (OSError, ValueError, KeyError, TypeError):
        data, choice = DEFAULT_MODEL, ChoiceModel.from_json(DEFAULT_MODEL, list(FEATURES))
    return choice, tuple((k, float(data.get(k, DEFAULT_MODEL[k]))) for k in ("accept", "margin", "ask"))
