"""The prerequisite graph (NetworkX) and its algorithms: plain functions over a DiGraph.

Nodes are topic ids with ``name``, ``description`` and ``minutes`` attributes; an edge
``a -> b`` means *a must be understood before b* and carries ``reason``, ``source`` and
``confidence``.
"""
from __future__ import annotations

import json
from typing import Iterable

import networkx as nx

from .errors import AidlgraphError, CycleError


def build(topics: Iterable[dict], prereqs: Iterable[dict]) -> nx.DiGraph:
    """A DiGraph from topic rows and prereq edge rows (as the store returns them).

    Examples
    --------
    >>> g = build([{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
    ...           [{"src": "a", "dst": "b", "reason": "b uses a"}])
    >>> list(g.edges(data="reason"))
    [('a', 'b', 'b uses a')]
    """
    g = nx.DiGraph()
    for t in topics:
        g.add_node(t["id"], name=t.get("name", t["id"]), description=t.get("description", ""),
                   minutes=t.get("minutes"))
    for e in prereqs:
        if e["src"] in g and e["dst"] in g:
            g.add_edge(e["src"], e["dst"], reason=e.get("reason") or "", source=e.get("source", "curated"),
                       confidence=e.get("confidence", 1.0))
    return g


def find_cycle(g: nx.DiGraph) -> list[str] | None:
    """The nodes of one prerequisite cycle, in order, or None when the graph is acyclic.

    Examples
    --------
    >>> g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    >>> find_cycle(g)
    ['a', 'b', 'c']
    """
    try:
        edges = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _ in edges]


def require_acyclic(g: nx.DiGraph) -> None:
    """Raise CycleError naming the cycle (by topic names) if there is one."""
    cycle = find_cycle(g)
    if cycle:
        raise CycleError([g.nodes[n].get("name", n) for n in cycle])


def known_closure(g: nx.DiGraph, known: Iterable[str]) -> set[str]:
    """What a learner knows, with what that rests on: knowing a topic means knowing its
    prerequisites (as Metacademy's learning plans count it).

    Examples
    --------
    >>> g = nx.DiGraph([("algebra", "calculus"), ("calculus", "backprop"), ("python", "backprop")])
    >>> sorted(known_closure(g, ["calculus"]))
    ['algebra', 'calculus']
    """
    out = {k for k in known if k in g}
    for k in list(out):
        out |= nx.ancestors(g, k)
    return out


def plan(g: nx.DiGraph, target: str, known: Iterable[str] = (), depth: int | None = None) -> list[str]:
    """Topics to learn for ``target``, each right after its own prerequisites, target last.

    Depth-first from the target through its prerequisites, emitting a topic once all its
    prerequisites are emitted (Metacademy's learning-plan order). ``known`` topics and everything
    they rest on are left out (the target itself always stays: knowing it, the plan is just it);
    ``depth`` caps how many prerequisite hops back the plan reaches.

    Examples
    --------
    >>> g = nx.DiGraph([("algebra", "calculus"), ("calculus", "backprop"), ("python", "backprop")])
    >>> plan(g, "backprop")
    ['algebra', 'calculus', 'python', 'backprop']
    >>> plan(g, "backprop", known=["calculus"])
    ['python', 'backprop']
    >>> plan(g, "backprop", known=["backprop"])
    ['backprop']
    """
    if target not in g:
        raise AidlgraphError(f"unknown topic {target!r}")
    known = known_closure(g, known) - {target}
    # What the plan may reach: prerequisites not known, within ``depth`` hops counted along the
    # shortest way back (not along the depth-first walk).
    reachable = nx.restricted_view(g.reverse(copy=False), list(known), [])
    allowed = set(nx.single_source_shortest_path_length(reachable, target, cutoff=depth))
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        seen.add(node)
        for pre in sorted(g.predecessors(node), key=lambda n: _sort_key(g, n)):
            if pre not in seen and pre in allowed:
                visit(pre)
        order.append(node)

    visit(target)
    return order


def _sort_key(g: nx.DiGraph, node: str) -> tuple:
    # Visit the prerequisite with the longest chain behind it first, so foundations lead.
    return (-len(nx.ancestors(g, node)), g.nodes[node].get("name", node))


def neighbourhood(g: nx.DiGraph, topic: str) -> nx.DiGraph:
    """The subgraph of ``topic``, its prerequisites and what builds on it."""
    nodes = {topic} | nx.ancestors(g, topic) | nx.descendants(g, topic)
    return g.subgraph(nodes).copy()


def check(g: nx.DiGraph, item_counts: dict[str, int], dangling: list[tuple[str, str]]) -> dict:
    """Problems in the graph: cycles, edges to missing topics, topics with no items."""
    cycle = find_cycle(g)
    return {
        "cycle": [g.nodes[n].get("name", n) for n in cycle] if cycle else [],
        "dangling": [list(e) for e in dangling],
        "topics_without_items": sorted(g.nodes[n].get("name", n) for n in g if not item_counts.get(n)),
        "topics": g.number_of_nodes(),
        "prereq_edges": g.number_of_edges(),
    }


def export(g: nx.DiGraph, fmt: str) -> str:
    """The graph as GraphML, node-link JSON, Graphviz DOT or a Mermaid flowchart."""
    if fmt == "json":
        data = nx.node_link_data(g, edges="edges")
        return json.dumps(data, indent=2, default=str)
    if fmt == "graphml":
        h = nx.DiGraph()
        for n, d in g.nodes(data=True):
            h.add_node(n, **{k: v for k, v in d.items() if v is not None})
        for u, v, d in g.edges(data=True):
            h.add_edge(u, v, **{k: val for k, val in d.items() if val is not None})
        return "\n".join(nx.generate_graphml(h))
    if fmt == "dot":
        lines = ["digraph prerequisites {", "  rankdir=LR;"]
        for n, d in g.nodes(data=True):
            lines.append(f'  "{_esc(n)}" [label="{_esc(d.get("name", n))}"];')
        for u, v, d in g.edges(data=True):
            lines.append(f'  "{_esc(u)}" -> "{_esc(v)}" [tooltip="{_esc(d.get("reason", ""))}"];')
        lines.append("}")
        return "\n".join(lines)
    if fmt == "mermaid":
        return mermaid(g)
    raise AidlgraphError(f"unknown export format {fmt!r}; use graphml, json, dot or mermaid")


def mermaid(g: nx.DiGraph, nodes: list[str] | None = None) -> str:
    """A Mermaid flowchart of ``g`` (restricted to ``nodes`` when given, in that order)."""
    nodes = nodes if nodes is not None else sorted(g.nodes)
    ids = {n: f"t{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for n in nodes:
        name = str(g.nodes[n].get("name", n)).replace('"', "'")
        lines.append(f'  {ids[n]}["{name}"]')
    for u, v in g.edges():
        if u in ids and v in ids:
            lines.append(f"  {ids[u]} --> {ids[v]}")
    return "\n".join(lines)


def _esc(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')
