"""The HTTP API on the mini library: the CLI's JSON, 4xx JSON errors, the token rules, reloads."""
from __future__ import annotations

import json
import threading
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from aidlgraph.cli import cli  # noqa: E402
from aidlgraph.serve import create_app  # noqa: E402


TOKEN = "test-token-0123456789abcdef"
UPLOAD = """\
source: Upload test
items:
  - title: Eight-bit quantization of transformer weights with bitsandbytes
    topics: [neural networks]
    text: Quantizing the weights of large transformers to int8 halves their memory with little loss.
"""


@pytest.fixture(autouse=True)
def no_server_env(monkeypatch):
    monkeypatch.delenv("AIDLGRAPH_TOKEN", raising=False)
    monkeypatch.delenv("AIDLGRAPH_INGEST_DIR", raising=False)


@pytest.fixture(scope="module")
def app(shared_library):
    return create_app(shared_library.path, token="", ingest_dir="")  # "": no token, whatever the environment says


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c
    assert app.state.internal_errors == 0


def cli_json(lib, *args):
    result = CliRunner().invoke(cli, ["--library", str(lib.path), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# -- the same JSON as the CLI ---------------------------------------------------------------------
def test_healthz(client, shared_library):
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["items"] == sum(shared_library.store.count_items().values())
    assert body["model"] == shared_library.model
    assert body["library"] == str(shared_library.path)


def test_unknown_known_topics_are_ignored_with_a_note(client):
    body = client.get("/path?q=cuda&known=zzqx+vvbn+wwk").json()
    assert body["topic"] == "cuda basics" and body["ignored_known"] == ["zzqx vvbn wwk"] and body["known"] == []


def test_path_is_the_cli_json(client, shared_library):
    r = client.get("/path", params={"q": "unified memory", "known": "c programming", "per_topic": 1})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == cli_json(shared_library, "path", "unified memory", "--known", "c programming", "--per-topic", "1")
    topics = r.json()["topics"]
    assert topics.index("cuda basics") < topics.index("unified memory") and "c programming" not in topics
    # known topics repeated instead of comma-separated mean the same
    both = client.get("/path?q=semantic+segmentation&known=neural+networks&known=c+programming").json()
    assert both == cli_json(shared_library, "path", "semantic segmentation", "--known", "neural networks,c programming")


def test_related_get_and_post_are_the_cli_json(client, shared_library):
    expected = cli_json(shared_library, "related", "pinned memory and host to device transfers", "-k", "3")
    assert client.get("/related", params={"q": "pinned memory and host to device transfers", "k": 3}).json() == expected
    assert client.post("/related?k=3", json={"text": "pinned memory and host to device transfers"}).json() == expected
    assert client.post("/related", json={"text": "pinned memory and host to device transfers", "k": 3}).json() == expected
    assert client.post("/related?k=3", content="pinned memory and host to device transfers",
                       headers={"content-type": "text/plain; charset=utf-8"}).json() == expected
    assert "How to Optimize Data Transfers in CUDA C/C++" in [r["title"] for r in expected["results"]]


def test_related_filters_are_the_cli_json(client, shared_library):
    expected = cli_json(shared_library, "related", "convolutional networks for images", "--kind", "question",
                        "--kind", "resource", "--exclude-source", "nothing", "--min-score", "0.1")
    got = client.get("/related", params={"q": "convolutional networks for images", "kind": ["question", "resource"],
                                         "exclude_source": "nothing", "min_score": 0.1}).json()
    assert got == expected
    assert {r["kind"] for r in got["results"]} <= {"question", "resource"}
    posted = client.post("/related", json={"text": "convolutional networks for images", "kind": ["question", "resource"],
                                           "exclude_source": ["nothing"], "min_score": 0.1}).json()
    assert posted == expected


def test_ask_get_and_post_are_the_cli_json(client, shared_library):
    question = "How do I start with image segmentation?"
    expected = cli_json(shared_library, "ask", question)
    assert expected["answered"] is True and expected["sources"]
    assert client.get("/ask", params={"q": question}).json() == expected
    assert client.post("/ask", json={"question": question}).json() == expected
    assert client.post("/ask", content=question, headers={"content-type": "text/plain"}).json() == expected


def test_ask_abstains_like_the_cli(client, shared_library):
    question = "What will the weather be in Lisbon tomorrow?"
    body = client.get("/ask", params={"q": question}).json()
    assert body == cli_json(shared_library, "ask", question)
    assert body["answered"] is False and body["sources"] == [] and body["suggestions"]


def test_topics_and_items_are_the_cli_json(client, shared_library):
    assert client.get("/topics").json() == cli_json(shared_library, "topics")
    item_id = client.get("/related?q=unified+memory&k=1").json()["results"][0]["id"]
    r = client.get(f"/items/{item_id}")
    assert r.status_code == 200
    assert r.json() == cli_json(shared_library, "show", item_id)


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/path", "/related", "/ask", "/topics", "/items/{item_id}", "/healthz"} <= set(spec["paths"])
    assert "/ingest" not in spec["paths"]


# -- bad requests: 4xx with {"error"}, never a 500 ----------------------------------------------------
BAD = [
    ("get", "/path", {}, 422),                                        # q missing
    ("get", "/path?q=", {}, 400),                                     # empty
    ("get", "/path?q=%20%20", {}, 400),                               # blank
    ("get", "/path?q=" + "a" * 2001, {}, 400),                        # huge
    ("get", "/path?q=cuda&per_topic=0", {}, 422),
    ("get", "/path?q=cuda&depth=-1", {}, 422),
    ("get", "/path?q=cuda&depth=deep", {}, 422),
    ("get", "/path?q=zzqx+vvbn+wwk", {}, 404),                        # unknown topic
    ("get", "/path?q=cuda&known=" + ",".join(["cuda"] * 51), {}, 400),
    ("get", "/path?q=%ff%fe", {}, 404),                               # not UTF-8: decoded with replacement
    ("get", "/related?q=", {}, 400),
    ("get", "/related?q=" + "word " * 500, {}, 400),                  # 2500 characters
    ("get", "/related?q=cuda&k=0", {}, 422),
    ("get", "/related?q=cuda&k=501", {}, 422),
    ("get", "/related?q=cuda&k=ten", {}, 422),
    ("get", "/related?q=cuda&kind=podcast", {}, 422),
    ("get", "/related?q=cuda&min_score=high", {}, 422),
    ("get", "/ask", {}, 422),
    ("get", "/ask?q=", {}, 400),
    ("get", "/ask?q=" + "why " * 600, {}, 400),
    ("get", "/items/doesnotexist", {}, 404),
    ("get", "/items/" + "x" * 300, {}, 404),
    ("get", "/nowhere", {}, 404),
    ("delete", "/path?q=cuda", {}, 405),
    ("put", "/related", {}, 405),
    ("post", "/topics", {}, 405),
    ("post", "/ingest", {"json": {"paths": ["x"]}}, 404),            # no token configured: no such route
    ("post", "/related", {"content": b'{"text": "cuda', "headers": {"content-type": "application/json"}}, 400),
    ("post", "/related", {"content": b"", "headers": {"content-type": "application/json"}}, 400),
    ("post", "/related", {"content": b'{"text": ' + b"[" * 100_000, "headers": {"content-type": "application/json"}}, 400),
    ("post", "/related", {"json": ["a", "list"]}, 400),
    ("post", "/related", {"json": {"txt": "cuda"}}, 400),
    ("post", "/related", {"json": {"text": 42}}, 400),
    ("post", "/related", {"content": b'{"text": "\\ud800 cuda"}', "headers": {"content-type": "application/json"}}, 400),
    ("post", "/ask", {"content": b'{"question": "how? \\udfff"}', "headers": {"content-type": "application/json"}}, 400),
    ("post", "/related", {"json": {"text": "   "}}, 400),
    ("post", "/related", {"json": {"text": "cuda", "k": 0}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "k": "5"}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "k": True}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "kind": ["podcast"]}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "kind": 3}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "before": 2017}}, 422),
    ("post", "/related", {"json": {"text": "cuda", "min_score": "x"}}, 422),
    ("post", "/related", {"json": {"text": "x" * 200_001}}, 413),   # a draft over 200k characters
    ("post", "/related", {"content": b"x" * 1_100_000, "headers": {"content-type": "text/plain"}}, 413),
    ("post", "/related", {"content": b"cuda", "headers": {"content-type": "application/xml"}}, 415),
    ("post", "/related", {"content": b"cuda"}, 415),                 # no content type
    ("post", "/related", {"content": b"\xff\xfe\x00c\x00u", "headers": {"content-type": "text/plain"}}, 400),
    ("post", "/related", {"content": b"caf\xe9", "headers": {"content-type": "text/plain"}}, 400),
    ("post", "/ask", {"json": {"q": "how?"}}, 400),
    ("post", "/ask", {"json": {"question": None}}, 400),
    ("post", "/ask", {"json": {"question": ""}}, 400),
    ("post", "/ask", {"content": b"not json", "headers": {"content-type": "application/json"}}, 400),
    ("post", "/ask", {"content": ("why " * 600).encode(), "headers": {"content-type": "text/plain"}}, 400),
]


@pytest.mark.parametrize("method,url,kwargs,status", BAD, ids=[f"{m} {u[:40]} {s}" for m, u, _, s in BAD])
def test_bad_requests_are_4xx_json(client, app, method, url, kwargs, status):
    r = client.request(method.upper(), url, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert app.state.internal_errors == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(["/path", "/related", "/ask", "/items/"]),
       text=st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
       k=st.one_of(st.none(), st.integers(-5, 600), st.text(max_size=4)))
def test_arbitrary_queries_never_fail_the_server(client, app, endpoint, text, k):
    if endpoint == "/items/":
        r = client.get("/items/" + urllib.parse.quote(text, safe=""))
    else:
        params = {"q": text} if k is None else {"q": text, "k": str(k), "per_topic": str(k), "depth": str(k)}
        r = client.get(endpoint, params=params)
    assert r.status_code < 500 and app.state.internal_errors == 0
    if r.status_code >= 400:
        assert r.json()["error"]


def test_unknown_topic_has_suggestions(client):
    body = client.get("/path?q=zzqx+vvbn+wwk").json()
    assert body["suggestions"] and all(isinstance(s, str) for s in body["suggestions"])


def test_long_draft_is_accepted_by_post(client):
    draft = "\n\n".join(f"## Item {n}\nPinned memory speeds up host to device transfers in CUDA programs. " * 3
                        for n in range(40))
    assert 2000 < len(draft) < 200_000
    r = client.post("/related", json={"text": draft, "k": 3})
    assert r.status_code == 200 and r.json()["passages"] > 1


def test_concurrent_requests_agree_with_sequential(client):
    urls = ["/path?q=cuda", "/related?q=convolution+and+pooling&k=3", "/ask?q=how+do+I+start+with+segmentation%3F",
            "/topics", "/healthz"]
    expected = {u: client.get(u).json() for u in urls}
    failures = []

    def worker(n):
        for i in range(12):
            u = urls[(n + i) % len(urls)]
            r = client.get(u)
            if r.status_code != 200 or r.json() != expected[u]:
                failures.append((u, r.status_code))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- reloading and writing ------------------------------------------------------------------------
def test_ingest_by_another_process_is_picked_up(mini_library, tmp_path):
    from aidlgraph.build.ingest import ingest

    app = create_app(mini_library.path)
    client = TestClient(app)
    query = {"q": "int8 quantization of transformer weights", "k": 3}
    before = client.get("/related", params=query).json()
    assert all("quantization" not in r["title"].lower() for r in before["results"])
    (tmp_path / "new.yaml").write_text(UPLOAD)
    ingest(mini_library, [tmp_path / "new.yaml"])  # its own connection, as another process would be
    after = client.get("/related", params=query).json()
    assert after["results"][0]["title"].startswith("Eight-bit quantization")
    assert app.state.service.reloads == 1
    assert client.get("/healthz").json()["items"] == sum(mini_library.store.count_items().values())


def token_client(mini_library, **kwargs):
    return TestClient(create_app(mini_library.path, token=TOKEN, **kwargs))


def test_ingest_needs_the_token(mini_library):
    with token_client(mini_library) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            r = c.post("/ingest?filename=new.yaml", content=UPLOAD, headers={"content-type": "text/plain", **headers})
            assert r.status_code == 401 and "error" in r.json()
            assert r.headers["www-authenticate"] == "Bearer"
        assert "/ingest" in c.get("/openapi.json").json()["paths"]


def test_token_from_the_environment(mini_library, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_TOKEN", TOKEN)
    with TestClient(create_app(mini_library.path)) as c:
        assert c.post("/ingest", json={"paths": ["x"]}).status_code == 401


def test_upload_is_ingested_and_visible(mini_library):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with token_client(mini_library) as c:
        r = c.post("/ingest?filename=new.yaml", content=UPLOAD, headers={"content-type": "application/x-yaml", **auth})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["report"]["new"] == 1 and body["summary"].startswith("ingested 1 file")
        found = c.get("/related", params={"q": "int8 quantization of transformer weights", "k": 1}).json()
        assert found["results"][0]["title"].startswith("Eight-bit quantization")
        item = c.get(f"/items/{found['results'][0]['id']}").json()
        assert item["source"] == "Upload test"
        # the same upload as JSON updates instead of duplicating
        again = c.post("/ingest", json={"filename": "new.yaml", "text": UPLOAD}, headers=auth).json()
        assert again["report"]["new"] == 0 and again["report"]["unchanged"] == 1


@pytest.mark.parametrize("kwargs,status", [
    ({"content": "x: [", "params": {"filename": "bad.yaml"}}, 400),              # malformed YAML
    ({"content": "", "params": {"filename": "empty.yaml"}}, 400),
    ({"content": "title: x", "params": {"filename": "run.exe"}}, 400),           # unknown format
    ({"content": "title: x", "params": {"filename": "../../etc/passwd"}}, 400),
    ({"content": "items: [{title: t, topics: [no such topic]}]", "params": {"filename": "t.yaml"}}, 400),
    ({"content": "title: x"}, 400),                                             # no filename
    ({"json": {"paths": ["mini"]}}, 403),                                        # paths are off without a directory
    ({"json": {"something": 1}}, 400),
    ({"json": {"paths": []}}, 400),
    ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 400),
])
def test_bad_ingests_are_4xx_json(shared_library, kwargs, status):
    kwargs = dict(kwargs)
    headers = {"Authorization": f"Bearer {TOKEN}", "content-type": "text/plain", **kwargs.pop("headers", {})}
    if "json" in kwargs:
        headers.pop("content-type")
    app = create_app(shared_library.path, token=TOKEN, ingest_dir="")
    c = TestClient(app)  # no lifespan: the library opens on the first request
    generation = shared_library.store.get_meta("generation")
    r = c.post("/ingest", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["error"]
    assert shared_library.store.get_meta("generation") == generation
    assert app.state.internal_errors == 0


def test_paths_only_under_the_ingest_dir(mini_library, tmp_path):
    allowed = tmp_path / "incoming"
    allowed.mkdir()
    (allowed / "new.yaml").write_text(UPLOAD)
    (tmp_path / "secret.yaml").write_text(UPLOAD)
    (allowed / "link.yaml").symlink_to(tmp_path / "secret.yaml")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with token_client(mini_library, ingest_dir=allowed) as c:
        for outside in [str(tmp_path / "secret.yaml"), "../secret.yaml", "link.yaml", "/etc/passwd"]:
            r = c.post("/ingest", json={"paths": [outside]}, headers=auth)
            assert r.status_code == 403 and "outside" in r.json()["error"], outside
        assert c.post("/ingest", json={"paths": ["missing.yaml"]}, headers=auth).status_code == 404
        r = c.post("/ingest", json={"paths": ["new.yaml"]}, headers=auth)
        assert r.status_code == 200 and r.json()["report"]["new"] == 1
        assert c.get("/related?q=int8+quantization+of+transformer+weights&k=1").json()["results"][0]["title"].startswith("Eight-bit")


def test_serve_command_is_thin(mini_library, monkeypatch):
    import aidlgraph.serve

    seen = {}
    monkeypatch.setattr(aidlgraph.serve, "serve", lambda path, **kw: seen.update(path=path, **kw))
    result = CliRunner().invoke(cli, ["--library", str(mini_library.path), "serve", "--port", "9999", "--no-access-log"])
    assert result.exit_code == 0, result.output
    assert seen == {"path": mini_library.path, "host": "127.0.0.1", "port": 9999, "workers": 1, "access_log": False}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_uvicorn_on_loopback(mini_library, tmp_path, workers):
    """The real thing: `aidlgraph serve` in a subprocess, over loopback HTTP with keep-alive."""
    import http.client
    import os
    import signal
    import socket
    import statistics
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen(
        [sys.executable, "-c", "from aidlgraph.cli import main; main()", "--library", str(mini_library.path),
         "serve", "--port", str(port), "--workers", str(workers), "--no-access-log"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        seconds = []
        for _ in range(7):
            start = time.perf_counter()
            conn.request("GET", "/path?q=cuda")
            response = conn.getresponse()
            body = json.loads(response.read())
            seconds.append(time.perf_counter() - start)
            assert response.status == 200 and body["topic"] == "cuda basics"
        # keep-alive responses are not held back by Nagle's algorithm (~40 ms each when they are)
        assert statistics.median(seconds) < 0.03, seconds
    finally:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
        log.seek(0)
        output = log.read()
    assert "Traceback" not in output, output
