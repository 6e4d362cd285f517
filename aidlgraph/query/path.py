"""Reading paths: the prerequisite topics of a query's topic, in order, each with its best items.

``reading_path`` is the whole computation; the formatters turn its result into text, Markdown,
Mermaid or the JSON of DESIGN.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import graph as graphs
from ..library import Library
from .resolve import Resolution, resolve_many, resolve_topic

DEFAULT_MINUTES = {"resource": 30, "post": 10, "news": 5, "question": 5, "issue": 10, "topic": 60}
KIND_WEIGHT = {"resource": 0.3, "post": 0.2, "question": 0.1, "news": 0.0, "issue": -0.2}
SOURCE_WEIGHT = {"curated": 1.0, "imported": 1.0, "inferred": 0.0}


@dataclass
class Step:
    position: int
    topic: str
    topic_id: str
    title: str
    url: str
    kind: str
    reason: str
    id: str = ""
    text: str = ""
    authors: list[str] = field(default_factory=list)
    series: str = ""
    part: int | None = None
    free: bool | None = None
    core: bool = False
    minutes: float = 0.0
    estimated: bool = True


@dataclass
class ReadingPath:
    query: str
    topic: str
    topic_id: str
    resolution: str
    steps: list[Step]
    topics: list[str]
    skipped_known: list[str]
    topic_ids: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return sum(s.minutes for s in self.steps)


def reading_path(lib: Library, query: str, known: list[str] = (), depth: int | None = None,
                 per_topic: int = 2) -> ReadingPath:
    """The ordered reading path for ``query`` (a topic name, alias or description)."""
    res: Resolution = resolve_topic(lib, query)
    known_ids = resolve_many(lib, list(known))
    g = lib.graph
    order = graphs.plan(g, res.topic_id, known=known_ids, depth=depth)
    chosen = best_items(lib, order, per_topic)
    steps: list[Step] = []
    for tid in order:
        node = g.nodes[tid]
        why = _topic_reason(g, tid, order, res.topic_id)
        picks = chosen.get(tid, [])
        if not picks:
            minutes, estimated = (node.get("minutes"), False) if node.get("minutes") else (DEFAULT_MINUTES["topic"], True)
            steps.append(Step(len(steps) + 1, node["name"], tid, node["name"], "", "topic", why,
                              text=node.get("description") or "", minutes=float(minutes), estimated=estimated))
            continue
        for item, pick in picks:
            minutes = item.get("minutes")
            steps.append(Step(
                len(steps) + 1, node["name"], tid, item["title"], item.get("url") or "", item["kind"],
                f"{why}; {pick}", id=item["id"], text=(item.get("text") or "")[:300], authors=item["authors"],
                series=item.get("series") or "", part=item.get("position") if item.get("series") else None,
                free=item.get("free"), core=item.get("core", False),
                minutes=float(minutes or DEFAULT_MINUTES.get(item["kind"], 15)), estimated=minutes is None,
            ))
    names = [g.nodes[t]["name"] for t in order]
    return ReadingPath(query, res.name, res.topic_id, res.describe(query), steps, names,
                       [g.nodes[k]["name"] for k in known_ids if k in g], order)


def _topic_reason(g, tid: str, order: list[str], target: str) -> str:
    if tid == target:
        return "the topic you asked for"
    later = order[order.index(tid) + 1:]
    for succ in later:  # the first later topic that needs this one
        if g.has_edge(tid, succ):
            reason = g.edges[tid, succ].get("reason") or ""
            name = g.nodes[succ]["name"]
            return f"prerequisite of {name}" + (f": {reason.rstrip('. ')}" if reason else "")
    return "prerequisite"


def best_items(lib: Library, order: list[str], per_topic: int) -> dict[str, list[tuple[dict, str]]]:
    """The best ``per_topic`` items for each topic: core and curated first, then by relevance
    to the topic, free before paid; series parts in series order."""
    about = lib.store.items_about(order)
    nums = sorted({item["num"] for pairs in about.values() for item, _ in pairs})
    vec_ids, vectors = lib.vectors(nums)
    item_vec = {int(n): v for n, v in zip(vec_ids, vectors)}
    topic_ids, topic_matrix = lib.topic_vectors() if nums else ([], None)
    topic_vec = {t: topic_matrix[i] for i, t in enumerate(topic_ids)}
    used: set[str] = set()
    # series -> the lowest part already placed at a later step: an earlier step may only take
    # parts before it, so a series is never read out of order (Harris part 9 before part 8)
    series_cap: dict[str, int] = {}
    out: dict[str, list[tuple[dict, str]]] = {}
    # The target first, then back through its prerequisites: an item tagged with several
    # topics of the path is read where it matters most, not at the earliest foundation.
    for tid in reversed(order):
        scored = []
        for item, edge in about.get(tid, []):
            if item["id"] in used:
                continue
            part = item.get("position") if item.get("series") else None
            if part is not None and part > series_cap.get(item["series"], part):
                continue
            rel = float(item_vec[item["num"]] @ topic_vec[tid]) if item["num"] in item_vec and tid in topic_vec else 0.0
            specific = 0.5 / max(1, len(item["topics"]))  # an item about this topic alone beats a survey
            core = tid in item["extra"]["core_for"] if "core_for" in item["extra"] else item["core"]
            score = (2.0 * core + SOURCE_WEIGHT.get(edge["source"], 0.5) * min(edge["confidence"] or 1.0, 1.0)
                     + rel + specific + KIND_WEIGHT.get(item["kind"], 0.0)
                     + {True: 0.1, None: 0.0, False: -0.1}[item["free"]])
            scored.append((score, rel, item, edge, core))
        scored.sort(key=lambda s: -s[0])
        best = scored[:per_topic]
        best.sort(key=lambda s: (s[2].get("series") or "~", s[2].get("position") or 0, -s[0]))
        picks = []
        for score, rel, item, edge, core in best:
            used.add(item["id"])
            if item.get("series") and item.get("position") is not None:
                series_cap[item["series"]] = min(series_cap.get(item["series"], item["position"]), item["position"])
            if item.get("series") and item.get("position"):
                pick = f"part {item['position']} of series {item['series']}"
            elif edge["source"] == "inferred":
                pick = f"about {lib.graph.nodes[tid]['name']} (inferred, score {edge['confidence']:.2f})"
            else:
                pick = f"about {lib.graph.nodes[tid]['name']} (score {rel:.2f})"
            if core:
                pick = "core reading; " + pick
            picks.append((item, pick))
        out[tid] = picks
    return out
