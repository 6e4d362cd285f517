"""Looking around the library: one item or one topic with its neighbours, and the graph's health."""
from __future__ import annotations

from .. import graph as graphs
from ..corpus.limits import MAX_FIELD, cap_extra
from ..errors import NotFoundError
from ..library import Library

MAX_RELATED = 20  # related items shown with an item (an item can be the neighbour of thousands)


def item_detail(lib: Library, item_id: str) -> dict:
    """An item with its topics (and their provenance), series neighbours and related items; no
    bigger than ``show`` and ``/items/ID`` promise: text and title of at most MAX_FIELD characters,
    ``extra`` within ``limits.cap_extra``, MAX_RELATED related items (items stored before the
    loaders had these limits are cut here)."""
    row = lib.store.item(item_id.strip())
    if row is None:
        raise NotFoundError(f"no item with id {item_id!r}; find ids with `aidlgraph items` or `aidlgraph related`")
    topics = {t["id"]: t["name"] for t in lib.topics()}
    about = lib.store.item_topic_edges(row["id"])
    row["topic_edges"] = [{"id": d, "name": topics.get(d, d), "source": s, "confidence": c} for d, s, c in about]
    related = {}
    for e in lib.store.edges_of(row["id"], "similar"):
        other = e["dst"] if e["src"] == row["id"] else e["src"]
        related[other] = max(related.get(other, 0.0), e["confidence"])
    others = lib.store.items_by_id(list(related))
    row["related"] = sorted(({"id": i, "title": others[i]["title"][:MAX_FIELD], "kind": others[i]["kind"], "score": s}
                             for i, s in related.items() if i in others), key=lambda r: -r["score"])[:MAX_RELATED]
    row["extra"] = cap_extra(row.get("extra") or {})[0]
    row["title"], row["text"] = row["title"][:MAX_FIELD], (row.get("text") or "")[:MAX_FIELD]
    nxt = lib.store.edges_of(row["id"], "next")
    row["series_next"] = [e["dst"] for e in nxt if e["src"] == row["id"]]
    row["series_previous"] = [e["src"] for e in nxt if e["dst"] == row["id"]]
    row.pop("num", None)
    return row


KIND_ORDER = {"resource": 0, "post": 1, "question": 2, "news": 3, "issue": 4}


def topic_detail(lib: Library, topic: str) -> dict:
    """A topic (by id, or anything ``resolve_topic`` understands) with its description, its
    prerequisites and what it unlocks (each with the edge's reason and provenance), and the items
    about it: curated core readings first, then curated before inferred tags, resources first."""
    from .resolve import resolve_topic

    row = lib.store.topic(topic.strip())
    if row is None:
        row = lib.store.topic(resolve_topic(lib, topic).topic_id)
    g = lib.graph
    tid = row["id"]

    def edge(src: str, dst: str, other: str) -> dict:
        data = g.edges[src, dst]
        return {"id": other, "name": g.nodes[other]["name"], "reason": data.get("reason") or "",
                "source": data.get("source") or "", "confidence": data.get("confidence")}

    about = lib.store.items_about([tid])[tid]
    about.sort(key=lambda pair: (not pair[0]["core"], pair[1]["source"] == "inferred", -(pair[1]["confidence"] or 0.0),
                                 KIND_ORDER.get(pair[0]["kind"], 9), pair[0]["title"].lower()))
    items = [{"id": it["id"], "title": it["title"], "url": it.get("url") or "", "kind": it["kind"],
              "medium": it.get("medium") or "", "level": it.get("level") or "", "free": it.get("free"),
              "core": it["core"], "source": it.get("source") or "", "date": it.get("date") or "",
              "tag": e["source"], "confidence": e["confidence"]} for it, e in about]
    return {"id": tid, "name": row["name"], "aliases": row["aliases"], "description": row["description"],
            "minutes": row.get("minutes"),
            "prerequisites": sorted((edge(p, tid, p) for p in g.predecessors(tid)), key=lambda e: e["name"]) if tid in g else [],
            "unlocks": sorted((edge(tid, s, s) for s in g.successors(tid)), key=lambda e: e["name"]) if tid in g else [],
            "items": items}


def graph_report(lib: Library) -> dict:
    counts = lib.store.item_counts_by_topic()
    topic_ids = {t["id"] for t in lib.topics()}
    dangling = [(e["src"], e["dst"]) for e in lib.store.edges("prereq")
                if e["src"] not in topic_ids or e["dst"] not in topic_ids]
    return graphs.check(lib.graph, counts, dangling)
