"""Metacademy's concept graph (the ``graph_data.json`` Django fixture) as a corpus Batch.

Concepts become topics (id = the concept's tag), dependencies become prerequisite edges with
provenance ``imported``, and resources (``graph.globalresource`` joined through
``graph.conceptresource``) become items tagged to their concepts, one item per resource however
many concepts it serves. This module only parses; ``build.imports.import_metacademy`` decides
what the library already has and hands the rest to ingest.
"""
from __future__ import annotations

import ast
import json
import os
from collections import defaultdict
from pathlib import Path

from ..errors import InputError
from ..text import normalise_name
from . import read_text
from .model import Batch, Item, Prereq, Topic, medium_of

SOURCE = "Metacademy"
FREE = {"free": True, "paid": False}  # "reg" (free after signing up) stays unknown
HINT = "give the graph_data.json that Metacademy exports (a Django fixture list)"


def load_metacademy(path: str | os.PathLike) -> Batch:
    """Parse a Metacademy export into topics, prerequisites and items (no library needed).

    Parameters
    ----------
    path : path-like
        Metacademy's ``graph_data.json``.

    Returns
    -------
    Batch
        Topics sorted by id, prerequisites and items referring to topics by their names.

    Raises
    ------
    InputError
        When the file is not JSON, not a fixture list, or a record is missing what it needs.
    """
    return parse(path)[0]


def parse(path: str | os.PathLike) -> tuple[Batch, int]:
    """The batch and how many resources had no title to show (left out)."""
    path = Path(path)
    name = path.name
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}); {HINT}") from None
    if not isinstance(data, list) or not all(
            isinstance(r, dict) and isinstance(r.get("model"), str) and isinstance(r.get("fields"), dict) for r in data):
        raise InputError(f"{name}: not a list of {{\"model\", \"pk\", \"fields\"}} records; {HINT}")
    records: dict[str, list[dict]] = defaultdict(list)
    for r in data:
        records[r["model"]].append(r)
    if not records["graph.concept"]:
        raise InputError(f"{name}: has no graph.concept records; {HINT}")
    current = {}
    try:
        batch = Batch(origin=str(path.resolve()))
        concepts: dict[str, Topic] = {}
        for current in records["graph.concept"]:
            concepts[str(current["pk"])] = _topic(current["fields"])
        _check_unique(name, concepts.values())
        batch.topics = sorted(concepts.values(), key=lambda t: t.id)

        prereqs: dict[tuple[str, str], Prereq] = {}
        for current in records["graph.dependency"]:
            f = current["fields"]
            src, dst = _concept(name, concepts, f["source"], current), _concept(name, concepts, f["target"], current)
            prereqs.setdefault((src.id, dst.id), Prereq(src.name, dst.name, reason=(f.get("reason") or "").strip(),
                                                        source="imported", confidence=1.0))
        batch.prereqs = [prereqs[k] for k in sorted(prereqs)]

        resources = {str(r["pk"]): r["fields"] for r in records["graph.globalresource"]}
        locations: dict[str, list[dict]] = defaultdict(list)
        for current in records["graph.resourcelocation"]:
            locations[str(current["fields"]["cresource"])].append(current["fields"])
        uses: dict[str, list[tuple[Topic, bool, list[str]]]] = defaultdict(list)
        for current in sorted(records["graph.conceptresource"], key=lambda r: str(r["pk"])):
            f = current["fields"]
            topic = _concept(name, concepts, f["concept"], current)
            rid = str(f["global_resource"])
            if rid not in resources:
                raise InputError(f"{name}: graph.conceptresource {current['pk']} names unknown resource {rid!r}; {HINT}")
            locs = sorted(locations.get(str(current["pk"]), []), key=lambda l: (l.get("ordering") or 0))
            where = [_location(l) for l in locs]
            where += [f"note: {n}" for n in _pylist(f.get("notes"))]
            uses[rid].append((topic, bool(f.get("core")), [w for w in where if w]))
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        label = f"{current.get('model', 'record')} {current.get('pk', '')}".strip() if isinstance(current, dict) else "a record"
        raise InputError(f"{name}: {label} is malformed ({type(exc).__name__}: {exc}); {HINT}") from None

    items: dict[str, Item] = {}
    skipped = 0
    for rid in sorted(uses):
        item = _item(resources[rid], rid, uses[rid])
        if item is None:
            skipped += 1
            continue
        if item.id in items:  # two resource records for one url: one item, all their concepts
            first = items[item.id]
            first.topics += [t for t in item.topics if t not in first.topics]
            first.extra["core_for"] = sorted(set(first.extra["core_for"]) | set(item.extra["core_for"]))
            first.extra["locations"] = {**item.extra["locations"], **first.extra["locations"]}
            first.core = first.core or item.core
            lines = first.text.splitlines()
            first.text = "\n".join(lines + [l for l in item.text.splitlines() if l not in lines])
            continue
        items[item.id] = item
    batch.items = [items[k] for k in sorted(items)]
    return batch, skipped


# -- records -> corpus ------------------------------------------------------------------------
def _topic(f: dict) -> Topic:
    tag = str(f["tag"]).strip()
    if not tag:
        raise ValueError("a concept needs a tag")
    spaced = tag.replace("_", " ")
    title = str(f.get("title") or "").strip() or spaced  # one concept has only its tag
    hours = f.get("learn_time")
    return Topic(name=title, id=tag,
                 aliases=[spaced] if normalise_name(spaced) != normalise_name(title) else [],
                 description=(f.get("summary") or "").strip(),
                 minutes=round(float(hours) * 60, 1) if hours else None)


def _check_unique(name: str, topics) -> None:
    seen: dict[str, str] = {}
    for t in topics:
        for key in (t.id, normalise_name(t.name)):
            if key in seen and seen[key] != t.id:
                raise InputError(f"{name}: concepts {seen[key]!r} and {t.id!r} share the name {key!r}; {HINT}")
            seen[key] = t.id


def _concept(name: str, concepts: dict[str, Topic], pk, record: dict) -> Topic:
    topic = concepts.get(str(pk))
    if topic is None:
        raise InputError(f"{name}: {record.get('model')} {record.get('pk')} names unknown concept {pk!r}; {HINT}")
    return topic


def _item(f: dict, rid: str, uses: list[tuple[Topic, bool, list[str]]]) -> Item | None:
    title, url = (f.get("title") or "").strip(), (f.get("url") or "").strip()
    where = [w for _, _, ws in uses for w in ws]
    if not title:  # a few records hold only a location ("Section 9.5, ..."): that is the title
        first = next((w for w in where if not w.startswith("note:")), "")
        title, _, link = first.partition(" <")
        url = url or link.rstrip(">")
        if not title:
            return None
    uses = sorted(uses, key=lambda u: u[0].name)
    lines = [(f.get("description") or "").strip()]
    for topic, _, ws in uses:
        if ws:
            lines.append(f"{topic.name}: " + "; ".join(ws))
    year = f.get("year")
    return Item(
        title=title, kind="resource", url=url, text="\n".join(l for l in lines if l), source=SOURCE,
        date=str(year) if year else "", authors=_pylist(f.get("authors")),
        topics=[t.name for t, _, _ in uses], free=FREE.get(f.get("access") or ""),
        core=any(core for _, core, _ in uses),
        medium=medium_of(f.get("resource_type")),
        extra={"access": f.get("access") or "",
               "core_for": sorted(t.id for t, core, _ in uses if core), "metacademy_id": rid,
               # where in the resource each concept is taught ("Section 9.5"): a textbook is read
               # at several steps of a path, a different part at each
               "locations": {t.id: "; ".join(w for w in ws if not w.startswith("note:"))
                             for t, _, ws in uses if any(not w.startswith("note:") for w in ws)}},
    )


def _location(loc: dict) -> str:
    text, url = (loc.get("location_text") or "").strip(), (loc.get("url") or "").strip()
    return f"{text} <{url}>" if text and url else text


def _pylist(value) -> list[str]:
    """Metacademy stores lists as Python reprs (``"[u'S. Amari', u'S. C. Douglas']"``)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if not value or not isinstance(value, str):
        return []
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return [value.strip()]
    if isinstance(parsed, (list, tuple)):
        return [str(v).strip() for v in parsed if isinstance(v, str) and v.strip()]
    return [str(parsed).strip()] if str(parsed).strip() else []
