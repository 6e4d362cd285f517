"""The server's edges: which Host it answers (DNS rebinding), HEAD, request read timeouts (slow
clients), validated dates and numbers, a /healthz that tells the library's real state, and an
/items/ID no bigger than documented."""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time

import pytest
from click.testing import CliRunner

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from aidlgraph.cli import cli  # noqa: E402
from aidlgraph.serve import create_app  # noqa: E402


@pytest.fixture(autouse=True)
def no_server_env(monkeypatch):
    monkeypatch.delenv("AIDLGRAPH_TOKEN", raising=False)
    monkeypatch.delenv("AIDLGRAPH_INGEST_DIR", raising=False)


@pytest.fixture(scope="module")
def served(shared_library):
    return shared_library


def client_for(path, base_url="http://127.0.0.1:8765", **options) -> TestClient:
    return TestClient(create_app(path, token="", **options), base_url=base_url)


# -- Host ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("host,status", [
    ("127.0.0.1:8765", 200), ("localhost:8765", 200), ("LOCALHOST", 200), ("[::1]:8765", 200),
    ("evil.example:8765", 400), ("127.0.0.1.evil.example", 400), ("attacker.test", 400), ("", 400),
])
def test_only_this_servers_own_names_are_answered(served, host, status):
    with client_for(served.path) as client:
        for path in ("/healthz", "/topics", "/path?q=cuda"):
            r = client.get(path, headers={"host": host})
            assert r.status_code == status, (host, path, r.text)
            if status == 400:
                assert "DNS rebinding" in r.json()["error"] and str(served.path) not in r.text


def test_allowed_hosts_are_configurable(served, monkeypatch):
    with client_for(served.path, host="aidl.lan") as client:  # the address `serve --host` binds
        assert client.get("/healthz", headers={"host": "aidl.lan:8765"}).status_code == 200
    monkeypatch.setenv("AIDLGRAPH_ALLOWED_HOSTS", "bot.internal, *.aidl.example")
    with client_for(served.path) as client:
        assert client.get("/healthz", headers={"host": "bot.internal"}).status_code == 200
        assert client.get("/healthz", headers={"host": "api.aidl.example"}).status_code == 200
        assert client.get("/healthz", headers={"host": "aidl.example.evil"}).status_code == 400


# -- HEAD ----------------------------------------------------------------------------------------
def test_head_on_get_routes(served):
    with client_for(served.path) as client:
        for path in ("/healthz", "/topics", "/path?q=cuda", "/related?q=cuda"):
            get, head = client.get(path), client.head(path)
            assert head.status_code == 200 and head.content == b"", path
            assert head.headers["content-type"] == get.headers["content-type"]
            assert head.headers["content-length"] == str(len(get.content))
        assert client.head("/nowhere").status_code == 404
        assert client.head("/items/000000000000").status_code == 404


# -- dates and numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize("query,name", [
    ("before=abc", "before"), ("since=zzz", "since"), ("before=2017-13-45", "before"), ("since=2017-02-30", "since"),
    ("min_score=nan", "min_score"), ("min_score=inf", "min_score"), ("min_score=-inf", "min_score"),
])
def test_bad_dates_and_numbers_are_400_naming_the_parameter(served, query, name):
    with client_for(served.path) as client:
        r = client.get(f"/related?q=cuda&{query}")
        assert r.status_code == 400, r.text
        assert r.json()["error"].startswith(f"{name}: ")
        body = {"text": "cuda", name: query.split("=")[1]}
        if name == "min_score":
            r = client.post("/related", content=json.dumps({"text": "cuda", "min_score": float(body[name])}),
                            headers={"content-type": "application/json"})
        else:
            r = client.post("/related", json=body)
        assert r.status_code == 400 and r.json()["error"].startswith(f"{name}: "), r.text


def test_good_dates_still_filter(served):
    with client_for(served.path) as client:
        for query in ("before=2017", "since=2016-05", "before=2018-02-28", "min_score=0.5"):
            assert client.get(f"/related?q=cuda&{query}").status_code == 200, query


@pytest.mark.parametrize("args", [["--before", "2017-13-45"], ["--since", "zzz"], ["--min-score", "nan"]])
def test_the_cli_refuses_them_in_one_line(served, args):
    result = CliRunner().invoke(cli, ["--library", str(served.path), "related", "cuda", *args])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: "), result.output


# -- /healthz tells the truth --------------------------------------------------------------------
def test_healthz_is_an_error_when_the_database_is_damaged(mini_library, tmp_path):
    mini_library.store.checkpoint()
    copy = tmp_path / "damaged"
    shutil.copytree(mini_library.path, copy)
    db = copy / "library.db"
    data = bytearray(db.read_bytes())
    page = 4096
    data[page * 8:] = os.urandom(len(data) - page * 8)  # the header and schema survive, later pages do not
    db.write_bytes(bytes(data))
    app = create_app(copy, token="")
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/healthz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "error" and "damaged" in body["reason"], body
        assert client.head("/healthz").status_code == 503
    assert app.state.internal_errors == 0


def test_healthz_is_degraded_when_the_index_cannot_be_saved(mini_library, monkeypatch):
    import faiss

    (mini_library.path / "vectors.json").unlink()  # stale: the server rebuilds it on start

    def no_room(index, path):
        raise RuntimeError(f"write error in {path}: 1 != 2 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", no_room)
    with client_for(mini_library.path) as client:
        body = client.get("/healthz").json()
        assert body["status"] == "degraded" and "search index could not be saved (disk full" in body["reason"], body
        assert client.get("/related?q=cuda").json()["results"]


# -- /items/ID -----------------------------------------------------------------------------------
def test_items_never_return_more_than_documented(mini_library):
    """An item stored before the loaders had limits (a 16 MB ``extra`` of a million columns)."""
    from aidlgraph.corpus import Item
    from aidlgraph.corpus.limits import MAX_EXTRA_CHARS, MAX_EXTRA_FIELDS

    item = Item(title="A very wide row", source="old import",
                extra={f"col{n}": "v" * 20 for n in range(100_000)} | {"blob": "x" * 1_000_000})
    with mini_library.writing(), mini_library.store.transaction():
        mini_library.store.upsert_item(item, "old.csv", None)
    with client_for(mini_library.path) as client:
        r = client.get(f"/items/{item.id}")
        assert r.status_code == 200
        extra = r.json()["extra"]
        assert len(extra) <= MAX_EXTRA_FIELDS and all(len(v) <= MAX_EXTRA_CHARS for v in extra.values())
        assert len(r.content) < 200_000


# -- slow clients --------------------------------------------------------------------------------
@pytest.fixture
def live_server(served):
    """A real uvicorn server in a thread, with the guarded protocol on short clocks."""
    import uvicorn

    from aidlgraph.serve.protocol import GuardedH11Protocol

    class Quick(GuardedH11Protocol):
        header_timeout = 0.5
        body_timeout = 0.5

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(served.path, token="", host="127.0.0.1"), host="127.0.0.1",
                                           port=port, http=Quick, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def read_until_closed(sock: socket.socket, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)  # raises socket.timeout if the server holds the connection open
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("sent", [
    b"",                                                                      # connects, says nothing
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",                  # headers that never end
    b"POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nhow do",
])
def test_a_request_that_stops_arriving_is_closed(live_server, sent):
    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        sock.sendall(sent)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"took too long" in answer


def test_a_header_sent_a_byte_at_a_time_still_runs_out(live_server):
    """Slowloris: every byte arrives before the last one times out, but the whole never does."""
    with socket.create_connection(("127.0.0.1", live_server)) as sock:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # closed by the server: what the test wants
            time.sleep(0.05)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_normal_requests_and_keep_alive_are_unaffected(live_server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
    for _ in range(3):
        conn.request("GET", "/path?q=cuda")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["topic"] == "cuda basics"
        time.sleep(0.7)  # longer than the header clock: an idle keep-alive is not a slow request
    conn.request("POST", "/ask", body=b"how do I start with cuda?", headers={"content-type": "text/plain"})
    assert conn.getresponse().status == 200
