"""One answer to "has the library changed?": every write moves the generation on, a running server
sees writes by other processes on its next request, survives its library being replaced, and a
read-only library still answers."""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aidlgraph.library import Library
from conftest import FIXTURES

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from aidlgraph.serve import create_app  # noqa: E402

TOKEN = "state-token-0123456789abcdef"


def aidlgraph(library: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """The CLI in another process, as a curator would run it beside a running server."""
    environ = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "aidlgraph", "--library", str(library), *args],
                          capture_output=True, text=True, timeout=300, env=environ, **kwargs)


def prerequisites(client: TestClient, name: str) -> list[str]:
    topics = client.get("/topics").json()
    return next(t["prerequisites"] for t in topics if t["name"] == name)


def test_every_write_moves_the_generation_on(mini_library):
    from aidlgraph.build.curate import accept, reject

    seen = mini_library.generation
    accept(mini_library, "neural networks", "unified memory", reason="a test")
    assert mini_library.generation != seen
    seen = mini_library.generation
    reject(mini_library, "c programming", "semantic segmentation")
    assert mini_library.generation != seen


def test_a_running_server_sees_accept_and_reject_from_another_process(mini_library):
    with mini_library.writing(), mini_library.store.transaction():  # an edge a suggestion left behind
        mini_library.store.add_edges([{"src": "gpu-architecture", "dst": "semantic-segmentation", "kind": "prereq",
                                       "source": "inferred", "confidence": 0.6, "reason": "suggested"}])
    with TestClient(create_app(mini_library.path, token="")) as client:
        assert "neural networks" not in prerequisites(client, "unified memory")
        assert "gpu architecture" in prerequisites(client, "semantic segmentation")
        path_before = client.get("/path", params={"q": "unified memory"}).json()

        done = aidlgraph(mini_library.path, "graph", "accept", "neural networks", "unified memory",
                         "--reason", "Managed memory pages hold the network's weights")
        assert done.returncode == 0, done.stderr
        assert "neural networks" in prerequisites(client, "unified memory")  # cached before, fresh now
        path_after = client.get("/path", params={"q": "unified memory"}).json()
        assert "neural networks" in path_after["topics"] and "neural networks" not in path_before["topics"]

        done = aidlgraph(mini_library.path, "graph", "reject", "gpu architecture", "semantic segmentation")
        assert done.returncode == 0, done.stderr
        assert "gpu architecture" not in prerequisites(client, "semantic segmentation")


def test_a_running_server_survives_init_force_and_serves_the_new_library(mini_library, tmp_path):
    with TestClient(create_app(mini_library.path, token=TOKEN)) as client:
        assert client.get("/healthz").json()["items"] == 9
        done = aidlgraph(mini_library.path, "init", "--empty", "--force")
        assert done.returncode == 0, done.stderr
        health = client.get("/healthz").json()
        assert health["items"] == 0 and health["status"] == "ok"
        upload = (FIXTURES / "mini" / "topics.yaml").read_text()
        r = client.post("/ingest?filename=topics.yaml", content=upload.encode(),
                        headers={"Authorization": f"Bearer {TOKEN}", "content-type": "text/plain"})
        assert r.status_code == 200, r.text
        assert len(client.get("/topics").json()) == 7
    with Library.open(mini_library.path) as fresh:  # the server wrote to the new file, not the old one
        assert len(fresh.store.topics()) == 7 and fresh.store.item_total() == 0


def test_a_running_server_sees_a_library_directory_swapped_in(mini_library, tmp_path, model):
    from aidlgraph.build.bootstrap import create

    other = create(tmp_path / "other", empty=True)
    with TestClient(create_app(mini_library.path, token="")) as client:
        assert client.get("/healthz").json()["items"] == 9
        os.rename(mini_library.path, tmp_path / "old")  # `mv lib old && mv other lib`
        os.rename(other, mini_library.path)
        assert client.get("/healthz").json()["items"] == 0


def drop_file_permission_override() -> None:
    """Run as root without the capabilities that let root ignore file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop the DAC capabilities")


def read_only(path: Path) -> None:
    for p in path.iterdir():
        p.chmod(0o444)
    path.chmod(0o555)


def test_path_related_and_ask_work_on_a_read_only_library(shipped_library_path, tmp_path):
    library = tmp_path / "read-only"
    shutil.copytree(shipped_library_path, library)
    (library / ".write.lock").unlink(missing_ok=True)
    before = {p.name: p.read_bytes() for p in library.iterdir()}
    read_only(library)
    try:
        probe = subprocess.run(["sh", "-c", f"touch {library}/probe"], preexec_fn=drop_file_permission_override,
                               capture_output=True)
        assert probe.returncode != 0, "the test cannot make the directory read-only here"
        answers = {}
        for args in (["path", "semantic segmentation", "--json"],
                     ["related", "pinned memory for faster host to device copies", "--json", "-k", "3"],
                     ["ask", "where can I learn CUDA?", "--json"],
                     ["path", "labelling every pixel of a photograph with its class", "--json"]):
            done = aidlgraph(library, *args, preexec_fn=drop_file_permission_override)
            assert done.returncode == 0, (args, done.stderr)
            answers[args[0] + ": " + args[1]] = json.loads(done.stdout)
        assert answers["path: semantic segmentation"]["steps"][-1]["topic"] == "semantic segmentation"
        assert answers["related: pinned memory for faster host to device copies"]["results"]
        assert answers["ask: where can I learn CUDA?"]["answered"]
        assert answers["path: labelling every pixel of a photograph with its class"]["topic"] == "semantic segmentation"
        writes = aidlgraph(library, "ingest", str(FIXTURES / "mini"), preexec_fn=drop_file_permission_override)
        assert writes.returncode == 1 and "read-only" in writes.stderr and "Traceback" not in writes.stderr
    finally:
        library.chmod(0o755)
        for p in library.iterdir():
            p.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    assert {p.name: p.read_bytes() for p in library.iterdir()} == before
