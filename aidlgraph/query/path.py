"""Reading paths: the prerequisite topics of a query's topic, in order, each with the reading that
suits a learner at that step.

``reading_path`` resolves the query (``resolve``), plans the topics (``graph.plan``, with what the
learner knows and everything it rests on left out), chooses the readings (``choose_readings``) and
estimates the time each step takes. ``views`` renders the result.

Choosing readings, in order of importance:

- **Relevance floor.** An item is a reading for a step only if it is about the step's topic
  (a curated or confident inferred tag) *and* its text is close enough to the topic (cosine at
  least ``FLOOR`` for its kind: news must be squarely on the topic to teach it). A step with
  nothing above the floor says "no reading in the library yet" and gives the topic's description.
- **One step per item.** An item tagged with several topics of the path is read at the step it
  fits best (highest score; the narrower topic on a tie), and a step left empty may borrow an
  item only from a step that keeps another reading. A resource that says where in it each topic
  is taught (``extra.locations``, e.g. a textbook's sections from Metacademy) is read at every
  step it has a part for, that part each time.
- **Learner fit.** On the way to the target: tutorials, courses and lectures before articles and
  books, those before reference manuals, papers and news; beginner material first (always when
  the learner said "for beginners"), advanced last. At the target: the seminal papers (core or
  recommended papers) first. Curated ``core`` readings lead, free before paid, and items closer
  to the learner's target win ties.
- Series are never read out of order across steps (part 9 is never before part 8).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import graph as graphs
from ..config import PER_TOPIC
from ..errors import AmbiguousTopicError, UnknownTopicError
from ..library import Library
from .resolve import Resolution, resolve_known, resolve_topic

# An item is a reading for a step only this close to the step's topic (cosine). Posts and member
# questions are situational (a newsletter's take, one member's case): they must be squarely on the
# topic, and on the way to the target also about the learner's goal. News never fills a step.
FLOOR = {"resource": 0.20, "post": 0.40, "question": 0.40}
SITUATIONAL = ("post", "question")
SITUATIONAL_FLOOR = 0.45   # cosine(item, step topic) of a post or question before the target
CONTEXT_MIN = 0.30         # ... and cosine(item, target topic)
INFERRED_MIN = 0.35  # an inferred tag counts as a reading only this confident
# How well each medium teaches a learner meeting a topic on the way to the target ...
FOUNDATION_FIT = {"tutorial": 1.0, "course": 0.9, "lecture": 0.9, "video": 0.8, "article": 0.7, "book": 0.6,
                  "podcast": 0.4, "list": 0.4, "code": 0.3, "manual": 0.2, "tool": 0.2, "paper": 0.1,
                  "dataset": 0.0, "person": -0.5, "news": -0.6}
# ... and at the target itself, where the seminal papers belong.
TARGET_FIT = {**FOUNDATION_FIT, "paper": 0.8, "manual": 0.4, "news": 0.0}
KIND_FIT = {"resource": 0.5, "post": 0.4, "question": 0.2}  # when the medium is unknown
LEVEL_FIT = {"beginner": 0.3, "intermediate": 0.0, "advanced": -0.3}
SOURCE_WEIGHT = {"curated": 1.0, "imported": 1.0, "inferred": 0.3, "suggested": 0.3}
# Reading time by medium (low, high) in minutes, when the item does not say.
MEDIUM_MINUTES = {"tutorial": (20, 45), "article": (10, 25), "course": (600, 2400), "lecture": (60, 90),
                  "video": (10, 60), "book": (600, 3000), "manual": (180, 600), "paper": (60, 120),
                  "list": (15, 30), "news": (3, 10), "dataset": (15, 30), "tool": (30, 60), "podcast": (30, 60),
                  "code": (30, 90), "person": (5, 10)}
KIND_MINUTES = {"resource": (20, 60), "post": (5, 15), "news": (3, 8), "question": (3, 8), "issue": (5, 10)}
PART_MINUTES = (30.0, 120.0)  # one section or chapter of a book or course, when the topic has no estimate
WORDS_PER_MINUTE = 220
FULL_TEXT_KINDS = ("post", "news", "question", "issue")  # their text is the whole reading
# A topic with more tagged items than this (a large library) has only the items among its NEAREST
# nearest by meaning scored; below it every tagged item is.
CANDIDATES = 500
NEAREST = 2000


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
    medium: str = ""
    level: str = ""
    seminal: bool = False
    location: str = ""  # which part of the resource this step reads ("Section 9.5")
    minutes: float = 0.0
    minutes_low: float = 0.0
    minutes_high: float = 0.0
    estimated: bool = True
    note: str = ""


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
    ignored_known: list[str] = field(default_factory=list)
    level: str = ""
    confidence: float = 1.0

    @property
    def minutes(self) -> float:
        return sum(s.minutes for s in self.steps)

    @property
    def minutes_range(self) -> tuple[float, float]:
        return sum(s.minutes_low for s in self.steps), sum(s.minutes_high for s in self.steps)


@dataclass
class Pick:
    item: dict
    topic_id: str
    score: float
    relevance: float
    edge: dict
    core: bool
    seminal: bool = False


def reading_path(lib: Library, query: str, known: list[str] = (), depth: int | None = None,
                 per_topic: int = PER_TOPIC) -> ReadingPath:
    """The ordered reading path for ``query``; UnknownTopicError (with the closest topics and the
    items nearest the query) when the library has no such topic, AmbiguousTopicError when the
    query could name two or three."""
    g = lib.graph
    known_ids, ignored = resolve_known(lib, list(known))
    skipped = graphs.known_closure(g, known_ids)
    try:
        res: Resolution = resolve_topic(lib, query, exclude=skipped)
    except AmbiguousTopicError:
        raise
    except UnknownTopicError as exc:
        exc.related = _nearest_items(lib, query)
        raise
    order = graphs.plan(g, res.topic_id, known=known_ids, depth=depth)
    chosen = choose_readings(lib, order, res.topic_id, per_topic, res.level)
    steps: list[Step] = []
    for tid in order:
        node = g.nodes[tid]
        why = _topic_reason(g, tid, order, res.topic_id)
        picks = chosen.get(tid, [])
        if not picks:
            low, high, estimated = _topic_minutes(node)
            steps.append(Step(len(steps) + 1, node["name"], tid, node["name"], "", "topic", why,
                              text=node.get("description") or "", minutes=(low + high) / 2, minutes_low=low,
                              minutes_high=high, estimated=estimated, note="no reading in the library yet"))
            continue
        for pick in picks:
            item = pick.item
            low, high, estimated = item_minutes(item)
            if _location(item, tid):  # one part of a longer resource: as long as the topic takes
                low, high, estimated = _topic_minutes(node) if node.get("minutes") else (*PART_MINUTES, True)
            steps.append(Step(
                len(steps) + 1, node["name"], tid, item["title"], item.get("url") or "", item["kind"],
                f"{why}; {_pick_reason(pick, node['name'])}", id=item["id"], text=(item.get("text") or "")[:300],
                authors=item["authors"], series=item.get("series") or "",
                part=item.get("position") if item.get("series") else None, free=item.get("free"),
                core=pick.core, medium=item.get("medium") or "", level=item.get("level") or "", seminal=pick.seminal,
                location=_location(item, tid), minutes=(low + high) / 2, minutes_low=low, minutes_high=high, estimated=estimated,
            ))
    names = [g.nodes[t]["name"] for t in order]
    shown_known = sorted(g.nodes[k]["name"] for k in skipped if k in g and k != res.topic_id)
    return ReadingPath(query, res.name, res.topic_id, res.describe(query), steps, names, shown_known, order,
                       ignored, res.level, res.score)


def _nearest_items(lib: Library, query: str, k: int = 5) -> list[dict]:
    from .related import related

    try:
        results = related(lib, query, k=k)["results"]
    except Exception:  # the refusal must not fail because the suggestions could not be had
        return []
    return [{"id": r["id"], "title": r["title"], "url": r["url"], "kind": r["kind"], "source": r["source"]}
            for r in results]


def _topic_reason(g, tid: str, order: list[str], target: str) -> str:
    if tid == target:
        return "the topic you asked for"
    later = order[order.index(tid) + 1:]
    for succ in later:  # the first later topic that needs this one
        if g.has_edge(tid, succ):
            edge = g.edges[tid, succ]
            reason = edge.get("reason") or ""
            name = g.nodes[succ]["name"]
            proposed = " (a suggested prerequisite, not yet confirmed by a curator)" if edge.get("source") == "suggested" else ""
            return f"prerequisite of {name}" + (f": {reason.rstrip('. ')}" if reason else "") + proposed
    return "prerequisite"


def _location(item: dict, topic_id: str) -> str:
    return (item.get("extra") or {}).get("locations", {}).get(topic_id, "")


def _pick_reason(pick: Pick, topic_name: str) -> str:
    item = pick.item
    if item.get("series") and item.get("position"):
        what = f"part {item['position']} of series {item['series']}"
    elif pick.edge["source"] in ("inferred", "suggested"):
        what = f"about {topic_name} (inferred, score {pick.edge['confidence']:.2f})"
    else:
        what = f"about {topic_name} (relevance {pick.relevance:.2f})"
    lead = "seminal paper; " if pick.seminal else ("core reading; " if pick.core else "")
    where = _location(item, pick.topic_id)
    return lead + what + (f"; read {where}" if where else "")


# -- choosing readings -----------------------------------------------------------------------------
def choose_readings(lib: Library, order: list[str], target: str, per_topic: int,
                    level: str = "") -> dict[str, list[Pick]]:
    """The readings of each step of ``order`` (see the module docstring): up to ``per_topic`` at
    the target, up to ``per_topic - 1`` (at least one) at every other step."""
    pairs = _eligible(lib, order, target, level)
    by_item: dict[str, list[Pick]] = {}
    for picks in pairs.values():
        for p in picks:
            by_item.setdefault(p.item["id"], []).append(p)
    eligible_count = {t: len(p) for t, p in pairs.items()}
    # Home: the step an item fits best; the narrower topic (fewer readings) on a tie.
    home = {iid: max(ps, key=lambda p: (round(p.score, 6), -eligible_count[p.topic_id])).topic_id
            for iid, ps in by_item.items()}
    position = {t: n for n, t in enumerate(order)}
    limit = {t: per_topic if t == target else max(1, per_topic - 1) for t in order}
    chosen: dict[str, list[Pick]] = {t: [] for t in order}
    where: dict[str, Pick] = {}  # item id -> the pick that placed it (items read whole, once)

    def fits_series(pick: Pick) -> bool:
        """False if placing this part here would read its series out of order across steps."""
        item = pick.item
        if not item.get("series") or item.get("position") is None:
            return True
        here, part = position[pick.topic_id], item["position"]
        for other in where.values():
            o = other.item
            if o["id"] != item["id"] and o.get("series") == item["series"] and o.get("position") is not None:
                step = position[other.topic_id]
                if (step < here and o["position"] > part) or (step > here and o["position"] < part):
                    return False
        return True

    def place(pick: Pick) -> None:
        chosen[pick.topic_id].append(pick)
        if not _location(pick.item, pick.topic_id):
            where[pick.item["id"]] = pick

    for tid in [target, *reversed(order[:-1])]:
        for pick in sorted(pairs.get(tid, []), key=lambda p: -p.score):
            if len(chosen[tid]) >= limit[tid]:
                break
            if _location(pick.item, tid):  # a part of the resource for this very topic
                place(pick)
            elif home[pick.item["id"]] == tid and pick.item["id"] not in where and fits_series(pick):
                place(pick)
    for tid in order:  # a step left empty borrows from a step that keeps another reading
        if chosen[tid]:
            continue
        for pick in sorted(pairs.get(tid, []), key=lambda p: -p.score):
            owner = where.get(pick.item["id"])
            if owner is not None and (len(chosen[owner.topic_id]) < 2 or owner.topic_id == target):
                continue
            if owner is not None:
                chosen[owner.topic_id].remove(owner)
                del where[pick.item["id"]]
            if fits_series(pick):
                place(pick)
                break
            if owner is not None:  # put it back: it cannot move here
                place(owner)
    for tid, picks in chosen.items():  # series parts in series order, then best first
        picks.sort(key=lambda p: (p.item.get("series") or "~", p.item.get("position") or 0, -p.score))
    return chosen


def _tagged(lib: Library, order: list[str], topic_vec: dict[str, np.ndarray]) -> dict[str, list[tuple[dict, dict]]]:
    """step topic -> [(item, about-edge)]: every item tagged with it, or, for a topic with more
    than ``CANDIDATES`` items (a large library), those among its ``NEAREST`` nearest items by
    meaning (all of them if none is that near), so a path costs about the same at 20k items as
    at 1M."""
    counts = lib.store.about_counts(order)
    large = [t for t in order if counts[t] > CANDIDATES and t in topic_vec]
    about = lib.store.items_about([t for t in order if t not in large])
    if large:
        _, found = lib.index.search(np.stack([topic_vec[t] for t in large]), NEAREST)
        for tid, nums in zip(large, found):  # none of its items near it (a poor model): all of them
            about[tid] = lib.store.items_about_among(tid, nums[nums >= 0].tolist()) or lib.store.items_about([tid])[tid]
    return about


def _eligible(lib: Library, order: list[str], target: str, level: str) -> dict[str, list[Pick]]:
    """(step topic -> its possible readings, scored) for the items tagged with the path's topics
    that clear the relevance floor."""
    topic_ids, topic_matrix = lib.topic_vectors()
    topic_vec = {t: topic_matrix[i] for i, t in enumerate(topic_ids)}
    about = _tagged(lib, order, topic_vec)
    nums = sorted({item["num"] for pairs in about.values() for item, _ in pairs})
    if not nums:
        return {}
    vec_ids, vectors = lib.vectors(nums)
    item_vec = {int(n): v for n, v in zip(vec_ids, vectors)}
    target_vec = topic_vec.get(target)
    out: dict[str, list[Pick]] = {}
    for tid, pairs in about.items():
        for item, edge in pairs:
            if item["kind"] == "issue":  # a table of contents, not a reading
                continue
            vec = item_vec.get(item["num"])
            rel = float(vec @ topic_vec[tid]) if vec is not None and tid in topic_vec else 0.0
            context = float(vec @ target_vec) if vec is not None and target_vec is not None else 0.0
            if item["kind"] not in FLOOR or rel < FLOOR[item["kind"]]:
                continue
            if tid != target and not _teaches(item, tid, rel, context):
                continue
            if edge["source"] in ("inferred", "suggested") and (edge["confidence"] or 0.0) < INFERRED_MIN:
                continue
            pick = _score(item, edge, tid, tid == target, rel, context, level)
            out.setdefault(tid, []).append(pick)
    return out


def _core(item: dict, tid: str) -> bool:
    """Curated as core reading for this topic (Metacademy marks it per topic, lists per item)."""
    return tid in item["extra"]["core_for"] if "core_for" in item["extra"] else item["core"]


def _teaches(item: dict, tid: str, rel: float, context: float) -> bool:
    """Whether an item can teach a topic met on the way to the target: data sets and people never
    do, a research paper only when curated as the topic's core reading, and a post or a member's
    question only when it is squarely on the topic and about the learner's goal too."""
    if item.get("medium") in ("news", "dataset", "person"):
        return False
    if item["kind"] in SITUATIONAL:
        return rel >= SITUATIONAL_FLOOR and context >= CONTEXT_MIN
    return item.get("medium") != "paper" or _core(item, tid)


def _score(item: dict, edge: dict, tid: str, at_target: bool, rel: float, context: float, level: str) -> Pick:
    core = _core(item, tid)
    recommended = core or bool(item["extra"].get("recommended"))
    medium = item.get("medium") or ""
    fit_table = TARGET_FIT if at_target else FOUNDATION_FIT
    fit = fit_table.get(medium, KIND_FIT.get(item["kind"], 0.3)) if item["kind"] == "resource" else KIND_FIT.get(item["kind"], 0.0)
    seminal = at_target and medium == "paper" and recommended
    item_level = item.get("level") or ""
    level_fit = 0.0 if at_target and level != "beginner" else LEVEL_FIT.get(item_level, 0.0) * (2.0 if level == "beginner" else 1.0)
    if level == "beginner" and medium in ("manual", "paper"):
        level_fit -= 0.4  # "for beginners": the 300-page guide and the papers wait
    score = (2.0 * core + 1.0 * seminal + SOURCE_WEIGHT.get(edge["source"], 0.5) * min(edge["confidence"] or 1.0, 1.0)
             + rel + fit + level_fit + 0.3 * context + {True: 0.1, None: 0.0, False: -0.1}[item["free"]])
    return Pick(item, tid, score, rel, edge, core, seminal)


# -- time ------------------------------------------------------------------------------------------
def item_minutes(item: dict) -> tuple[float, float, bool]:
    """(low, high, estimated) reading time of an item: its own figure, else its text's length when
    the text is the reading, else what its medium (or kind) usually takes."""
    if item.get("minutes"):
        return float(item["minutes"]), float(item["minutes"]), False
    medium = item.get("medium") or ""
    if medium in MEDIUM_MINUTES:
        low, high = MEDIUM_MINUTES[medium]
        return float(low), float(high), True
    words = len((item.get("text") or "").split())
    if item["kind"] in FULL_TEXT_KINDS and words:
        minutes = max(1.0, words / WORDS_PER_MINUTE)
        return round(minutes * 0.8, 1), round(minutes * 1.3, 1), True
    low, high = KIND_MINUTES.get(item["kind"], (15, 45))
    return float(low), float(high), True


def _topic_minutes(node: dict) -> tuple[float, float, bool]:
    """A step with no reading takes the topic's own estimate (Metacademy's learn_time), or none:
    how long learning linear algebra elsewhere takes is not ours to guess."""
    if node.get("minutes"):
        return float(node["minutes"]) * 0.75, float(node["minutes"]) * 1.25, True
    return 0.0, 0.0, True
