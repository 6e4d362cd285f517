"""A curator's decisions on prerequisite edges: accept one (it becomes curated) or reject one
(it is never suggested again). Both are writes: under the write lock, one transaction each, and
the library's generation moves on, so a running server sees them on its next request."""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from ..errors import AidlgraphError, CycleError, InputError
from ..library import Library
from ..query.resolve import resolve_topic


class AcceptCycleError(CycleError):
    """Accepting the edge would close a prerequisite cycle (named, by topic names)."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        loop = " -> ".join(cycle + cycle[:1])
        AidlgraphError.__init__(self, f"accepting {cycle[0]} -> {cycle[1]} would make a prerequisite cycle: "
                                      f"{loop}; the edge was not added (reject it, or remove another edge first)")


@dataclass
class CuratorDecision:
    """What ``accept`` or ``reject`` did, with how each query was resolved when not by name."""

    src: str
    dst: str
    what: str
    resolved: list[str] = field(default_factory=list)


def _resolve_pair(lib: Library, src: str, dst: str):
    a, b = resolve_topic(lib, src), resolve_topic(lib, dst)
    if a.topic_id == b.topic_id:
        raise InputError(f"{src!r} and {dst!r} are both the topic {a.name!r}, which cannot be its own prerequisite; "
                         "name two different topics")
    notes = [r.describe(q) for r, q in ((a, src), (b, dst)) if r.how not in ("name", "alias")]
    return a, b, notes


def accept(lib: Library, src: str, dst: str, reason: str = "", wait: float = 0.0) -> CuratorDecision:
    """Record a curator's yes and add ``src -> dst`` as a curated prerequisite.

    Raises AcceptCycleError naming the cycle the edge would close; nothing is written then.
    """
    a, b, notes = _resolve_pair(lib, src, dst)
    with lib.writing(wait=wait):
        g = lib.graph
        if nx.has_path(g, b.topic_id, a.topic_id):
            path = nx.shortest_path(g, b.topic_id, a.topic_id)
            raise AcceptCycleError([g.nodes[t]["name"] for t in [a.topic_id, *path[:-1]]])
        existing = g.edges[a.topic_id, b.topic_id] if g.has_edge(a.topic_id, b.topic_id) else None
        with lib.store.transaction():
            lib.store.decide(a.topic_id, b.topic_id, "accepted", reason)
            if existing is None or existing.get("source") != "curated" or reason:
                lib.store.add_edges([{"src": a.topic_id, "dst": b.topic_id, "kind": "prereq", "source": "curated",
                                      "confidence": 1.0, "reason": reason or (existing or {}).get("reason", "")}])
    if existing is None:
        what = "added as a curated prerequisite"
    elif existing.get("source") == "curated":
        what = "already a curated prerequisite" + ("; reason updated" if reason else "")
    else:
        what = f"was {existing.get('source')}; now curated"
    return CuratorDecision(a.name, b.name, what, notes)


def reject(lib: Library, src: str, dst: str, note: str = "", wait: float = 0.0) -> CuratorDecision:
    """Record a curator's no: ``src -> dst`` is never suggested again.

    An inferred or suggested edge on that pair is removed; a curated or imported one stays (say so).
    """
    a, b, notes = _resolve_pair(lib, src, dst)
    with lib.writing(wait=wait):
        edge = lib.store.edge(a.topic_id, b.topic_id, "prereq")
        source = edge["source"] if edge else None
        with lib.store.transaction():
            lib.store.decide(a.topic_id, b.topic_id, "rejected", note)
            if source in ("inferred", "suggested"):
                lib.store.delete_edges([(a.topic_id, b.topic_id)], "prereq")
    if source and source not in ("inferred", "suggested"):
        what = f"recorded; the existing {source} edge stays (it is not a suggestion)"
    else:
        what = "recorded; it will not be suggested again"
    return CuratorDecision(a.name, b.name, what, notes)
