"""What each page shows, gathered from the library: the same query calls and ``views`` as the
CLI's ``--json`` and the JSON API, plus the piece of the prerequisite graph a page draws.

Every function returns plain JSON-able data (the server caches it per library generation like
its JSON responses); ``render`` turns it into HTML. Nothing here computes an answer of its own.
"""
from __future__ import annotations

import networkx as nx

from .. import views
from ..errors import UnknownTopicError
from ..library import Library


def topic_choices(lib: Library) -> list[dict]:
    """Every topic's id, name and aliases: the search box's suggestions (``topics --json``)."""
    return [{"id": t["id"], "name": t["name"], "aliases": t["aliases"]} for t in views.topics_json(lib)]


def home(lib: Library, popular: int = 16) -> dict:
    """The search page: the topics to suggest, and the best-stocked ones to start from."""
    topics = topic_choices(lib)
    per_topic = lib.store.item_counts_by_topic()
    best = sorted(topics, key=lambda t: (-per_topic.get(t["id"], 0), t["name"]))[:popular]
    return {"topics": topics, "popular": sorted(best, key=lambda t: t["name"]),
            "items": sum(lib.store.count_items().values())}


def topics(lib: Library) -> dict:
    """Every topic with its prerequisites' names (``topics --json``)."""
    return {"topics": views.topics_json(lib)}


def known_ids(lib: Library, known: list[str]) -> list[str]:
    """The topic ids a learner's ``known`` values name (ids from the page's own checkboxes, or
    names typed into a URL); values that name no topic are left out, as the path leaves them."""
    from ..query.resolve import resolve_topic

    out = []
    for value in known:
        if value in lib.graph:
            out.append(value)
            continue
        try:
            out.append(resolve_topic(lib, value).topic_id)
        except UnknownTopicError:
            continue
    return list(dict.fromkeys(out))


def path(lib: Library, data: dict, known: list[str]) -> dict:
    """The path page: ``data`` is ``views.path_json`` of the path; adds the prerequisite graph
    of its target (every ancestor, with each topic's state: the target, a topic to learn, one
    the learner ticked as known, or one skipped because the learner knows what needs it) and the
    steps grouped by topic."""
    g = lib.graph
    steps = data.get("steps") or []
    target = data.get("topic_id") or (steps[-1]["topic_id"] if steps else "")
    ticked = known_ids(lib, known)
    planned = {s.get("topic_id") for s in steps}
    drawn = (nx.ancestors(g, target) | {target}) if target in g else set(planned)
    order = [s["topic_id"] for s in steps if s.get("topic_id")]  # plan order first, then the rest by name
    rest = sorted(drawn - set(order), key=lambda t: g.nodes[t]["name"] if t in g else t)

    def state(t: str) -> str:
        if t == target:
            return "target"
        if t in ticked:
            return "known"
        return "todo" if t in planned else "skipped"

    nodes = [{"id": t, "name": g.nodes[t]["name"] if t in g else t, "state": state(t)}
             for t in list(dict.fromkeys(order)) + rest]
    edges = [[u, v, g.edges[u, v].get("reason") or ""] for u, v in g.subgraph(drawn).edges] if target in g else []
    groups: list[dict] = []
    for s in steps:
        if not groups or groups[-1]["topic_id"] != s.get("topic_id"):
            groups.append({"topic": s.get("topic", ""), "topic_id": s.get("topic_id", ""), "steps": []})
        groups[-1]["steps"].append(s)
    return {"path": data, "target": {"id": target, "name": data.get("topic", "")}, "groups": groups,
            "graph": {"nodes": nodes, "edges": edges},
            "known": [{"id": t, "name": g.nodes[t]["name"]} for t in ticked if t in g],
            "topics": topic_choices(lib)}


def neighbourhood(lib: Library, focus: list[str]) -> dict:
    """The ``focus`` topics with their direct prerequisites and what they unlock."""
    g = lib.graph
    focus = [t for t in focus if t in g]
    drawn = set(focus)
    for t in focus:
        drawn |= set(g.predecessors(t)) | set(g.successors(t))
    names = {t: g.nodes[t]["name"] for t in drawn}
    order = focus + sorted(drawn - set(focus), key=names.get)
    # only the edges that touch a focus topic: the rest of the graph is another page's story
    edges = [[u, v, g.edges[u, v].get("reason") or ""] for u, v in g.subgraph(drawn).edges if u in focus or v in focus]
    return {"nodes": [{"id": t, "name": names[t], "state": "focus" if t in focus else "other"} for t in order],
            "edges": edges}


def topic(lib: Library, topic_id: str) -> dict:
    from ..query.browse import topic_detail

    detail = views.topic_json(topic_detail(lib, topic_id))
    return {"topic": detail, "graph": neighbourhood(lib, [detail["id"]])}


def item(lib: Library, item_id: str) -> dict:
    from ..query.browse import item_detail

    detail = views.item_json(item_detail(lib, item_id))
    series = list(detail.get("series_previous") or []) + list(detail.get("series_next") or [])
    titles = {i: row["title"] for i, row in lib.store.items_by_id(series).items()} if series else {}
    topic_ids = [t["id"] for t in detail.get("topic_edges") or []]
    return {"item": detail, "titles": titles, "graph": neighbourhood(lib, topic_ids)}


def related(lib: Library, text: str, **options) -> dict:
    from ..query.related import related as search

    return views.related_json(search(lib, text, **options))


def ask(lib: Library, question: str) -> dict:
    from ..query.ask import ask as answer

    return views.ask_json(answer(lib, question))
