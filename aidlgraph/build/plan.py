"""Planning an ingest: parsed batches and a snapshot of the library in, what to write out.

``plan`` is pure: it reads nothing and writes nothing, so every check (topic names resolve, the
prerequisite graph stays acyclic, nothing is its own prerequisite) happens before the first
write, by construction. ``apply`` then writes a plan in one transaction.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from .. import graph as graphs
from ..corpus.model import Batch, Item, Topic
from ..errors import InputError, UnknownTopicError
from ..text import normalise_name


@dataclass
class Snapshot:
    """What planning needs to know about the library, read in one go (``Snapshot.of(store)``)."""

    topics: dict[str, dict]                 # topic id -> stored topic row
    names: dict[str, str]                   # normalised name or alias -> topic id
    prereqs: list[dict]                     # stored prerequisite edges
    accepted: set[tuple[str, str]]          # prerequisite pairs a curator accepted
    items: dict[str, tuple[int, str, str]]  # item id -> (num, content hash, origin)
    vectors: dict[int, str]                 # num -> content hash its vector was made from

    @classmethod
    def of(cls, store) -> "Snapshot":
        with store.snapshot():
            return cls(
                topics={t["id"]: t for t in store.topics()}, names=store.topic_names(),
                prereqs=store.edges("prereq"),
                accepted={pair for pair, d in store.decisions().items() if d == "accepted"},
                items=store.item_hashes(), vectors=store.vector_hashes())

    def origin_items(self, origin: str) -> dict[str, int]:
        return {iid: num for iid, (num, _, o) in self.items.items() if o == origin}


@dataclass
class Plan:
    batches: list[Batch]                                   # the files to write (unchanged ones left out)
    unchanged_items: int = 0                               # items of files unchanged since their last ingest
    new_topics: dict[str, list[Topic]] = field(default_factory=dict)  # origin -> topics to write
    topics_new: int = 0                                    # of which not in the library yet
    prereqs: list[dict] = field(default_factory=list)      # every prerequisite the batches state
    prereqs_written: list[dict] = field(default_factory=list)  # of which new or changed
    dropped: list[tuple[str, str]] = field(default_factory=list)  # curated edges a topics file no longer lists
    graph: nx.DiGraph | None = None                        # the prerequisite graph after the ingest
    items: dict[str, tuple[Item, str, list[str]]] = field(default_factory=dict)  # id -> (item, origin, topic ids)
    merged: int = 0                                        # repeated entries merged into one item
    hashes: dict[str, str] = field(default_factory=dict)   # id -> content hash
    changed: list[str] = field(default_factory=list)       # items new or changed
    moved: list[tuple[str, int]] = field(default_factory=list)  # (new origin, num) of unchanged items
    to_embed: list[str] = field(default_factory=list)      # items that need a (new) vector
    gone: dict[str, int] = field(default_factory=dict)     # id -> num of items pruned
    bare: set[str] = field(default_factory=set)            # new topics with no description or edges
    untagged: list[str] = field(default_factory=list)      # items to tag by similarity
    stored: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        return self.unchanged_items + len(self.items) - len(self.changed)

    def writes_nothing(self) -> bool:
        return not (self.changed or self.to_embed or self.moved or self.gone or self.new_topics or self.dropped
                    or self.prereqs_written)

    def num(self, item_id: str) -> int | None:
        stored = self.stored.get(item_id)
        return stored[0] if stored else None


def plan(batches: list[Batch], snapshot: Snapshot, prune: bool = False) -> Plan:
    """What ingesting ``batches`` into a library that looks like ``snapshot`` writes.

    Raises UnknownTopicError, InputError or CycleError, before anything is written."""
    out = Plan(batches=[b for b in batches if not b.unchanged], stored=snapshot.items)
    for batch in batches:  # files as they were last ingested: their items stand as they are
        if batch.unchanged:
            out.unchanged_items += len(snapshot.origin_items(batch.origin))
    lookup = dict(snapshot.names)
    stated = _plan_topics(out, snapshot, lookup)
    resolve = _resolver(lookup, set(snapshot.topics))
    _plan_prereqs(out, snapshot, resolve, stated)
    _plan_items(out, snapshot, resolve, prune)
    return out


def _plan_topics(out: Plan, snapshot: Snapshot, lookup: dict[str, str]) -> set[str]:
    """New and changed topics; returns the topics whose prerequisites a file states in full."""
    stated: set[str] = set()
    for batch in out.batches:
        for topic in batch.topics:
            known = lookup.get(normalise_name(topic.name)) or lookup.get(normalise_name(topic.id.replace("-", " ")))
            declares = bool(topic.description or topic.aliases or topic.minutes)
            if batch.states_prereqs and declares and known in (None, topic.id):
                stated.add(topic.id)
            if known and not (declares and known == topic.id):
                continue
            if topic.id in snapshot.topics and not declares:
                continue
            if same_topic(snapshot.topics.get(topic.id), topic):
                continue
            out.new_topics.setdefault(batch.origin, []).append(topic)
            for name in [topic.name, topic.id.replace("-", " "), *topic.aliases]:
                lookup.setdefault(normalise_name(name), topic.id)
            lookup[normalise_name(topic.name)] = topic.id
    out.topics_new = sum(1 for ts in out.new_topics.values() for t in ts if t.id not in snapshot.topics)
    return stated


def _resolver(lookup: dict[str, str], existing: set[str]):
    def resolve(ref: str, what: str) -> str:
        tid = lookup.get(normalise_name(ref)) or (ref if ref in existing else None)
        if tid is None:
            close = difflib.get_close_matches(normalise_name(ref), list(lookup), n=3, cutoff=0.75)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownTopicError(
                f"{what} names unknown topic {ref!r}{hint}; add it to your topics file or fix the name", close)
        return tid
    return resolve


def _plan_prereqs(out: Plan, snapshot: Snapshot, resolve, stated: set[str]) -> None:
    for batch in out.batches:
        name = Path(batch.origin).name
        for p in batch.prereqs:
            src, dst = resolve(p.src, f"{name}: a prerequisite"), resolve(p.dst, f"{name}: a prerequisite")
            if src == dst:
                raise InputError(f"{name}: topic {p.dst!r} is listed as its own prerequisite; remove that line")
            out.prereqs.append({"src": src, "dst": dst, "kind": "prereq", "source": p.source,
                                "confidence": p.confidence, "reason": p.reason})
    topics_after = dict(snapshot.topics)
    for ts in out.new_topics.values():
        for t in ts:
            topics_after[t.id] = {"id": t.id, "name": t.name}
    out.graph = graphs.build(topics_after.values(), snapshot.prereqs + out.prereqs)
    graphs.require_acyclic(out.graph)
    # A topics file states all curated prerequisites of its topics, except those a curator
    # accepted with `graph accept`: the ones it no longer lists are dropped.
    listed = {(r["src"], r["dst"]) for r in out.prereqs}
    out.dropped = [(e["src"], e["dst"]) for e in snapshot.prereqs
                   if e["source"] == "curated" and e["dst"] in stated
                   and (e["src"], e["dst"]) not in snapshot.accepted and (e["src"], e["dst"]) not in listed]
    current = {(e["src"], e["dst"]): (e["source"], e["reason"]) for e in snapshot.prereqs}
    out.prereqs_written = [r for r in out.prereqs if current.get((r["src"], r["dst"])) != (r["source"], r["reason"])]
    out.bare = {t.id for ts in out.new_topics.values() for t in ts
                if not t.description and not out.graph.in_degree(t.id) and not out.graph.out_degree(t.id)}


def _plan_items(out: Plan, snapshot: Snapshot, resolve, prune: bool) -> None:
    for batch in out.batches:
        name = Path(batch.origin).name
        for item in batch.items:
            topic_ids = list(dict.fromkeys(resolve(t, f"{name}: item {item.title[:60]!r}") for t in item.topics))
            if item.id in out.items:
                ids = out.items[item.id][2]
                ids.extend(t for t in topic_ids if t not in ids)
                out.merged += 1
                continue
            out.items[item.id] = (item, batch.origin, topic_ids)
    for item, _, ids in out.items.values():  # merged topics are part of the content
        item.topics = list(ids)
    stored = snapshot.items
    out.hashes = {iid: item.content_hash for iid, (item, _, _) in out.items.items()}  # computed once
    out.changed = [iid for iid in out.items if stored.get(iid, (None, None, None))[1] != out.hashes[iid]]
    changed = set(out.changed)
    out.moved = [(origin, stored[iid][0]) for iid, (_, origin, _) in out.items.items()
                 if iid in stored and iid not in changed and stored[iid][2] != origin]
    out.to_embed = [iid for iid in out.items
                    if iid in changed or (iid in stored and snapshot.vectors.get(stored[iid][0]) != out.hashes[iid])]
    # Items with no topics, or only bare ones (a heading or a column value with no description
    # and no place in the prerequisite graph), are tagged to the nearest described topics.
    out.untagged = [i for i in out.to_embed if all(t in out.bare for t in out.items[i][2])]
    if prune:
        for origin in {b.origin for b in out.batches}:
            out.gone.update({iid: num for iid, num in snapshot.origin_items(origin).items() if iid not in out.items})


def same_topic(row: dict | None, topic: Topic) -> bool:
    """True when a stored topic row says what ``topic`` says (no minutes and 0 minutes alike)."""
    return row is not None and (row["name"], list(row["aliases"]), row["description"] or "", row["minutes"] or None) == (
        topic.name, list(topic.aliases), topic.description or "", topic.minutes or None)
