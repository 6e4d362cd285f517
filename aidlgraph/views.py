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
    low, high = result.minutes_range
    return {"query": result.query, "topic": result.topic, "topic_id": result.topic_id, "resolved": result.resolution,
            "confidence": round(result.confidence, 4), "level": result.level,
            "minutes": round(result.minutes), "minutes_low": round(low), "minutes_high": round(high),
            "topics": result.topics, "known": result.skipped_known, "ignored_known": result.ignored_known,
            "steps": [asdict(s) for s in result.steps]}


def unresolved_json(query: str, exc) -> dict:
    """``aidlgraph path Q --json`` when Q names no topic (or could name several): no path, the
    closest topics (``candidates``) and, when it names none, the items nearest the query."""
    from .errors import AmbiguousTopicError

    return {"query": query, "topic": None, "error": str(exc),
            "ambiguous": isinstance(exc, AmbiguousTopicError), "candidates": list(exc.suggestions),
            "related": list(exc.related), "steps": []}


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


def source_line(s: dict) -> str:
    """"[1] Title (AIDL Weekly Issue 3, 2017) <url>": a piece of writing with where and when it
    appeared; a resource with its own year (not its list's) and the list that gave it."""
    title, date, source = s["title"], s.get("date") or "", s.get("source") or ""
    if s.get("kind") == "resource":
        title = title if not date or date in title else f"{title}, {date}"
        where = source if source != s["title"] else ""
    else:
        where = ", ".join(x for x in (source, date) if x and x != s["title"])
    number = f"[{s['n']}] " if s.get("n") else "- "
    return number + title + (f" ({where})" if where else "") + (f" <{s['url']}>" if s.get("url") else "")


def answer_text(result: dict, show_ids: bool = True) -> str:
    """An answer as a member reads it: the stated answer, its numbered sources, what to read
    next; or a plain "I don't know" with why and where to look instead."""
    if not result["answered"]:
        lines = ["I don't know: the archive does not answer that."]
        why = result.get("why") or ""
        if why.startswith("the archive does not say") or "archive ends in" in why:
            lines[0] = f"I don't know: {why}."
        if result.get("suggestions"):
            lines.append("Nearest topics: " + ", ".join(result["suggestions"]))
        return "\n".join(lines)
    cited = [s for s in result["sources"] if s.get("role", "answer") == "answer"]
    more = [s for s in result["sources"] if s.get("role") == "read more"]
    lines = [result["answer"], "", "Sources:"]
    lines += ["  " + source_line(s) + (f"  (id {s['id']})" if show_ids else "") for s in cited]
    if more:
        lines += ["", "To read more:"] + ["  " + source_line(s) + (f"  (id {s['id']})" if show_ids else "") for s in more]
    return "\n".join(lines)


# -- looking around ------------------------------------------------------------------------------
def stats_json(lib) -> dict:
    return {"items": lib.store.count_items(), "topics": len(lib.topics()), "edges": lib.store.count_edges(),
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
            for t in lib.topics()]


def topic_json(detail: dict) -> dict:
    """One topic with its prerequisites, what it unlocks and its items: ``topic_detail()``'s shape."""
    return detail


def graph_check_json(report: dict) -> dict:
    """``aidlgraph graph check --json``: ``graph_report()`` returns this shape already."""
    return report


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


def health_error_json(path, generation: str | None, reason: str) -> dict:
    """``/healthz`` when the library cannot even be counted: status ``error`` and why."""
    return {"status": "error", "reason": reason, "library": str(path), "generation": generation}


def ingest_json(report, generation: str | None = None) -> dict:
    out = {k: v for k, v in vars(report).items() if k != "duplicates"}
    out["seconds"] = round(report.seconds, 3)
    out["duplicates"] = [{"a": a, "b": b, "score": round(s, 4)} for a, b, s in report.duplicates]
    return {"summary": report.summary(), "report": out, "generation": generation}


# -- text renderings -----------------------------------------------------------------------------
def duration_text(minutes: float) -> str:
    """``45 min``, ``1.5 h``, ``2 h``, ``30 h``."""
    if minutes < 60:
        return f"{minutes:.0f} min"
    return f"{_hours(minutes)} h"


def _hours(minutes: float) -> str:
    hours = minutes / 60
    return f"{hours:.0f}" if hours >= 10 or abs(hours - round(hours)) < 0.05 else f"{hours:.1f}"


def range_text(low: float, high: float) -> str:
    """A time range in the unit of its larger end: ``10-25 min``, ``1-2 h``, ``30 min-1.5 h``.

    >>> range_text(20, 60), range_text(60, 120), range_text(30, 90), range_text(600, 3000)
    ('20-60 min', '1-2 h', '30 min-1.5 h', '10-50 h')
    """
    if round(low) == round(high):
        return duration_text(low)
    if high <= 60:
        return f"{low:.0f}-{high:.0f} min"
    if low >= 60:
        return f"{_hours(low)}-{_hours(high)} h"
    return f"{duration_text(low)}-{duration_text(high)}"


def path_text(p) -> str:
    lines = [p.resolution, f"Reading path to {p.topic}: {len(p.topics)} topics, {len(p.steps)} steps, "
             f"{time_summary(p)}"]
    if p.skipped_known:
        lines.append(f"skipping what you know: {', '.join(p.skipped_known)}")
    if p.ignored_known:
        lines.append(f"not in the library, so not counted as known: {', '.join(p.ignored_known)}")
    current = None
    for s in p.steps:
        if s.topic != current:
            lines.append("")
            lines.append(f"## {s.topic}")
            current = s.topic
        what = [s.medium or s.kind] if s.kind != "topic" else []
        if s.level:
            what.append(s.level)
        if s.free is False:
            what.append("paid")
        if s.minutes_high:
            what.append(("~" if s.estimated else "") + range_text(s.minutes_low, s.minutes_high))
        lines.append(f"{s.position:>3}. {s.title}" + (f" ({', '.join(what)})" if what else ""))
        if s.url:
            lines.append(f"     {s.url}")
        if s.kind == "topic":
            lines.append(f"     {s.note}" + (f": {s.text}" if s.text else ""))
        lines.append(f"     why: {s.reason}")
    return "\n".join(lines)


def time_summary(p) -> str:
    """"about 3-6 h of reading, plus 2 topics to learn elsewhere"."""
    low, high = p.minutes_range
    bare = sum(1 for s in p.steps if s.kind == "topic" and not s.minutes_high)
    text = f"about {range_text(low, high)} of reading" if high else "no reading in the library yet"
    if bare and high:
        text += f", plus {bare} topic{'s' if bare > 1 else ''} with no reading in the library"
    return text


def unresolved_text(query: str, exc) -> str:
    """What a learner reads when a query names no topic, or could name several."""
    from .errors import AmbiguousTopicError

    if isinstance(exc, AmbiguousTopicError):
        return "Did you mean: " + "; ".join(f'aidlgraph path "{n}"' for n in exc.suggestions) + "?"
    lines = [f'The library has no topic for "{query}".']
    if exc.suggestions:
        lines.append("Closest topics: " + ", ".join(exc.suggestions))
    if exc.related:
        lines.append("Closest items:")
        lines += [f"  - {r['title']}" + (f" <{r['url']}>" if r.get("url") else "") for r in exc.related]
    return "\n".join(lines)


def path_markdown(p) -> str:
    lines = [f"### Reading path: {p.topic}", "",
             f"*{len(p.topics)} topics, {time_summary(p)} (estimate).*", ""]
    for s in p.steps:
        title = f"[{s.title}]({s.url})" if s.url else s.title
        if s.kind == "topic":
            title = f"**{s.title}** (topic; {s.note})" + (f": {s.text}" if s.text else "")
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
