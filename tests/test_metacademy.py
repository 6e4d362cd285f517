"""Importing Metacademy's concept graph: parsing, the import's guarantees (re-import is a no-op,
curated edges and topics win), errors, and, on the real export, paths equal to Metacademy's own
learning plans (graph.targetgraph)."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import pytest
from click.testing import CliRunner

from aidlgraph.cli import cli
from aidlgraph.errors import InputError
from aidlgraph.build.imports import import_metacademy
from aidlgraph.corpus.metacademy import load_metacademy
from aidlgraph.build.bootstrap import create
from aidlgraph.library import Library
from aidlgraph.query.path import reading_path
from conftest import shared_or_skip


def concept(pk, tag, title, summary="", hours=1.0):
    return {"model": "graph.concept", "pk": pk, "fields": {"tag": tag, "title": title, "summary": summary,
                                                          "learn_time": hours, "tags": [], "is_shortcut": False}}


def dependency(src, dst, reason):
    return {"model": "graph.dependency", "pk": src + dst, "fields": {"source": src, "target": dst, "reason": reason}}


def resource(pk, title, url="", access="free", authors="[]", year=None, kind="", description=""):
    return {"model": "graph.globalresource", "pk": pk, "fields": {
        "title": title, "url": url, "access": access, "authors": authors, "year": year,
        "resource_type": kind, "description": description, "notes": "", "edition_years": "[]"}}


def uses(pk, concept_pk, resource_pk, core=True, notes=""):
    return {"model": "graph.conceptresource", "pk": pk, "fields": {
        "concept": concept_pk, "global_resource": resource_pk, "core": core, "ordering": -1, "notes": notes,
        "goals_covered": [], "edition": None, "additional_dependencies": "[]"}}


def location(pk, cr_pk, text, url=None):
    return {"model": "graph.resourcelocation", "pk": pk, "fields": {
        "cresource": cr_pk, "location_text": text, "url": url, "location_type": "sec", "ordering": 0}}


TINY = [
    {"model": "graph.tag", "pk": "math", "fields": {"title": "Math"}},
    concept("c1", "vectors", "vectors", "Arrows with a length and a direction.", 1.5),
    concept("c2", "dot_product", "dot product", "The sum of products of coordinates.", 0.5),
    concept("c3", "convolutional_nets", "convolutional neural nets", "Networks of shared filters.", 2.0),
    concept("c4", "least_mean_squares", ""),  # Metacademy has one concept with only its tag
    dependency("c1", "c2", "The dot product is defined on vectors."),
    dependency("c2", "c3", "A convolution is a sliding dot product."),
    resource("g1", "Khan Academy: Linear Algebra", "https://khan.example/la", authors="[u'Sal Khan']", year=2012,
             kind="online lectures", description="Short video lectures."),
    resource("g2", "Deep Learning", access="paid", authors="", kind="Textbook"),
    resource("g3", ""),
    resource("g4", "A forum thread", "https://forum.example/t/1", access="reg", kind="forum"),
    resource("g5", "Never used", "https://unused.example"),
    uses("r1", "c1", "g1", core=True),
    uses("r2", "c2", "g1", core=False, notes="[u'watch from 3:20']"),
    uses("r3", "c3", "g2", core=True),
    uses("r4", "c2", "g3", core=True),
    uses("r5", "c3", "g4", core=False),
    location("l1", "r1", 'Lecture "Vectors"', "https://khan.example/la/vectors"),
    location("l2", "r4", 'Section 2.1, "Inner products," pages 10-12', "https://book.example/ch2.pdf#page=10"),
    location("l3", "r3", "Chapter 9"),
]


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "graph_data.json"
    path.write_text(json.dumps(TINY))
    return path


def snapshot(lib):
    db = lib.store.db
    rows = [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("items", "topics", "edges", "vectors", "decisions")]
    return hashlib.sha1(repr(rows).encode()).hexdigest()


# -- parsing (no library, no model) ---------------------------------------------------------------
def test_concepts_become_topics(tiny):
    batch = load_metacademy(tiny)
    topics = {t.id: t for t in batch.topics}
    assert sorted(topics) == ["convolutional_nets", "dot_product", "least_mean_squares", "vectors"]
    cnn = topics["convolutional_nets"]
    assert cnn.name == "convolutional neural nets" and cnn.aliases == ["convolutional nets"]
    assert cnn.description == "Networks of shared filters." and cnn.minutes == 120.0
    assert topics["vectors"].aliases == [] and topics["vectors"].minutes == 90.0
    assert topics["least_mean_squares"].name == "least mean squares"


def test_dependencies_become_imported_prerequisites(tiny):
    batch = load_metacademy(tiny)
    got = {(p.src, p.dst): p for p in batch.prereqs}
    assert set(got) == {("vectors", "dot product"), ("dot product", "convolutional neural nets")}
    p = got[("vectors", "dot product")]
    assert p.source == "imported" and p.reason == "The dot product is defined on vectors."


def test_resources_become_items_one_per_resource(tiny):
    items = {i.title: i for i in load_metacademy(tiny).items}
    assert "Never used" not in items  # a resource no concept uses teaches nothing here
    khan = items["Khan Academy: Linear Algebra"]
    assert sorted(khan.topics) == ["dot product", "vectors"]  # one item, two topics
    assert khan.core and khan.extra["core_for"] == ["vectors"]
    assert khan.free is True and khan.authors == ["Sal Khan"] and khan.date == "2012"
    assert khan.source == "Metacademy" and khan.kind == "resource" and khan.url == "https://khan.example/la"
    assert khan.medium == "lecture"
    assert 'Lecture "Vectors" <https://khan.example/la/vectors>' in khan.text and "watch from 3:20" in khan.text
    book = items["Deep Learning"]
    assert book.free is False and book.authors == [] and book.medium == "book" and book.date == ""
    assert items["A forum thread"].free is None  # free after signing up: unknown
    # a resource with no title of its own is named by where it points
    section = items['Section 2.1, "Inner products," pages 10-12']
    assert section.url == "https://book.example/ch2.pdf#page=10" and section.topics == ["dot product"]


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("[{\"model\": ", "not valid JSON"),
    ("{\"model\": \"graph.concept\"}", "not a list of"),
    ("[1, 2]", "not a list of"),
    ("[{\"model\": \"graph.tag\", \"pk\": \"x\", \"fields\": {}}]", "no graph.concept records"),
    (json.dumps([concept("c1", "a", "A"), dependency("c1", "zz", "why")]), "names unknown concept 'zz'"),
    (json.dumps([{"model": "graph.concept", "pk": "c9", "fields": {"title": "no tag"}}]), "graph.concept c9 is malformed"),
    (json.dumps([concept("c1", "a", "A"), concept("c2", "b", "a")]), "share the name"),
])
def test_malformed_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "graph_data.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_metacademy(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(path) if message == "the file is empty" else "graph_data.json:")


def test_malformed_file_exits_1_and_leaves_the_library_unchanged(tmp_path):
    lib = Library.open(create(tmp_path / "lib", empty=True))
    before = snapshot(lib)
    bad = tmp_path / "graph_data.json"
    bad.write_text('[{"model": "graph.concept", "pk": "c1", "fields": {"tag": "a"}}, ')
    result = CliRunner().invoke(cli, ["import", "metacademy", str(bad), "--library", str(lib.path)])
    assert result.exit_code == 1
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: graph_data.json: not valid JSON")
    assert snapshot(lib) == before
    lib.close()


# -- importing into a library ---------------------------------------------------------------------
def test_import_reimport_and_curated_edges(empty_library, tiny):
    lib = empty_library
    result = CliRunner().invoke(cli, ["--library", str(lib.path), "import", "metacademy", str(tiny)])
    assert result.exit_code == 0, result.output
    assert "Metacademy: 4 concepts, 2 dependencies, 4 resources" in result.output
    store = lib.store
    assert len(store.topics()) == 4 and store.count_items() == {"resource": 4}
    edges = {(e["src"], e["dst"]): e for e in store.edges("prereq")}
    assert set(edges) == {("vectors", "dot_product"), ("dot_product", "convolutional_nets")}
    assert {e["source"] for e in edges.values()} == {"imported"}
    p = reading_path(lib, "convolutional nets")
    assert p.resolution.endswith("by alias") and p.topic_ids == ["vectors", "dot_product", "convolutional_nets"]

    # re-importing is a no-op: nothing new, nothing embedded, nothing changed
    before = snapshot(lib)
    report = import_metacademy(lib, tiny)
    assert (report.ingest.new, report.ingest.updated, report.ingest.embedded, report.ingest.topics_new) == (0, 0, 0, 0)
    assert snapshot(lib) == before

    # a curator's edge on an imported pair survives a re-import, reason and all
    with store.transaction():
        store.add_edges([{"src": "vectors", "dst": "dot_product", "kind": "prereq", "source": "curated",
                          "reason": "curator: dot products need vectors"}])
    report = import_metacademy(lib, tiny)
    assert report.kept_curated_edges == 1
    edge = {(e["src"], e["dst"]): e for e in store.edges("prereq")}[("vectors", "dot_product")]
    assert edge["source"] == "curated" and edge["reason"] == "curator: dot products need vectors"


def test_import_respects_the_curated_library(empty_library, tiny, tmp_path):
    """Topics the library already has keep their definition; imported edges join them; a pair a
    curator rejected is not imported."""
    from aidlgraph.build.ingest import ingest

    lib = empty_library
    curated = tmp_path / "topics.yaml"
    curated.write_text(
        "topics:\n"
        "  - id: vectors\n    name: vectors\n    description: Curated vectors.\n"
        "  - id: dot-product\n    name: dot product\n    description: Curated dot product.\n"
        "    prerequisites:\n      - topic: vectors\n        reason: curated reason\n"
        "  - id: least-squares\n    name: least mean squares\n    description: Curated LMS.\n")
    ingest(lib, [curated])
    lib.store.decide("dot-product", "convolutional_nets", "rejected", "not for this audience")
    report = import_metacademy(lib, tiny)
    topics = {t["id"]: t for t in lib.store.topics()}
    assert sorted(topics) == ["convolutional_nets", "dot-product", "least-squares", "vectors"]
    assert topics["vectors"]["description"] == "Curated vectors."
    assert topics["dot-product"]["description"] == "Curated dot product."
    edges = {(e["src"], e["dst"]): e for e in lib.store.edges("prereq")}
    assert set(edges) == {("vectors", "dot-product")}
    assert edges[("vectors", "dot-product")]["source"] == "curated"
    assert report.kept_curated_edges == 2
    about = {(e["src"], e["dst"]) for e in lib.store.edges("about")}
    khan = next(r for r in lib.store.items() if r["title"] == "Khan Academy: Linear Algebra")
    assert {(khan["id"], "vectors"), (khan["id"], "dot-product")} <= about


# -- the real export --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def metacademy(tmp_path_factory, model):
    """The real export, imported once into an empty library, and Metacademy's own records."""
    path = shared_or_skip("datasets/metacademy/graph_data.json")
    records = defaultdict(list)
    for r in json.loads(path.read_text()):
        records[r["model"]].append(r)
    lib = Library.open(create(tmp_path_factory.mktemp("metacademy") / "lib", empty=True))
    report = import_metacademy(lib, path)
    yield lib, records, report, path
    lib.close()


DEEP = ["convolutional_nets", "gp_classification_laplace", "variational_logistic_regression", "bayesian_pca",
        "hierarchical_dirichlet_process", "backpropagation", "markov_chain_monte_carlo", "vectors"]


@pytest.mark.slow
def test_full_import_counts(metacademy):
    lib, records, report, _ = metacademy
    assert len(lib.store.topics()) == len(records["graph.concept"]) == 487
    prereqs = lib.store.edges("prereq")
    assert len(prereqs) == len(records["graph.dependency"]) == 1208
    assert {e["source"] for e in prereqs} == {"imported"}
    used = {r["fields"]["global_resource"] for r in records["graph.conceptresource"]}
    assert 150 < lib.store.count_items()["resource"] <= len(used)
    assert report.ingest.embedded == lib.store.count_items()["resource"]


@pytest.mark.slow
@pytest.mark.parametrize("tag", DEEP)
def test_path_topics_are_metacademys_learning_plan(metacademy, tag):
    lib, records, _, _ = metacademy
    concepts = {r["pk"]: r["fields"] for r in records["graph.concept"]}
    target = next(r for r in records["graph.targetgraph"] if concepts[r["pk"]]["tag"] == tag)
    expected = {concepts[pk]["tag"] for pk in target["fields"]["concepts"]}
    title = concepts[target["pk"]]["title"]
    p = reading_path(lib, title)
    assert p.resolution.endswith("by name") and p.topic_ids[-1] == tag
    assert set(p.topic_ids) == expected and len(p.topic_ids) == len(expected)
    place = {t: i for i, t in enumerate(p.topic_ids)}
    deps = [(concepts[r["fields"]["source"]]["tag"], concepts[r["fields"]["target"]]["tag"])
            for r in records["graph.dependency"]]
    inside = [(a, b) for a, b in deps if a in place and b in place]
    assert all(place[a] < place[b] for a, b in inside)
    if tag == "convolutional_nets":
        assert title == "convolutional neural nets" and len(expected) == 18


@pytest.mark.slow
def test_path_json_via_cli(metacademy):
    lib, records, _, _ = metacademy
    concepts = {r["pk"]: r["fields"] for r in records["graph.concept"]}
    target = next(r for r in records["graph.targetgraph"] if concepts[r["pk"]]["tag"] == "convolutional_nets")
    result = CliRunner().invoke(cli, ["--library", str(lib.path), "path", "convolutional neural nets", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["topics"]) == {concepts[pk]["title"] for pk in target["fields"]["concepts"]}
    assert data["topics"][-1] == "convolutional neural nets"
    assert {s["topic"] for s in data["steps"]} == set(data["topics"])
    assert any(s["kind"] == "resource" for s in data["steps"])


@pytest.mark.slow
def test_full_reimport_is_a_noop_and_bad_file_changes_nothing(metacademy, tmp_path):
    lib, _, _, path = metacademy
    before = snapshot(lib)
    report = import_metacademy(lib, path)
    assert (report.ingest.new, report.ingest.updated, report.ingest.embedded, report.ingest.topics_new) == (0, 0, 0, 0)
    assert snapshot(lib) == before
    bad = tmp_path / "graph_data.json"
    bad.write_text(path.read_text()[:5000])  # cut short
    result = CliRunner().invoke(cli, ["--library", str(lib.path), "import", "metacademy", str(bad)])
    assert result.exit_code == 1
    assert [l for l in result.output.splitlines() if l.strip()] == [
        l for l in result.output.splitlines() if l.startswith("error: graph_data.json: not valid JSON")]
    assert snapshot(lib) == before
