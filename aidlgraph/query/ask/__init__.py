"""FAQ answers stated from the archive, each sentence with its source, and a plain "I don't know"
when the archive cannot support one.

``ask`` reads what the question asks for (``question``), scores the passages that may state the
answer and the member questions that asked it before (``evidence``), then decides:

- the best passage must clear ``min_score`` (off-topic and near-miss questions stop here);
- a question after something the archive cannot have ("what GPU should I buy in 2026?", "the
  latest TensorFlow") is refused when the archive is years older; one about "now" that the
  archive can date ("how many members these days?") is answered "as of" the source's issue;
- the answer is quoted from passages that hold the specific asked for (a price, a number, a
  person, a date: "How much did Google pay for Kaggle?" has no answer in an archive that only
  says Google acquired Kaggle) and that cover the question's words (``min_support``);
- up to three passages are quoted, best supported first, each with a numbered citation (title,
  link, date, issue); a question about learning something adds the topic's readings to read
  more, after the answer, never instead of it.

The numbers come from ``data/ask_thresholds.json``, written by ``bench/faq.py --write`` from the
calibrate halves of ``data/faq_cases.yaml``.
"""
from __future__ import annotations

import datetime
import functools
import json
import re
from dataclasses import dataclass

from ...config import settings
from ...library import Library
from ...text import clean_query
from ..spelling import spell_fixed  # noqa: F401  (re-exported: the question's words as the library spells them)
from .evidence import Evidence, Passage, answer_part, coverage, gather, named_topics, question_text  # noqa: F401
from .question import Question, analyse, supports

# Used only when data/ask_thresholds.json is missing (AIDLGRAPH_DATA elsewhere).
DEFAULTS = {"min_score": 0.55, "lexical_weight": 0.2, "question_bonus": 0.0, "name_bonus": 0.1,
            "lead_bonus": 0.0, "min_support": 0.5, "max_unseen": 1.0}
MAX_QUOTES = 3
QUOTE_SLACK = 0.08   # a passage this close to the best one may join the answer
SUPPORT_SLACK = 0.15  # ... and one this close may be the answer when the best lacks what was asked
CANDIDATE_QUOTES = 12
READ_MORE = 3
STALE_YEARS = 2      # an archive this much older than today cannot say what to buy now
MAX_QUOTE = 400      # characters of one quoted passage


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
class Answer:
    answered: bool
    quotes: list[Passage]
    score: float
    why: str = ""


def ask(lib: Library, question: str, limits: dict | None = None) -> dict:
    """Answer ``question`` from the archive; the JSON of DESIGN.md (plus ``passages``)."""
    limits = limits or thresholds()
    evidence, newest = evidence_for(lib, question)
    decision = decide(evidence, limits, newest)
    unread = _unread_topic(lib, evidence, decision.quotes[0].item) if decision.answered else ""
    if unread:
        decision = Answer(False, [], decision.score, f"the library has no reading about {unread} yet")
    result = {"question": evidence.question.text, "answered": decision.answered, "answer": "", "confidence": round(min(max(decision.score, 0.0), 1.0), 4),
              "sources": [], "passages": [], "suggestions": suggestions(lib, evidence)}
    if not decision.answered:
        result["why"] = decision.why
        return result
    answer, sources = compose(decision.quotes, evidence.question)
    top = decision.quotes[0].item
    sources += read_more(lib, evidence, top, [s["id"] for s in sources])
    result.update({"answer": answer, "kind": "question" if top["kind"] == "question" else "passage",
                   "topic": _topic_name(lib, evidence, top), "sources": sources,
                   "passages": [{"text": p.text, "item": p.item["id"], "score": round(p.score(limits), 4)}
                                for p in decision.quotes]})
    return result


def evidence_for(lib: Library, question: str) -> tuple[Evidence, int | None]:
    """(the evidence for ``question``, the archive's newest year): all that ``decide`` weighs,
    gathered once (``bench/faq.py`` sweeps the thresholds over it)."""
    newest = _newest_year(lib)
    return gather(lib, analyse(clean_query(question, "the question"), newest)), newest


def _newest_year(lib: Library) -> int | None:
    """The year of the archive's newest dated item, remembered until the library changes (finding
    it reads every item)."""
    def compute() -> int | None:
        m = re.search(r"(?:19|20)\d\d", lib.store.newest_date())
        return int(m.group(0)) if m else None

    return lib.derived("ask.newest_year", compute)


@dataclass
class Draft:
    """What the evidence offers before the thresholds: the best score, the passages that would be
    quoted, how much of the question they cover, or what rules an answer out whatever the
    thresholds (a question about what is current; no passage holding what was asked)."""

    best: float
    quotes: list[Passage]
    covered: float
    blocked: str = ""
    unseen: float = 0.0  # the share of the question in words the library never uses


def draft(evidence: Evidence, limits: dict, newest: int | None = None) -> Draft:
    """The answer the evidence can give under the weights of ``limits`` (see ``decide``)."""
    q = evidence.question
    ranked = evidence.ranked(limits)
    if not ranked:
        return Draft(0.0, [], 0.0, "the library has nothing to match against")
    best = ranked[0].score(limits)
    if q.timely == "recommend" and newest and datetime.date.today().year - newest >= STALE_YEARS:
        return Draft(best, [], 0.0, f"the question asks what is current, and the archive ends in {newest}: "
                                    "it cannot say what is newest or best to buy now")
    near = [p for p in ranked[:CANDIDATE_QUOTES] if p.score(limits) >= best - SUPPORT_SLACK]
    holding = [p for p in near if supports(p.text, q)] or [p for p in near if supports(p.text, q, p.item["authors"])]
    if not holding:
        return Draft(best, [], 0.0, f"the archive does not say ({_wanted(q)} asked for; the closest passage: "
                                    f"{_quote(ranked[0].text)!r})")
    quotes = _pick(holding, evidence, limits)
    if quotes[0].via_question:
        quotes = _member_answer(quotes[0], evidence)
    said = " ".join(f"{p.context} {p.text} {p.follow}" for p in quotes)
    total = sum(evidence.weights.values()) or 1.0
    unseen = sum(evidence.weights[w] for w in evidence.unseen) / total
    return Draft(best, quotes, coverage(evidence.weights, said), unseen=unseen)


def decide(evidence: Evidence, limits: dict, newest: int | None = None) -> Answer:
    """The passages to quote, or why there is no answer (see the module docstring)."""
    d = draft(evidence, limits, newest)
    return verdict(d, limits)


def verdict(d: Draft, limits: dict) -> Answer:
    """``d`` judged by the thresholds of ``limits``."""
    if d.best < limits["min_score"]:
        return Answer(False, [], d.best, f"best match {d.best:.2f} is below {limits['min_score']:.2f}")
    if d.blocked:
        return Answer(False, [], d.best, d.blocked)
    if d.covered < limits["min_support"]:
        return Answer(False, [], d.best, f"the closest passages cover only {d.covered:.0%} of the question's words")
    if d.unseen > limits["max_unseen"]:
        return Answer(False, [], d.best, f"{d.unseen:.0%} of the question is in words the archive never uses")
    return Answer(True, d.quotes, d.best)


def _wanted(q: Question) -> str:
    return {"money": "a price or an amount", "number": "a number", "person": "a person", "date": "a date",
            "comparison": "a comparison"}.get(q.wants, "an answer")


def _pick(holding: list[Passage], evidence: Evidence, limits: dict) -> list[Passage]:
    """The best supporting passage, then up to two more that are nearly as good and add words of
    the question (or come from another item), in support order."""
    quotes = [holding[0]]
    best = holding[0].score(limits)
    for p in holding[1:]:
        if len(quotes) >= MAX_QUOTES or p.score(limits) < best - QUOTE_SLACK:
            break
        if any(p.text == q.text for q in quotes):
            continue
        before = coverage(evidence.weights, " ".join(q.text for q in quotes))
        after = coverage(evidence.weights, " ".join([*(q.text for q in quotes), p.text]))
        if after > before or p.item["id"] not in {q.item["id"] for q in quotes}:
            quotes.append(p)
    return quotes


def _member_answer(best: Passage, evidence: Evidence) -> list[Passage]:
    """A member's answer is read from its start (an FAQ answer opens with the answer: "No. You can
    learn the basics on a laptop"): its first passages, and the best one if it comes later."""
    own = sorted((p for p in evidence.passages if p.item["id"] == best.item["id"]), key=lambda p: p.position)
    lead = own[:MAX_QUOTES - 1]
    return lead + ([best] if best not in lead else own[MAX_QUOTES - 1:MAX_QUOTES])


def compose(quotes: list[Passage], q: Question) -> tuple[str, list[dict]]:
    """The answer text, each passage followed by its source's number, and the numbered sources."""
    numbers: dict[str, int] = {}
    sources: list[dict] = []
    parts = []
    for p in quotes:
        if p.item["id"] not in numbers:
            numbers[p.item["id"]] = len(numbers) + 1
            sources.append(source_json(p.item, numbers[p.item["id"]]))
        said = _quote(f"{p.context} {p.text} {p.follow}".strip())
        if q.wants == "person" and not supports(said, q) and p.item.get("authors"):
            said = f"By {', '.join(p.item['authors'])}: {said}"  # the name the question asks for
        parts.append(f"{said} [{numbers[p.item['id']]}]")
    answer = " ".join(parts)
    if q.timely == "now":
        first = quotes[0].item
        when = ", ".join(x for x in (first.get("source") or "", first.get("date") or "") if x)
        answer = f"As of {when or 'the archive'}: {answer}"
    return answer, sources


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[:MAX_QUOTE - 1].rsplit(" ", 1)[0] + "…"


def source_json(item: dict, number: int | None = None, role: str = "answer") -> dict:
    out = {"id": item["id"], "title": item["title"], "url": item.get("url") or "", "kind": item["kind"],
           "source": item.get("source") or "", "date": item.get("date") or "", "role": role}
    if number is not None:
        out["n"] = number
    return out


def read_more(lib: Library, evidence: Evidence, top: dict, cited: list[str]) -> list[dict]:
    """What to read next, after the answer: for a question about learning or defining a topic it
    names, that topic's best readings; for a member's answer, the resources on its topics nearest
    to it."""
    if top["kind"] == "question":
        readings = _question_readings(lib, top)
    elif evidence.question.intent in ("learn", "define") and evidence.named:
        readings = topic_readings(lib, _main_named(evidence))[1]
    else:
        return []
    return [source_json(r, role="read more") for r in readings if r["id"] not in cited][:READ_MORE]


def _main_named(evidence: Evidence) -> str:
    return max(evidence.named, key=lambda t: (evidence.named[t], t))


def _unread_topic(lib: Library, evidence: Evidence, top: dict) -> str:
    """The name of the topic a "where can I learn X?" question names when the library has no
    reading about it and the answer found is only a passing mention of it (not a member's answer,
    not an item about it), else ""."""
    if evidence.question.intent != "learn" or not evidence.named or top["kind"] == "question":
        return ""
    tid = _main_named(evidence)
    if evidence.named[tid] < 0.5 or tid in top["topics"] or topic_readings(lib, tid)[1]:
        return ""
    topic = lib.store.topic(tid)
    return topic["name"] if topic else ""


def _topic_name(lib: Library, evidence: Evidence, top: dict) -> str | None:
    tid = _main_named(evidence) if evidence.named else (top["topics"][0] if top["topics"] else None)
    topic = lib.store.topic(tid) if tid else None
    return topic["name"] if topic else None


def _question_readings(lib: Library, item: dict) -> list[dict]:
    """Resources about the member question's topics, nearest the question first."""
    about = lib.store.items_about(list(item["topics"]))
    pool = {i["num"]: i for pairs in about.values() for i, _ in pairs if i["kind"] == "resource" and i["id"] != item["id"]}
    if not pool:
        return []
    ids, vecs = lib.vectors([item["num"], *pool])
    by_num = dict(zip(ids.tolist(), vecs))
    if item["num"] not in by_num:
        return list(pool.values())[:2]
    anchor = by_num[item["num"]]
    ranked = sorted(pool, key=lambda n: -float(by_num[n] @ anchor) if n in by_num else 0.0)
    return [pool[n] for n in ranked[:2]]


def topic_readings(lib: Library, tid: str | None) -> tuple[list[dict], list[dict]]:
    """(one reading for each direct prerequisite that has one, in path order; the topic's own
    best readings), both empty when the topic has no readings of its own. Remembered until the
    library changes."""
    if not tid or tid not in lib.graph:
        return [], []
    cache = lib.derived("ask.readings", dict)
    if tid not in cache:
        from ... import graph as graphs
        from ..path import choose_readings

        order = graphs.plan(lib.graph, tid, depth=1)
        picks = {t: [p.item for p in chosen] for t, chosen in choose_readings(lib, order, tid, per_topic=4).items()}
        own = picks.get(tid, [])[:3]
        before = [picks[t][0] for t in order[:-1] if picks.get(t)] if own else []
        cache[tid] = (before, own)
    before, own = cache[tid]
    return list(before), list(own)


def suggestions(lib: Library, evidence: Evidence, n: int = 3) -> list[str]:
    """The topics nearest the question, for an abstention to point at."""
    from ..resolve import nearest_topics

    names = {t["id"]: t["name"] for t in lib.topics()}
    return [names.get(t, t) for t, _ in nearest_topics(lib, evidence.question.text, n)]
