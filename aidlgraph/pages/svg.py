"""A prerequisite graph drawn as a layered picture, in SVG, on the server (no script, no CDN).

The layout is Sugiyama's, kept small:

1. **Layers** from the DAG's topological generations, counted back from the sinks (networkx's
   ``topological_generations`` of the reversed graph), so each topic sits right above the first
   topic that needs it and the target of a path is alone at the bottom.
2. **Dummy nodes** on every layer an edge passes through, so long edges bend around the
   topics in between instead of crossing them.
3. **Order within layers** by the barycentre heuristic, swept down and up a few times; the
   order with the fewest edge crossings wins.
4. **Positions**: each node is pulled towards the mean position of its neighbours, then the
   layer is pushed apart so nothing overlaps.

Nodes are ``{"id", "name", "state"}`` dicts (``state`` is a CSS class: ``target``, ``todo``,
``known``, ``skipped``, ``focus``, ``other``) with an optional ``href``; edges are
``(src, dst, reason)``, ``src`` a prerequisite of ``dst``. The drawing's colours come from the
page's stylesheet (classes ``node``, ``edge`` and the states), so the picture follows the page.

Examples
--------
>>> svg = layered_svg([{"id": "a", "name": "algebra", "state": "todo"},
...                    {"id": "b", "name": "calculus", "state": "target"}],
...                   [("a", "b", "limits use algebra")], label="Prerequisites of calculus")
>>> svg.startswith("<svg") and "algebra" in svg and 'class="edge"' in svg
True
>>> layers({"a", "b", "c"}, [("a", "b"), ("b", "c"), ("a", "c")])
[['a'], ['b'], ['c']]
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import networkx as nx

CHAR_WIDTH = 7.2      # px per character at the 13px label font (an average sans-serif glyph)
BOLD = 1.12           # bold labels (the target, the focus) are this much wider
SHRINK = 0.8          # on a narrow screen the picture shrinks to this share of its size, then scrolls
BOLD_STATES = ("target", "focus")
LINE_HEIGHT = 16
PAD_X, PAD_Y = 10, 8
NODE_GAP = 18         # px between neighbouring nodes of a layer
LAYER_GAP = 46        # px between layers (room for the arrows)
MARGIN = 8
WRAP = 22             # characters per label line
MAX_LINES = 3
SWEEPS = 8


@dataclass
class Box:
    id: str
    lines: list[str]
    dummy: bool = False
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0  # centre
    y: float = 0.0  # top
    layer: int = 0
    up: list[str] = field(default_factory=list)    # neighbours on the layer above
    down: list[str] = field(default_factory=list)  # neighbours on the layer below


def wrap(text: str, width: int = WRAP, max_lines: int = MAX_LINES) -> list[str]:
    """``text`` in lines of at most ``width`` characters (words kept whole unless too long).

    >>> wrap("encoder-decoder upsampling architectures")
    ['encoder-decoder', 'upsampling', 'architectures']
    >>> wrap("a b c", 1, 2)
    ['a', 'b …']
    """
    lines: list[str] = []
    for word in text.split():
        while len(word) > width:
            lines.append(word[:width - 1] + "-")
            word = word[width - 1:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1] + " …"
    return lines or [""]


def layers(nodes: set[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """The layers, top first: topological generations counted back from the sinks."""
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    back = [sorted(gen) for gen in nx.topological_generations(g.reverse(copy=False))]
    return back[::-1]


def _crossings(order: list[list[str]], boxes: dict[str, Box]) -> int:
    total = 0
    for upper, lower in zip(order, order[1:]):
        pos = {n: i for i, n in enumerate(lower)}
        pairs = [(i, pos[d]) for i, n in enumerate(upper) for d in boxes[n].down]
        total += sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs))
                     if (pairs[a][0] - pairs[b][0]) * (pairs[a][1] - pairs[b][1]) < 0)
    return total


def _sweep(order: list[list[str]], boxes: dict[str, Box], downward: bool) -> list[list[str]]:
    order = [list(layer) for layer in order]
    indices = range(1, len(order)) if downward else range(len(order) - 2, -1, -1)
    for i in indices:
        ref = {n: k for k, n in enumerate(order[i - 1 if downward else i + 1])}

        def centre(n: str, current: int) -> float:
            nbrs = boxes[n].up if downward else boxes[n].down
            return sum(ref[m] for m in nbrs) / len(nbrs) if nbrs else current

        order[i] = [n for _, n in sorted(((centre(n, k), k), n) for k, n in enumerate(order[i]))]
    return order


def _order(order: list[list[str]], boxes: dict[str, Box]) -> list[list[str]]:
    best, best_cost = order, _crossings(order, boxes)
    for s in range(SWEEPS):
        order = _sweep(order, boxes, downward=s % 2 == 0)
        cost = _crossings(order, boxes)
        if cost < best_cost:
            best, best_cost = order, cost
    return best


def _place(order: list[list[str]], boxes: dict[str, Box]) -> None:
    """x centres: packed, then pulled towards the neighbours' mean and pushed apart again."""
    for layer in order:
        x = 0.0
        for n in layer:
            boxes[n].x = x + boxes[n].width / 2
            x += boxes[n].width + NODE_GAP
    for s in range(SWEEPS):
        downward = s % 2 == 0
        for layer in (order[1:] if downward else order[-2::-1]):
            for n in layer:
                nbrs = boxes[n].up if downward else boxes[n].down
                if nbrs:
                    boxes[n].x = sum(boxes[m].x for m in nbrs) / len(nbrs)
            _separate(layer, boxes)
    left = min(boxes[n].x - boxes[n].width / 2 for layer in order for n in layer)
    for b in boxes.values():
        b.x += MARGIN - left


def _separate(layer: list[str], boxes: dict[str, Box]) -> None:
    """Push a layer's nodes apart (keeping their order) with the least total movement of its
    centre: left to right, then the whole layer moved back by the mean push."""
    wanted = [boxes[n].x for n in layer]
    for a, b in zip(layer, layer[1:]):
        least = boxes[a].x + (boxes[a].width + boxes[b].width) / 2 + NODE_GAP
        if boxes[b].x < least:
            boxes[b].x = least
    shift = sum(boxes[n].x - w for n, w in zip(layer, wanted)) / max(1, len(layer))
    for n in layer:
        boxes[n].x -= shift


def layout(nodes: list[dict], edges: list[tuple[str, str]]) -> tuple[dict[str, Box], list[tuple[str, ...]], float, float]:
    """Boxes with positions, each edge's chain of box ids (through its dummies), and the size."""
    ids = [n["id"] for n in nodes]
    present = set(ids)
    edges = [(u, v) for u, v in edges if u in present and v in present and u != v]
    boxes = {n["id"]: Box(n["id"], wrap(n["name"])) for n in nodes}
    bold = {n["id"] for n in nodes if n.get("state") in BOLD_STATES}
    rank = {n: i for i, layer in enumerate(layers(present, edges)) for n in layer}
    first_seen = {n: i for i, n in enumerate(ids)}
    order: list[list[str]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    chains = []
    for u, v in edges:
        chain = [u]
        for r in range(rank[u] + 1, rank[v]):
            d = f"\0{u}\0{v}\0{r}"
            boxes[d] = Box(d, [], dummy=True)
            rank[d] = r
            chain.append(d)
        chain.append(v)
        for a, b in zip(chain, chain[1:]):
            boxes[a].down.append(b)
            boxes[b].up.append(a)
        chains.append(tuple(chain))
    for n in sorted(rank, key=lambda n: (first_seen.get(n, len(ids)), n)):
        order[rank[n]].append(n)
    for b in boxes.values():
        b.layer = rank[b.id]
        char = CHAR_WIDTH * (BOLD if b.id in bold else 1.0)
        b.width = 2.0 if b.dummy else max(80.0, char * (max(len(s) for s in b.lines) + 2) + 2 * PAD_X)
        b.height = 0.0 if b.dummy else LINE_HEIGHT * len(b.lines) + 2 * PAD_Y
    heights = [max((boxes[n].height for n in layer), default=0.0) or LINE_HEIGHT for layer in order]
    y = MARGIN
    tops = []
    for h in heights:
        tops.append(y)
        y += h + LAYER_GAP
    order = _order(order, boxes)
    _place(order, boxes)
    for layer, top, h in zip(order, tops, heights):
        for n in layer:
            boxes[n].y = top + (h - boxes[n].height) / 2
    width = max((b.x + b.width / 2 for b in boxes.values()), default=0.0) + MARGIN
    height = y - LAYER_GAP + MARGIN if order else 2 * MARGIN
    return boxes, chains, width, height


def _edge_path(chain: tuple[str, ...], boxes: dict[str, Box]) -> str:
    first, last = boxes[chain[0]], boxes[chain[-1]]
    points = [(first.x, first.y + first.height)]
    points += [(boxes[d].x, boxes[d].y) for d in chain[1:-1]]
    points.append((last.x, last.y - 3))  # the arrowhead's tip touches the box
    d = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        mid = (y0 + y1) / 2
        d += f" C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}"
    return d


def layered_svg(nodes: list[dict], edges: list[tuple[str, str, str]], label: str, id_prefix: str = "g") -> str:
    """The graph as one ``<svg>`` element (see the module docstring for the inputs)."""
    esc = html.escape
    boxes, chains, width, height = layout(nodes, [(u, v) for u, v, _ in edges])
    reasons = {(u, v): r for u, v, r in edges}
    names = {n["id"]: n["name"] for n in nodes}
    state = {n["id"]: n.get("state", "other") for n in nodes}
    arrow = f"{id_prefix}-arrow"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {math.ceil(width)} {math.ceil(height)}" '
           f'width="{math.ceil(width)}" height="{math.ceil(height)}" role="group" aria-label="{esc(label)}" '
           f'style="width: max({SHRINK * width:.0f}px, min({math.ceil(width)}px, 100%))">',
           f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>']
    for chain in chains:
        u, v = chain[0], chain[-1]
        faded = " faded" if state[u] in ("known", "skipped") else ""
        why = reasons.get((u, v)) or ""
        tip = f"{names[u]} comes before {names[v]}" + (f": {why}" if why else "")
        out.append(f'<path class="edge{faded}" d="{_edge_path(chain, boxes)}" marker-end="url(#{arrow})">'
                   f"<title>{esc(tip)}</title></path>")
    for n in nodes:
        b = boxes[n["id"]]
        cls = esc(state[n["id"]])
        shown = ("✓ " if state[n["id"]] == "known" else "")
        left, top = b.x - b.width / 2, b.y
        text = "".join(f'<tspan x="{b.x:.1f}" y="{top + PAD_Y + LINE_HEIGHT * (i + 0.75):.1f}">'
                       f"{esc((shown if i == 0 else '') + line)}</tspan>" for i, line in enumerate(b.lines))
        node = (f'<rect x="{left:.1f}" y="{top:.1f}" width="{b.width:.1f}" height="{b.height:.1f}" rx="6"/>'
                f'<text text-anchor="middle">{text}</text>')
        title = n.get("title") or n["name"]
        if n.get("href"):
            out.append(f'<a class="node {cls}" href="{esc(n["href"])}" data-topic="{esc(n["id"])}" '
                       f'aria-label="{esc(title)}"><title>{esc(title)}</title>{node}</a>')
        else:
            out.append(f'<g class="node {cls}" data-topic="{esc(n["id"])}"><title>{esc(title)}</title>{node}</g>')
    out.append("</svg>")
    return "".join(out)
