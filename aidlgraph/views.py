"""What every command shows: one function per ``--json`` shape (DESIGN.md), and the text
renderings the CLI and the bot share. The CLI prints these, the server returns them and the bot
reads them, so "the server returns the CLI's ``--json``" holds by construction.

Query modules return data; nothing here computes anything the library does not already know.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from . import graph as graphs


def dumps(data: Any, indent: int | None = None) -> str:
    """The JSON text of a view (UTF-8 kept as is; dates and paths as strings)."""
    return json.dumps(data, indent=indent, ensure_ascii=False, default=str)


# -- the three questions -------------------------------------------------------------------------
def path_json(result) -> dict:
    """``aidlgraph path Q --json``."""
    return {"query": result.query, "topic": result.topic, "resolved": result.resolution,
            "minutes": round(result.minutes), "topics": result.topics,
            "steps": [asdict(s) for s in result.steps]}


def related_json(result: dict) -> dict:
    """``aidlgraph related TEXT --json``: ``related()`` returns this shape already."""
    return result


def covered_json(result: dict) -> dict:
    """``aidlgraph dupes --file DRAFT --json``: each part of the draft and the past item that
    already covers it (or null), from a ``related()`` result."""
    parts = [{"part": p["part"], "excerpt": p["excerpt"], "covered": p.get("covered")} for p in result["parts"]]
    return {"parts": parts, "covered": sum(1 for p in parts if p["covered"])}


def dupes_json(pairs: list[dict]) -> list[dict]:
    """``aidlgraph dupes --json``: ``duplicates()`` returns this shape already."""
    return pairs


def ask_json(result: dict) -> dict:
    """``aidlgraph ask Q --json``: ``ask()`` returns this shape already."""
    return result


# -- looking around ------------------------------------------------------------------------------
def stats_json(lib) -> dict:
    return {"items": lib.store.count_items(), "topics": len(lib.store.topics()), "edges": lib.store.count_edges(),
            "model": lib.model, "dim": lib.dim, "library": str(lib.path)}


def item_summary(row: dict) -> dict:
    """One row of ``aidlgraph items --json``."""
    return {"id": row["id"], "title": row["title"], "url": row.get("url") or "", "kind": row["kind"],
            "source": row.get("source") or "", "topics": row.get("topics", [])}


def items_json(rows: list[dict]) -> list[dict]:
    return [item_summary(r) for r in rows]


def item_json(detail: dict) -> dict:
    """``aidlgraph show ID --json``: ``item_detail()`` returns this shape already."""
    return detail


def topics_json(lib) -> list[dict]:
    """``aidlgraph topics --json``: each topic with the names of its prerequisites."""
    g = lib.graph
    return [{"id": t["id"], "name": t["name"], "aliases": t["aliases"],
             "prerequisites": sorted(g.nodes[p]["name"] for p in g.predecessors(t["id"])) if t["id"] in g else []}
            for t in lib.store.topics()]


def suggestions_json(found) -> list[dict]:
    return [s.to_json() for s in found]


def check_json(report: dict, repaired: list[str]) -> dict:
    return {**report, "repaired": repaired}


def health_json(lib, generation: str | None, status: str = "ok", reason: str = "") -> dict:
    counts = lib.store.count_items()
    out = {"status": status, "items": sum(counts.values()), "kinds": counts, "model": lib.model, "dim": lib.dim,
           "library": str(lib.path), "generation": generation}
    if reason:
        out["reason"] = reason
    return out


def ingest_json(report, generation: str | None = None) -> dict:
    out = {k: v for k, v in vars(report).items() if k != "duplicates"}
    out["seconds"] = round(report.seconds, 3)
    out["duplicates"] = [{"a": a, "b": b, "score": round(s, 4)} for a, b, s in report.duplicates]
    return {"summary": report.summary(), "report": out, "generation": generation}


# -- text renderings -----------------------------------------------------------------------------
def duration_text(minutes: float) -> str:
    """``45 min``, ``1.5 h``."""
    if minutes < 60:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def path_text(p) -> str:
    lines = [p.resolution, f"Reading path to {p.topic}: {len(p.topics)} topics, {len(p.steps)} steps, "
             f"about {duration_text(p.minutes)} (estimate)"]
    if p.skipped_known:
        lines.append(f"skipping what you know: {', '.join(p.skipped_known)}")
    current = None
    for s in p.steps:
        if s.topic != current:
            lines.append("")
            lines.append(f"## {s.topic}")
            current = s.topic
        tag = "" if s.kind == "topic" else f" [{s.kind}]"
        extras = []
        if s.free is False:
            extras.append("paid")
        extras.append(("~" if s.estimated else "") + duration_text(s.minutes))
        lines.append(f"{s.position:>3}. {s.title}{tag} ({', '.join(extras)})")
        if s.url:
            lines.append(f"     {s.url}")
        if s.kind == "topic" and s.text:
            lines.append(f"     {s.text}")
        lines.append(f"     why: {s.reason}")
    return "\n".join(lines)


def path_markdown(p) -> str:
    lines = [f"### Reading path: {p.topic}", "",
             f"*{len(p.topics)} topics, about {duration_text(p.minutes)} of reading (estimate).*", ""]
    for s in p.steps:
        title = f"[{s.title}]({s.url})" if s.url else s.title
        if s.kind == "topic":
            title = f"**{s.title}** (topic)" + (f": {s.text}" if s.text else "")
        lines.append(f"{s.position}. {title} — {s.topic}. _{s.reason}_")
    return "\n".join(lines)


def related_text(result: dict) -> str:
    """``aidlgraph related``: the results, grouped by the part of the draft they answer when the
    draft has several; a part the archive already covers says so first; an empty answer says
    why."""
    parts = result.get("parts") or []
    if not result["results"]:
        return result.get("note") or "nothing close in the archive"
    if len(parts) <= 1:
        lines = [_covered_line(parts[0]["covered"])] if parts and parts[0].get("covered") else []
        return "\n".join(lines + [line for n, r in enumerate(result["results"], 1) for line in _result_lines(n, r)])
    lines: list[str] = []
    for p in parts:
        lines.append(f"Part {p['part']} of {len(parts)}: {p['excerpt']}")
        if p.get("covered"):
            lines.append("  " + _covered_line(p["covered"]))
        mine = [r for r in result["results"] if r["part"] == p["part"]]
        if not mine:
            lines.append("  " + (p.get("note") or "(its matches are listed under another part)"))
        for n, r in enumerate(mine, 1):
            lines += ["  " + line for line in _result_lines(n, r)]
        lines.append("")
    return "\n".join(lines).rstrip()


def _result_lines(n: int, r: dict) -> list[str]:
    dup = f"  (near-duplicate of {r['duplicate_of']})" if r.get("duplicate_of") else ""
    where = "; ".join(x for x in (r["kind"], r.get("appeared_in") or r["source"]) if x)
    lines = [f"{n:>2}. {r['title']}  [{where}]  score {r['score']:.3f}{dup}"]
    if r["url"]:
        lines.append(f"    {r['url']}")
    lines.append(f"    id {r['id']}; why: {r['why']}")
    return lines


def _covered_line(c: dict) -> str:
    where = f" ({c['appeared_in']})" if c.get("appeared_in") else ""
    return f"ALREADY COVERED by \"{c['title']}\"{where}: {c['how']}, meaning similarity {c['similarity']:.2f}"


def covered_text(view: dict) -> str:
    """``aidlgraph dupes --file DRAFT``: one line a part, covered or new."""
    lines = []
    for p in view["parts"]:
        state = _covered_line(p["covered"]) if p["covered"] else "new: nothing in the archive repeats it"
        lines.append(f"part {p['part']}: {p['excerpt']}\n    {state}")
    return "\n".join(lines)


DUPE_HEADINGS = {"duplicate": "Duplicates (the same resource or story twice)",
                 "same issue": "Overlaps within one issue or post (not duplicates)",
                 "series": "Parts of one series (not duplicates)",
                 "different links": "Close in meaning, different links (maybe different resources)"}


def dupes_text(pairs: list[dict]) -> str:
    """``aidlgraph dupes``: the pairs grouped by what relates them."""
    lines: list[str] = []
    for relation, heading in DUPE_HEADINGS.items():
        group = [p for p in pairs if p["relation"] == relation]
        if not group:
            continue
        lines.append(f"{heading}: {len(group)}")
        for p in group:
            lines.append(f"  {p['score']:.2f}  {p['a']['title'][:60]} ({p['a']['appeared_in'] or p['a']['id']})")
            lines.append(f"        ~ {p['b']['title'][:60]} ({p['b']['appeared_in'] or p['b']['id']})")
        lines.append("")
    return "\n".join(lines).rstrip()


def path_mermaid(lib, p) -> str:
    return graphs.mermaid(lib.graph, p.topic_ids)
