"""FAQ answers from the archive, with sources, and a plain "I don't know" when unsure.

Candidates are member questions (matched on their question text, as Haystack's FAQ retrieval
does), resources, and topics. The best candidate answers only when its score clears a
calibrated threshold and, like Rasa's fallback, beats the best candidate about a *different*
topic by a calibrated gap; otherwise the answer abstains and offers the nearest topics.
Thresholds come from ``data/ask_thresholds.json``, written by ``bench/faq.py --write``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np

from . import config
from .library import Library
from .resolve import clean_query, nearest_topics

DEFAULTS = {"min_score": 0.5, "min_gap": 0.03, "question_bonus": 0.05}
LEARN_INTENT = re.compile(
    r"\b(learn|learning|resources?|tutorials?|courses?|books?|guides?|start(ed)?|begin|beginner|study|read|"
    r"materials?|introduction|intro|get into|where can|recommend)\b", re.I)
MAX_SOURCES = 5


def thresholds() -> dict:
    path = config.data_dir() / "ask_thresholds.json"
    try:
        values = json.loads(path.read_text())
        return {**DEFAULTS, **{k: float(v) for k, v in values.items() if k in DEFAULTS}}
    except (OSError, ValueError, TypeError):
        return dict(DEFAULTS)


@dataclass
class Candidate:
    kind: str  # "question", "resource", "topic"
    score: float
    topic: str | None
    item: dict | None = None
    topic_name: str = ""
    extra: dict = field(default_factory=dict)


def candidates(lib: Library, question: str) -> tuple[list[Candidate], list[tuple[str, float]]]:
    """Every candidate answer with its score, best first, and the nearest topics."""
    vector = lib.embed_query(question)
    topics = nearest_topics(lib, question, 5, vector=vector)
    names = {t["id"]: t["name"] for t in lib.store.topics()}
    out: list[Candidate] = []
    learn = bool(LEARN_INTENT.search(question))
    # Member questions, matched on their question text.
    for row in lib.store.items_where("i.kind = 'question'"):
        qvec = lib.embed_query(question_text(row))
        score = float(qvec @ vector)
        out.append(Candidate("question", score, (row["topics"] or [None])[0], row))
    # Resources and resource lists, by meaning.
    scores, nums = lib.index.search(vector, 40)
    rows = lib.store.items_by_num([int(n) for n in nums[0] if n >= 0])
    for score, num in zip(scores[0], nums[0]):
        row = rows.get(int(num))
        if row is not None and row["kind"] == "resource":
            out.append(Candidate("resource", float(score), (row["topics"] or [None])[0], row))
    # Topics, for "where can I learn X".
    for tid, score in topics[:3]:
        out.append(Candidate("topic", score + (0.02 if learn else 0.0), tid, topic_name=names.get(tid, tid)))
    out.sort(key=lambda c: -c.score)
    return out, topics


def question_text(row: dict) -> str:
    """The question part of a Q&A item: its title, or the text before the answer."""
    return row["title"]


def answer_part(text: str) -> str:
    """The answer of a 'Q. ... A. ...' text; the whole text when it has no marked answer."""
    m = re.search(r"(?:^|\n|\s)A[.:]\s", text)
    return text[m.end():].strip() if m else text.strip()


def ask(lib: Library, question: str) -> dict:
    question = clean_query(question)
    limits = thresholds()
    found, topics = candidates(lib, question)
    names = {t["id"]: t["name"] for t in lib.store.topics()}
    suggestions = [names.get(t, t) for t, _ in topics[:3]]
    abstain = {"question": question, "answered": False, "answer": "", "confidence": 0.0, "sources": [],
               "suggestions": suggestions}
    if not found:
        return abstain
    scored = [(c.score + (limits["question_bonus"] if c.kind == "question" else 0.0), c) for c in found]
    scored.sort(key=lambda sc: -sc[0])
    best_score, best = scored[0]
    related_topics = _related_topics(lib, best.topic)
    rival = next((s for s, c in scored[1:] if c.topic and best.topic and c.topic not in related_topics), None)
    gap = best_score - rival if rival is not None else 1.0
    abstain["confidence"] = round(best_score, 4)
    if best_score < limits["min_score"] or gap < limits["min_gap"]:
        abstain["why"] = (f"best match {best_score:.2f} is below {limits['min_score']:.2f}" if best_score < limits["min_score"]
                          else f"best match {best_score:.2f} is too close to another topic ({gap:.2f} < {limits['min_gap']:.2f})")
        return abstain
    if best.kind == "question":
        item = best.item
        sources = [item] + _topic_resources(lib, best.topic, exclude={item["id"]}, limit=2)
        answer = answer_part(item.get("text") or "")
        kind = "question"
    else:
        tid = best.topic
        sources = _topic_resources(lib, tid, limit=MAX_SOURCES)
        if best.kind == "resource" and best.item["id"] not in {s["id"] for s in sources}:
            sources = [best.item] + sources[:MAX_SOURCES - 1]
        tname = names.get(tid, tid) if tid else best.item["title"]
        lines = [f"For {tname}, start with:"] + [f"{n}. {s['title']}" + (f" <{s['url']}>" if s.get("url") else "")
                                                  for n, s in enumerate(sources, 1)]
        answer = "\n".join(lines)
        kind = "resources"
    return {"question": question, "answered": True, "answer": answer, "confidence": round(best_score, 4),
            "kind": kind, "topic": names.get(best.topic, best.topic) if best.topic else None,
            "sources": [{"id": s["id"], "title": s["title"], "url": s.get("url") or ""} for s in sources],
            "suggestions": suggestions}


def _related_topics(lib: Library, tid: str | None) -> set[str]:
    if not tid or tid not in lib.graph:
        return {tid} if tid else set()
    g = lib.graph
    return {tid, *g.predecessors(tid), *g.successors(tid)}


def _topic_resources(lib: Library, tid: str | None, exclude: set[str] = frozenset(), limit: int = MAX_SOURCES) -> list[dict]:
    """The best resources for a topic in reading-path order: its prerequisites' last, its own."""
    if not tid or tid not in lib.graph:
        return []
    from .path import _pick_items
    from . import graph as graphs

    order = graphs.plan(lib.graph, tid, depth=1)
    picks = _pick_items(lib, order, per_topic=3)
    own = [item for item, _ in picks.get(tid, []) if item["id"] not in exclude]
    before = [item for t in order[:-1] for item, _ in picks.get(t, [])[:1] if item["id"] not in exclude]
    chosen = (before[: max(0, limit - len(own))] + own)[:limit]
    return [row for row in chosen]
