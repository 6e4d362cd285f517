"""The web pages over HTTP on the mini library: a browser gets pages, a program the same JSON as
before; the pages are valid HTML, load nothing from another host, escape what users type, and
show what the library's queries return. (tests/test_web_browser.py drives a real browser.)"""
from __future__ import annotations

import re
import urllib.parse

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
html5lib = pytest.importorskip("html5lib")

from fastapi.testclient import TestClient  # noqa: E402

from aidlgraph.cli import cli  # noqa: E402
from aidlgraph.pages import svg  # noqa: E402
from aidlgraph.serve import create_app  # noqa: E402

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def app(shared_library):
    return create_app(shared_library.path, token="", ingest_dir="")


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c
    assert app.state.internal_errors == 0


def page(client, url: str, status: int = 200, **kwargs):
    """GET ``url`` as a browser; the response and its parsed document (strict HTML5 parsing:
    any parse error fails the test)."""
    r = client.get(url, headers=BROWSER, **kwargs)
    assert r.status_code == status, (url, r.status_code, r.text[:500])
    return r, document(r.text)


def document(text: str):
    html5lib.HTMLParser(strict=True).parse(text)  # raises on any HTML parse error
    return html5lib.parse(text, treebuilder="etree", namespaceHTMLElements=False)


def classes(el) -> set[str]:
    return set((el.get("class") or "").split())


def by_class(doc, tag: str, cls: str) -> list:
    """Elements named ``tag`` (HTML or, inside the graph, SVG) with the class ``cls``."""
    return [el for el in doc.iter() if isinstance(el.tag, str) and el.tag.split("}")[-1] == tag and cls in classes(el)]


def text_of(el) -> str:
    return " ".join("".join(el.itertext()).split())


def check_accessible_and_local(doc) -> None:
    """Ids are unique; every visible form control has a label; every resource the page loads
    (stylesheets, scripts, images, icons) comes from this server or is inline."""
    ids = [el.get("id") for el in doc.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    labelled = {el.get("for") for el in doc.iter("label")}
    wrapped = {id(c) for label in doc.iter("label") for c in label.iter()}
    for control in [*doc.iter("input"), *doc.iter("textarea"), *doc.iter("select")]:
        if control.get("type") in ("hidden", "submit"):
            continue
        assert control.get("id") in labelled or id(control) in wrapped or control.get("aria-label"), control.attrib
    for tag, attr in (("link", "href"), ("script", "src"), ("img", "src"), ("iframe", "src")):
        for el in doc.iter(tag):
            url = el.get(attr)
            if url:
                assert url.startswith(("/", "data:", "#")) and not url.startswith("//"), f"{tag} loads {url}"


# -- negotiation: pages for browsers, the same JSON for everyone else ---------------------------------
def test_a_browser_gets_pages_and_a_program_the_json(client):
    item_id = client.get("/related?q=unified+memory&k=1").json()["results"][0]["id"]
    for url in ("/related?q=unified+memory", "/ask?q=How+do+I+start+with+image+segmentation%3F", "/topics",
                f"/items/{item_id}"):
        as_program = client.get(url)
        assert as_program.headers["content-type"].startswith("application/json"), url
        assert as_program.json() == client.get(url, headers={"accept": "application/json"}).json()
        assert client.get(url, headers={"accept": "text/html, application/json"}).headers["content-type"].startswith(
            "application/json"), "a tie goes to JSON"
        r, _ = page(client, url)
        assert r.headers["content-type"].startswith("text/html") and r.headers["vary"] == "Accept"
        assert "default-src 'self'" in r.headers["content-security-policy"]
    # a form posted from the page gets the page; a program's JSON or text body gets JSON
    assert client.post("/related", json={"text": "unified memory"}).headers["content-type"].startswith("application/json")
    assert client.post("/related", data={"text": "unified memory"}, headers=BROWSER).headers["content-type"].startswith(
        "text/html")


def test_path_search_redirects_a_browser_to_the_topic_page(client):
    r = client.get("/path", params={"q": "managed memory", "known": "c programming"}, headers=BROWSER,
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/path/unified-memory?known=c-programming"
    assert client.get("/path", params={"q": "managed memory"}).json()["topic"] == "unified memory"
    r = client.get("/path/cuda", headers=BROWSER, follow_redirects=False)  # an alias: to the canonical address
    assert r.status_code == 308 and r.headers["location"] == "/path/cuda-basics"


# -- the path page ---------------------------------------------------------------------------------
def test_path_page_is_valid_html_with_the_graph_and_every_step(client):
    expected = client.get("/path?q=unified+memory").json()
    r, doc = page(client, "/path/unified-memory")
    check_accessible_and_local(doc)
    steps = by_class(doc, "li", "step")
    assert [text_of(s).split(" Why:")[0] for s in steps] and len(steps) == len(expected["steps"])
    for step, want in zip(steps, expected["steps"]):
        assert want["reason"] in text_of(step)
        if want["kind"] != "topic":
            assert want["title"] in text_of(step)
    nodes = {n.get("data-topic"): classes(n) for n in doc.iter() if "node" in classes(n)}
    assert set(nodes) == {"c-programming", "gpu-architecture", "cuda-basics", "unified-memory"}
    assert "target" in nodes["unified-memory"] and all("todo" in nodes[t] for t in ("c-programming", "cuda-basics"))
    assert len(by_class(doc, "path", "edge")) == 3  # c -> cuda, gpu -> cuda, cuda -> unified memory
    boxes = [el.get("value") for el in doc.iter("input") if el.get("type") == "checkbox"]
    assert set(boxes) == {"c-programming", "gpu-architecture", "cuda-basics"}  # not the target


def test_ticking_a_known_topic_shrinks_the_path(client):
    _, full = page(client, "/path/unified-memory")
    r, doc = page(client, "/path/unified-memory?known=c-programming")
    check_accessible_and_local(doc)
    assert 0 < len(by_class(doc, "li", "step")) < len(by_class(full, "li", "step"))
    nodes = {n.get("data-topic"): classes(n) for n in doc.iter() if "node" in classes(n)}
    assert "known" in nodes["c-programming"] and "todo" in nodes["cuda-basics"]
    assert doc.find(".//section[@id='topic-c-programming']") is None
    ticked = [el.get("value") for el in doc.iter("input") if el.get("checked") is not None]
    assert ticked == ["c-programming"]
    share = by_class(doc, "a", "share")[0].get("href")
    assert share == "/path/unified-memory?known=c-programming"
    # names instead of ids, comma-separated instead of repeated: the same page
    _, same = page(client, "/path/unified-memory?known=" + urllib.parse.quote("c programming,gpu hardware"))
    _, ids = page(client, "/path/unified-memory?known=c-programming&known=gpu-architecture")
    assert [text_of(s) for s in by_class(same, "li", "step")] == [text_of(s) for s in by_class(ids, "li", "step")]


def test_an_unknown_topic_is_a_did_you_mean_page(client):
    r, doc = page(client, "/path?q=zzqx+vvbn+wwk", status=404)
    assert "No such topic" in text_of(doc.find(".//h1"))
    links = [a.get("href") for a in doc.iter("a") if (a.get("href") or "").startswith("/path?q=")]
    assert links, "the nearest topics are offered as links"
    page(client, "/path/zzqx-vvbn-wwk", status=404)
    _, missing = page(client, "/items/doesnotexist", status=404)
    assert "doesnotexist" in text_of(missing.find(".//main"))


# -- curators, members, items and topics -------------------------------------------------------------------
def test_related_form_shows_the_apis_results_with_reasons_and_item_links(client):
    draft = "Pinned memory speeds up host to device transfers.\n\nOverlapping copies with kernels on streams."
    expected = client.post("/related", json={"text": draft, "k": 5}).json()["results"]
    r = client.post("/related", data={"text": draft, "k": "5"}, headers=BROWSER)
    assert r.status_code == 200
    doc = document(r.text)
    check_accessible_and_local(doc)
    results = by_class(doc, "li", "result")
    assert len(results) == len(expected) > 0
    for li, want in zip(results, expected):
        assert want["title"] in text_of(li) and want["why"] in text_of(li)
        assert f"/items/{want['id']}" in [a.get("href") for a in li.iter("a")]
        assert (want["date"] or "no date") in text_of(li)
    assert doc.find(".//textarea").text.strip() == draft  # the draft stays, to refine
    bad = client.post("/related", data={"text": draft, "k": "lots"}, headers=BROWSER)
    assert bad.status_code == 400 and "number of results" in bad.text and draft.split("\n")[0] in bad.text
    huge = client.post("/related", data={"text": "x" * 1_100_000}, headers=BROWSER)
    assert huge.status_code == 413 and huge.headers["content-type"].startswith("text/html")


def test_ask_page_numbers_its_sources_or_says_it_does_not_know(client):
    question = "How do I start with image segmentation?"
    expected = client.get("/ask", params={"q": question}).json()
    _, doc = page(client, "/ask?" + urllib.parse.urlencode({"q": question}))
    check_accessible_and_local(doc)
    sources = doc.find(".//ol[@class='sources']")
    cited = [s["title"] for s in expected["sources"] if s.get("role", "answer") == "answer"]
    assert len(sources) == len(cited) and all(text_of(li).startswith(t) for li, t in zip(sources, cited))
    _, doc = page(client, "/ask?" + urllib.parse.urlencode({"q": "What will the weather be in Lisbon tomorrow?"}))
    assert text_of(doc.find(".//section[@class='answer']")).startswith("I don't know")


def test_item_and_topic_pages_show_the_neighbourhood(client):
    item = client.get("/related?q=unified+memory&k=1").json()["results"][0]
    detail = client.get(f"/items/{item['id']}").json()
    _, doc = page(client, f"/items/{item['id']}")
    check_accessible_and_local(doc)
    assert text_of(doc.find(".//h1")) == detail["title"]
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert all(f"/topics/{t['id']}" in hrefs for t in detail["topic_edges"])
    assert all(f"/items/{r['id']}" in hrefs for r in detail["related"])
    _, doc = page(client, "/topics/cuda-basics")
    check_accessible_and_local(doc)
    text = text_of(doc.find(".//main"))
    assert "CUDA C is C with extensions, so C comes first." in text  # a prerequisite's reason
    assert "Managed memory is allocated and used inside CUDA programs." in text  # what it unlocks
    nodes = {n.get("data-topic"): classes(n) for n in doc.iter() if "node" in classes(n)}
    assert "focus" in nodes["cuda-basics"] and {"c-programming", "gpu-architecture", "unified-memory"} <= set(nodes)
    _, doc = page(client, "/topics")
    assert len(doc.findall(".//ul[@class='topic-index']/li")) == len(client.get("/topics").json())


def test_what_users_type_is_escaped(client):
    attack = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    for url in ("/ask?q=" + urllib.parse.quote(attack), "/related?q=" + urllib.parse.quote(attack),
                "/path?q=" + urllib.parse.quote(attack)):
        r = client.get(url, headers=BROWSER)
        assert r.status_code < 500 and "<script>alert" not in r.text and "<img src=x" not in r.text
        assert "&lt;script&gt;" in r.text, url


def test_static_files_and_offline_docs(client):
    css = client.get("/static/aidlgraph.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and ".node" in css.text
    assert client.get("/static/aidlgraph.js").headers["content-type"].startswith("text/javascript")
    for name in ("nope.css", "..%2F..%2Fpyproject.toml", "%2e%2e%2fweb.py"):
        assert client.get(f"/static/{name}").status_code == 404
    docs = client.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text) + re.findall(r"url: '([^']+)'", docs.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert all(client.get(a).status_code == 200 for a in assets)


# -- the saved file --------------------------------------------------------------------------------------------
def test_path_format_html_writes_one_self_contained_page(shared_library, tmp_path):
    out = tmp_path / "path.html"
    run = CliRunner().invoke(cli, ["--library", str(shared_library.path), "path", "unified memory", "--known",
                                   "gpu hardware", "--format", "html", "-o", str(out)], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    expected = CliRunner().invoke(cli, ["--library", str(shared_library.path), "path", "unified memory", "--known",
                                        "gpu hardware", "--json"])
    import json

    steps = json.loads(expected.output)["steps"]
    text = out.read_text()
    doc = document(text)
    assert "<script" not in text and doc.find(".//link[@rel='stylesheet']") is None and doc.find(".//style") is not None
    assert len(by_class(doc, "li", "step")) == len(steps)
    nodes = {n.get("data-topic"): classes(n) for n in doc.iter() if "node" in classes(n)}
    assert "known" in nodes["gpu-architecture"] and "target" in nodes["unified-memory"]
    for a in doc.iter("a"):  # only in-page anchors and the readings' own links: nothing needs the server
        assert a.get("href", "").startswith(("#", "http://", "https://")), a.get("href")
    failed = CliRunner().invoke(cli, ["--library", str(shared_library.path), "path", "cuda", "--format", "html", "-o",
                                      str(tmp_path / "no" / "such" / "dir.html")])
    assert failed.exit_code == 1 and "cannot write" in failed.output and "Traceback" not in failed.output


# -- the picture ------------------------------------------------------------------------------------------------
@st.composite
def dags(draw):
    n = draw(st.integers(1, 14))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    return n, sorted({(a, b) for a, b in edges if a < b})


@settings(max_examples=80, deadline=None)
@given(dags())
def test_layered_layout_points_every_edge_down_and_overlaps_nothing(dag):
    n, edges = dag
    nodes = [{"id": f"t{i}", "name": f"topic number {i} " * (i % 3 + 1), "state": "todo"} for i in range(n)]
    boxes, chains, width, height = svg.layout(nodes, [(f"t{a}", f"t{b}") for a, b in edges])
    real = [b for b in boxes.values() if not b.dummy]
    for a, b in edges:  # every arrow goes from a prerequisite's layer down to a later layer
        assert boxes[f"t{a}"].layer < boxes[f"t{b}"].layer
    for chain in chains:  # and passes every layer in between exactly once
        assert [boxes[c].layer for c in chain] == list(range(boxes[chain[0]].layer, boxes[chain[-1]].layer + 1))
    for layer in {b.layer for b in real}:
        row = sorted((b for b in boxes.values() if b.layer == layer), key=lambda b: b.x)
        for left, right in zip(row, row[1:]):
            assert left.x + left.width / 2 <= right.x - right.width / 2 + 1e-6
    for b in real:
        assert 0 <= b.x - b.width / 2 and b.x + b.width / 2 <= width + 1e-6 and 0 <= b.y and b.y + b.height <= height
    sinks = {f"t{i}" for i in range(n)} - {f"t{a}" for a, _ in edges}  # the target of a path is one
    assert {boxes[s].layer for s in sinks} == {max(b.layer for b in real)}


def test_barycentre_ordering_uncrosses_a_crossed_drawing():
    # a1 -> b2 and a2 -> b1, given in the crossed order: the sweep must straighten them
    nodes = [{"id": i, "name": i, "state": "todo"} for i in ("a1", "a2", "b2", "b1")]
    boxes, chains, _, _ = svg.layout(nodes, [("a1", "b2"), ("a2", "b1")])
    top = sorted(["a1", "a2"], key=lambda i: boxes[i].x)
    assert [boxes[c[-1]].x for c in sorted(chains, key=lambda c: top.index(c[0]))] == sorted(
        boxes[i].x for i in ("b1", "b2"))


def test_the_pages_package_sits_below_the_server_and_the_cli():
    from test_structure import import_graph

    g = import_graph()
    for src, dst in g.edges:
        if src.startswith("aidlgraph.pages"):
            assert not dst.startswith(("aidlgraph.serve", "aidlgraph.cli", "aidlgraph.bot")), f"{src} imports {dst}"


def test_pages_show_fields_the_views_gain_and_survive_fields_they_lose():
    """The JSON shapes grow (a step's medium, level and time range, a "no reading" note;
    related's note and covered flag; ask's passages): pages show them when present and render
    without them."""
    from aidlgraph.pages import render

    step = {"position": 1, "topic": "cuda basics", "topic_id": "cuda-basics", "title": "An Easy Introduction",
            "url": "https://example.org/intro", "kind": "resource", "reason": "the topic you asked for",
            "medium": "tutorial", "level": "beginner", "minutes": 32.5, "minutes_low": 20, "minutes_high": 45,
            "seminal": True, "a_field_from_the_future": {"x": 1}}
    bare = {"position": 2, "topic": "cuda basics", "topic_id": "cuda-basics", "title": "cuda basics", "kind": "topic"}
    ctx = {"path": {"topic": "cuda basics", "steps": [step, bare], "minutes_range": [80, 135]},
           "target": {"id": "cuda-basics", "name": "cuda basics"},
           "groups": [{"topic": "cuda basics", "topic_id": "cuda-basics", "steps": [step, bare]}],
           "graph": {"nodes": [{"id": "cuda-basics", "name": "cuda basics", "state": "target"}], "edges": []}}
    doc = document(render.page("path", ctx))
    text = text_of(doc.find(".//main"))
    for shown in ("tutorial", "beginner", "20–45 min", "seminal", "1.3 h to 2.2 h", "No reading in the library yet"):
        assert shown in text, shown
    related = {"results": [{"id": "abc", "title": "Pinned memory", "covered": True, "date": "2017-03"}],
               "note": "nothing in the archive is close to this draft"}
    text = text_of(document(render.page("related", {"text": "draft", "options": {"k": 10, "kind": []}, "kinds": [],
                                                    "result": related})).find(".//main"))
    assert "Already covered" in text and "2017-03" in text and "nothing in the archive is close" in text
    answer = {"answered": True, "answer": "Kernels run on the GPU. [1]",
              "sources": [{"id": "abc", "title": "Intro", "url": "", "n": 1, "role": "answer"},
                          {"id": "def", "title": "Next steps", "url": "", "role": "read more"}],
              "passages": [{"text": "Kernels run on the GPU.", "item": "abc", "score": 0.9}]}
    text = text_of(document(render.page("ask", {"question": "q", "result": answer})).find(".//main"))
    assert "Kernels run on the GPU. [1]" in text and "To read more" in text and "Next steps" in text
