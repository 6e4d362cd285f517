"""Shared fixtures: the real model loaded once per session, real libraries in temporary dirs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """The ONNX export goes to a session temp dir, never the user's cache (one export a run)."""
    previous = os.environ.get("AIDLGRAPH_CACHE")
    os.environ["AIDLGRAPH_CACHE"] = str(tmp_path_factory.mktemp("aidlgraph-cache"))
    yield
    if previous is None:
        os.environ.pop("AIDLGRAPH_CACHE", None)
    else:
        os.environ["AIDLGRAPH_CACHE"] = previous


@pytest.fixture(scope="session", autouse=True)
def test_client_host():
    """Starlette's TestClient sends ``Host: testserver``; the server answers only the names it is
    given (a guard against DNS rebinding), so the tests' apps are given this one."""
    previous = os.environ.get("AIDLGRAPH_ALLOWED_HOSTS")
    os.environ["AIDLGRAPH_ALLOWED_HOSTS"] = "testserver"
    yield
    if previous is None:
        os.environ.pop("AIDLGRAPH_ALLOWED_HOSTS", None)
    else:
        os.environ["AIDLGRAPH_ALLOWED_HOSTS"] = previous


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Every test gets its own library location; nothing touches the user's data dir."""
    monkeypatch.setenv("AIDLGRAPH_HOME", str(tmp_path / "home-library"))
    monkeypatch.delenv("AIDLGRAPH_MODEL", raising=False)
    monkeypatch.delenv("AIDLGRAPH_DATA", raising=False)


@pytest.fixture(scope="session")
def model():
    """The real embedding model, loaded once for the whole session."""
    from aidlgraph import embed, config

    return embed.load(config.DEFAULT_MODEL, "torch")


@pytest.fixture
def empty_library(tmp_path, model):
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    path = create(tmp_path / "lib", empty=True)
    lib = Library.open(path)
    yield lib
    lib.close()


@pytest.fixture
def mini_library(empty_library):
    """A small real library: tests/fixtures/mini (CUDA and segmentation topics and items)."""
    from aidlgraph.build.ingest import ingest

    ingest(empty_library, [FIXTURES / "mini"])
    return empty_library


@pytest.fixture(scope="module")
def shared_library(tmp_path_factory, model):
    """The mini library built once per test module, for tests that only read it (what they write,
    the query and response caches, is not library state)."""
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.library import Library

    lib = Library.open(create(tmp_path_factory.mktemp("shared") / "lib", empty=True))
    ingest(lib, [FIXTURES / "mini"])
    yield lib
    lib.close()


@pytest.fixture
def fake_library(tmp_path):
    """The mini fixture library on the deterministic fake embedder: no torch, no ONNX, no model."""
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.embed import FakeEmbedder
    from aidlgraph.library import Library

    fake = FakeEmbedder()
    lib = Library.open(create(tmp_path / "fake-lib", empty=True, embedder=fake), embedder=fake)
    ingest(lib, [FIXTURES / "mini"])
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def shipped_library_path(tmp_path_factory, model):
    """The shipped corpus (data/) built once per session; tests copy it before writing."""
    from aidlgraph.build.bootstrap import create

    return create(tmp_path_factory.mktemp("shipped") / "lib", empty=False)


@pytest.fixture
def shipped_library(shipped_library_path, tmp_path):
    """A private, writable copy of the shipped library."""
    from aidlgraph.library import Library

    copy = tmp_path / "shipped-copy"
    shutil.copytree(shipped_library_path, copy)
    lib = Library.open(copy)
    yield lib
    lib.close()


def shared_or_skip(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared datasets are beside the project in CI)")
    return path
