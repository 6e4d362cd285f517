"""The prerequisite graph's algorithms on tiny hand-drawn graphs: plan order, --known, depth,
cycles, exports."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from aidlgraph import graph as graphs
from aidlgraph.errors import AidlgraphError, CycleError


def drawn(edges: str, reasons: dict | None = None) -> nx.DiGraph:
    """A graph from "a>b b>c" (a before b, b before c); names are the ids in capitals."""
    pairs = [tuple(e.split(">")) for e in edges.split()]
    nodes = sorted({n for p in pairs for n in p})
    topics = [{"id": n, "name": n.upper(), "description": f"about {n}"} for n in nodes]
    rows = [{"src": a, "dst": b, "reason": (reasons or {}).get((a, b), f"{b} uses {a}")} for a, b in pairs]
    return graphs.build(topics, rows)


def is_prerequisite_order(g: nx.DiGraph, order: list[str]) -> bool:
    place = {n: i for i, n in enumerate(order)}
    return all(place[a] < place[b] for a, b in g.edges if a in place and b in place)


# -- plan ---------------------------------------------------------------------------------------
def test_plan_puts_every_prerequisite_before_what_needs_it():
    #  algebra > calculus > backprop < python ; calculus > probability > backprop
    g = drawn("algebra>calculus calculus>backprop python>backprop calculus>probability probability>backprop")
    order = graphs.plan(g, "backprop")
    assert set(order) == {"algebra", "calculus", "python", "probability", "backprop"}
    assert order[-1] == "backprop"
    assert is_prerequisite_order(g, order)


def test_plan_is_depth_first_foundations_first():
    # the branch with the longest chain behind it comes first, each prerequisite right before
    # what needs it (Metacademy's order), not all roots first
    g = drawn("a>b b>c c>t x>t")
    assert graphs.plan(g, "t") == ["a", "b", "c", "x", "t"]


def test_plan_of_a_root_is_itself():
    g = drawn("a>b")
    assert graphs.plan(g, "a") == ["a"]


def test_plan_leaves_out_what_does_not_lead_to_the_target():
    g = drawn("a>b b>c z>y")
    assert graphs.plan(g, "b") == ["a", "b"]


def test_knowing_a_topic_means_knowing_what_it_rests_on():
    #  a > b > d ; c > d ; a > c    (a is behind b, and also behind c)
    #  e > b                         (e is only behind b)
    # As Metacademy counts a learning plan: whoever knows b knows a and e, so c is all that is left.
    g = drawn("a>b b>d c>d e>b a>c")
    order = graphs.plan(g, "d", known=["b"])
    assert order == ["c", "d"]


def test_known_target_is_still_planned_alone():
    g = drawn("a>b")
    assert graphs.plan(g, "b", known=["b"]) == ["b"]


def test_depth_caps_the_hops_back():
    g = drawn("a>b b>c c>d")
    assert graphs.plan(g, "d", depth=0) == ["d"]
    assert graphs.plan(g, "d", depth=1) == ["c", "d"]
    assert graphs.plan(g, "d", depth=2) == ["b", "c", "d"]
    assert graphs.plan(g, "d", depth=9) == ["a", "b", "c", "d"]


def test_depth_counts_the_shortest_way_back():
    #  z > y > x > t  and  y > t : y is one hop from t, so z is two
    g = drawn("z>y y>x x>t y>t")
    assert set(graphs.plan(g, "t", depth=2)) == {"x", "y", "z", "t"}


def test_plan_of_unknown_topic_is_an_error():
    with pytest.raises(AidlgraphError, match="unknown topic"):
        graphs.plan(drawn("a>b"), "nope")


# -- cycles -------------------------------------------------------------------------------------
def test_find_cycle_names_the_loop_in_order():
    g = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    cycle = graphs.find_cycle(g)
    assert sorted(cycle) == ["a", "b", "c"]
    # consecutive members are edges, and the last leads back to the first
    assert all(g.has_edge(u, v) for u, v in zip(cycle, cycle[1:] + cycle[:1]))


def test_acyclic_graph_has_no_cycle():
    assert graphs.find_cycle(drawn("a>b b>c a>c")) is None
    graphs.require_acyclic(drawn("a>b b>c a>c"))


def test_require_acyclic_raises_with_topic_names():
    g = drawn("a>b b>c c>a")
    with pytest.raises(CycleError) as err:
        graphs.require_acyclic(g)
    assert sorted(err.value.cycle) == ["A", "B", "C"]
    message = str(err.value)
    assert "prerequisite cycle" in message and "\n" not in message
    loop = message.split(": ", 1)[1].split(";")[0].split(" -> ")
    assert loop[0] == loop[-1] and sorted(loop[:-1]) == ["A", "B", "C"]


def test_build_ignores_edges_to_missing_topics():
    g = graphs.build([{"id": "a", "name": "A"}], [{"src": "a", "dst": "gone"}])
    assert list(g.nodes) == ["a"] and g.number_of_edges() == 0


# -- neighbourhood and check --------------------------------------------------------------------
def test_neighbourhood_is_prerequisites_and_what_builds_on_it():
    g = drawn("a>b b>c c>d x>y")
    assert set(graphs.neighbourhood(g, "b").nodes) == {"a", "b", "c", "d"}


def test_check_reports_cycles_dangling_edges_and_empty_topics():
    g = drawn("a>b b>a c>b")
    report = graphs.check(g, {"a": 2}, [("b", "gone")])
    assert sorted(report["cycle"]) == ["A", "B"]
    assert report["dangling"] == [["b", "gone"]]
    assert report["topics_without_items"] == ["B", "C"]
    assert report["topics"] == 3 and report["prereq_edges"] == 3


# -- exports ------------------------------------------------------------------------------------
TRICKY = {("a", "b"): 'b says "hi" \\ back', ("b", "c"): "plain"}


def test_export_json_round_trips():
    g = drawn("a>b b>c", TRICKY)
    back = nx.node_link_graph(json.loads(graphs.export(g, "json")), edges="edges")
    assert set(back.nodes) == {"a", "b", "c"} and set(back.edges) == {("a", "b"), ("b", "c")}
    assert back.nodes["a"]["name"] == "A"
    assert back.edges["a", "b"]["reason"] == TRICKY[("a", "b")]


def test_export_graphml_parses():
    g = drawn("a>b b>c", TRICKY)
    back = nx.parse_graphml(graphs.export(g, "graphml"))
    assert set(back.nodes) == {"a", "b", "c"} and set(back.edges) == {("a", "b"), ("b", "c")}
    assert back.nodes["b"]["name"] == "B" and back.edges["a", "b"]["reason"] == TRICKY[("a", "b")]
    ET.fromstring(graphs.export(g, "graphml"))  # well-formed XML


def test_export_dot_names_nodes_and_escapes_quotes():
    text = graphs.export(drawn("a>b b>c", TRICKY), "dot")
    assert text.startswith("digraph prerequisites {") and text.rstrip().endswith("}")
    assert '"a" [label="A"];' in text and '"a" -> "b"' in text and '"b" -> "c"' in text
    assert 'b says \\"hi\\" \\\\ back' in text  # quote and backslash escaped
    assert text.count("{") == text.count("}")


def test_export_mermaid_has_every_node_and_edge():
    text = graphs.export(drawn("a>b b>c"), "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    ids = {line.split("[")[0].strip(): line.split('"')[1] for line in lines if "[" in line}
    assert sorted(ids.values()) == ["A", "B", "C"]
    by_name = {name: node for node, name in ids.items()}
    assert f"  {by_name['A']} --> {by_name['B']}" in lines and f"  {by_name['B']} --> {by_name['C']}" in lines


def test_mermaid_restricted_to_a_path_keeps_its_order():
    g = drawn("a>b b>c x>c")
    text = graphs.mermaid(g, ["b", "c"])
    assert '["A"]' not in text and '["X"]' not in text
    assert text.splitlines()[1:3] == ['  t0["B"]', '  t1["C"]'] and "  t0 --> t1" in text


def test_export_unknown_format_is_an_error():
    with pytest.raises(AidlgraphError, match="graphml, json, dot or mermaid"):
        graphs.export(drawn("a>b"), "png")
