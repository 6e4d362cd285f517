"""HTML from a page's data (``contexts``): Jinja2 templates with autoescaping, the graph drawn by
``svg``, and the stylesheet either linked (served pages) or inlined (a saved, self-contained file).

Templates read the dicts defensively (``.get`` with defaults): a field the views gain later is
ignored until a template shows it, and a field they lose leaves a gap, not an error.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from ..views import duration_text
from . import svg

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_FILES = ("aidlgraph.css", "aidlgraph.js")
URL = re.compile(r"<?(https?://[^\s<>\"]+[^\s<>\".,;:!?)\]])>?")


@functools.lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined)
    env.filters.update(duration=duration_text, time_range=time_range, linkify=linkify, medium=medium_label)
    return env


def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def time_range(step: dict) -> str:
    """A step's time: ``20–45 min`` when it has a range, ``~30 min`` for an estimate, else exact.

    >>> time_range({"minutes": 30, "estimated": True})
    '~30 min'
    >>> time_range({"minutes": 32.5, "minutes_low": 20, "minutes_high": 45})
    '20–45 min'
    >>> time_range({"minutes": 90, "minutes_low": 60, "minutes_high": 120})
    '1.0–2.0 h'
    """
    low, high = step.get("minutes_low"), step.get("minutes_high")
    if low and high and high > low:
        if high < 60:
            return f"{low:.0f}–{high:.0f} min"
        if low >= 60:
            return f"{low / 60:.1f}–{high / 60:.1f} h"
        return f"{duration_text(low)} – {duration_text(high)}"
    minutes = step.get("minutes") or 0
    return ("~" if step.get("estimated") else "") + duration_text(minutes)


def medium_label(step: dict) -> str:
    """What a reading is: its medium when known (``lecture``), else its kind (``resource``)."""
    return step.get("medium") or step.get("kind") or ""


def linkify(text: str):
    """Plain text with its ``http(s)://`` links (bare or in ``<...>``) made into anchors.

    >>> str(linkify("see <https://a.org/x>, then b & c"))
    'see <a href="https://a.org/x">https://a.org/x</a>, then b &amp; c'
    """
    from markupsafe import Markup, escape

    out, last = [], 0
    for m in URL.finditer(text or ""):
        out.append(escape(text[last:m.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(m.group(1)))
        last = m.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


def graph_svg(graph: dict, label: str, href) -> str:
    """The page's graph as SVG markup; ``href(node)`` gives a node's link or None."""
    from markupsafe import Markup

    nodes = []
    for n in graph.get("nodes") or []:
        node = dict(n)
        node["href"] = href(n)
        node["title"] = f"{n['name']} ({STATE_WORDS.get(n.get('state'), '')})".replace(" ()", "")
        nodes.append(node)
    edges = [tuple(e) for e in graph.get("edges") or []]
    return Markup(svg.layered_svg(nodes, edges, label=label))


STATE_WORDS = {"target": "the topic you asked for", "todo": "to learn", "known": "you know it",
               "skipped": "skipped: a topic you know builds on it", "focus": "this page's topic", "other": ""}


def page(name: str, context: dict, base: str = "", standalone: bool = False, status_note: str = "") -> str:
    """Render ``templates/NAME.html`` with ``context``; ``base`` prefixes every link to the server
    (the app's root path); ``standalone`` inlines the stylesheet and drops server-only links and
    scripts, for a page saved as one file."""
    env = environment()
    ctx = dict(context, base=base, standalone=standalone, state_words=STATE_WORDS, note=status_note)
    if standalone:
        ctx["inline_css"] = static_text("aidlgraph.css")
    ctx["graph_markup"] = _graph_for(name, context, base, standalone)
    return env.get_template(f"{name}.html").render(ctx)


def _graph_for(name: str, context: dict, base: str, standalone: bool):
    graph = context.get("graph")
    if not graph or not graph.get("nodes"):
        return ""
    if name == "path":
        planned = {g["topic_id"] for g in context.get("groups") or []}
        target = (context.get("target") or {}).get("name", "")

        def href(n):
            if n["id"] in planned:
                return f"#topic-{n['id']}"
            return None if standalone else f"{base}/topics/{n['id']}"

        return graph_svg(graph, f"Prerequisite graph of {target}: arrows point from a prerequisite to the topic "
                                "that needs it", href)
    return graph_svg(graph, "Where this sits in the prerequisite graph: arrows point from a prerequisite to the "
                            "topic that needs it", lambda n: f"{base}/topics/{n['id']}")
