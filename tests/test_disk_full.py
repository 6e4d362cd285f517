"""A full disk: every write says so in one line and leaves the library as it was; reads go on.

Two kinds of test. Where the test may mount a filesystem (root, as in this project's sandbox and
CI container), a real 2 MB tmpfs is mounted and filled, and the CLI and the server run against a
library on it: SQLite, FAISS and the ONNX export meet a real ENOSPC. Where mounting is not allowed
those tests skip, and the injected tests below them still run the same code paths: SQLite's own
"database or disk is full" (``PRAGMA max_page_count`` caps the file) and FAISS's write error.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from aidlgraph.build.ingest import ingest
from aidlgraph.cli import cli
from aidlgraph.errors import DiskFullError
from aidlgraph.library import INDEX_NAME, STAMP_NAME, Library
from conftest import ROOT

NEW_ITEM = """\
- title: Overlapping kernels and copies with CUDA streams
  topics: [cuda basics]
  text: Streams let a GPU copy the next batch while it computes on this one.
"""


class SmallDisk:
    """A real tmpfs of ``size`` mounted at ``root`` (needs root; the fixture skips otherwise)."""

    def __init__(self, root: Path):
        self.root = root
        self.filler = root / ".filler"

    def fill(self, leave: int = 0) -> int:
        """Fill the disk, then free ``leave`` bytes; returns the bytes left free."""
        with open(self.filler, "ab", buffering=0) as fh:
            for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while fh.write(b"\0" * chunk):
                        pass
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        if leave:
            size = self.filler.stat().st_size
            os.truncate(self.filler, max(0, size - leave))
        return shutil.disk_usage(self.root).free

    def free_all(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True) \
        if shutil.which("mount") else None
    if done is None or done.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root); the injected full-disk tests cover the same paths")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def run(lib_path, *args):
    return CliRunner().invoke(cli, ["--library", str(lib_path), *args])


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def copy_library(lib: Library, target: Path, stale_index: bool = False) -> Path:
    lib.store.checkpoint()
    shutil.copytree(lib.path, target)
    if stale_index:
        (target / STAMP_NAME).unlink()
    return target


def item_ids(path: Path) -> set[str]:
    with Library.open(path, readonly=True) as lib:
        return {r["id"] for r in lib.store.items()}


# -- a real full disk --------------------------------------------------------------------------------
def test_full_disk_writes_fail_in_one_line_and_reads_go_on(mini_library, small_disk, tmp_path):
    lib = copy_library(mini_library, small_disk.root / "lib", stale_index=True)
    before = item_ids(lib)
    (tmp_path / "new.yaml").write_text(NEW_ITEM)
    assert small_disk.fill() < 4096

    for args in (["ingest", str(tmp_path / "new.yaml")], ["check", "--repair"],
                 ["graph", "accept", "cuda basics", "semantic segmentation"]):
        result = run(lib, *args)
        assert result.exit_code == 1, (args, result.output)
        errors = error_lines(result)
        assert len(errors) == 1 and "disk" in errors[0] and "full" in errors[0], (args, result.output)
        assert "nothing was changed" in errors[0] and "Traceback" not in result.output
        assert "unexpected" not in result.output and "please report" not in result.output

    # Read commands answer from what is on disk; the stale index is rebuilt in memory.
    related = run(lib, "related", "cuda memory transfers", "--json")
    assert related.exit_code == 0, related.output
    results = json.loads(related.output[related.output.index("{"):])["results"]
    assert results and all(0 <= r["score"] < 10 for r in results)
    assert "warning:" in related.output and "full" in related.output  # said, not hidden
    asked = run(lib, "ask", "where can I learn CUDA?", "--json")
    assert asked.exit_code == 0 and json.loads(asked.output[asked.output.index("{"):])["answered"], asked.output
    assert run(lib, "path", "cuda").exit_code == 0
    assert run(lib, "stats").exit_code == 0
    checked = run(lib, "check")
    assert checked.exit_code == 0 and "consistent" in checked.output, checked.output

    small_disk.free_all()
    assert item_ids(lib) == before  # nothing half-written
    assert run(lib, "ingest", str(tmp_path / "new.yaml")).exit_code == 0  # and it writes again once there is room
    assert len(item_ids(lib)) == len(before) + 1


def test_nearly_full_disk_sqlite_cannot_commit_nothing_changes(mini_library, small_disk, tmp_path):
    """Room for SQLite's shared-memory file but not for the write-ahead log of an ingest."""
    lib = copy_library(mini_library, small_disk.root / "lib")
    before = item_ids(lib)
    (tmp_path / "new.yaml").write_text(NEW_ITEM)
    small_disk.fill(leave=40 * 1024)
    result = run(lib, "ingest", str(tmp_path / "new.yaml"))
    assert result.exit_code == 1, result.output
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith("error: disk full while writing"), result.output
    assert errors[0].endswith("free space and re-run; nothing was changed")
    assert "cannot rollback" not in result.output and "another aidlgraph process" not in result.output
    small_disk.free_all()
    assert item_ids(lib) == before


def test_index_cannot_be_saved_after_the_commit(mini_library, small_disk, tmp_path):
    """The database commits (it lives on a roomy disk) but the index beside it cannot be written:
    the items are saved, the user is told the index will be rebuilt, and the next command finds the
    new item (from an index kept in memory while the disk stays full)."""
    lib = copy_library(mini_library, small_disk.root / "lib")
    roomy = tmp_path / "roomy"
    roomy.mkdir()
    shutil.move(lib / "library.db", roomy / "library.db")
    (lib / "library.db").symlink_to(roomy / "library.db")  # SQLite puts its -wal and -shm beside the target
    (tmp_path / "new.yaml").write_text(NEW_ITEM)
    small_disk.fill()

    result = run(lib, "ingest", str(tmp_path / "new.yaml"))
    assert result.exit_code == 1, result.output
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith("error: items saved, but the search index could not be written: "
                                                     "disk full"), result.output
    assert "rebuilt from the stored vectors on the next command" in errors[0]
    assert not list(lib.glob(".vectors-*.tmp"))  # the partial index file is gone

    found = run(lib, "related", "overlapping kernels and copies with streams", "-k", "1", "--json")
    assert found.exit_code == 0, found.output
    assert "could not be saved" in found.output  # the warning line
    top = json.loads(found.output[found.output.index("{"):])["results"][0]
    assert top["title"].startswith("Overlapping kernels")

    small_disk.free_all()
    checked = run(lib, "check", "--json")
    assert checked.exit_code == 0 and json.loads(checked.output)["ok"], checked.output
    assert json.loads((lib / STAMP_NAME).read_text())["count"] == len(item_ids(lib))  # saved once there was room


def test_serve_starts_and_answers_reads_on_a_full_disk(mini_library, small_disk):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from aidlgraph.serve import create_app

    lib = copy_library(mini_library, small_disk.root / "lib", stale_index=True)
    small_disk.fill()
    token = "full-disk-token-0123456789"
    app = create_app(lib, token=token)
    with TestClient(app) as client:  # the lifespan opens and warms the library: the start-up that died
        health = client.get("/healthz")
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "degraded" and "full" in body["reason"], body
        assert body["items"] == 9
        assert client.get("/related?q=cuda+memory+transfers").json()["results"]
        assert client.get("/path?q=cuda").status_code == 200
        assert client.get("/ask?q=where+can+I+learn+CUDA%3F").json()["answered"]
        upload = client.post("/ingest?filename=new.yaml", content=NEW_ITEM.encode(),
                             headers={"authorization": f"Bearer {token}", "content-type": "text/plain"})
        assert upload.status_code == 507 and "disk" in upload.json()["error"], upload.text
    assert app.state.internal_errors == 0


def test_output_on_a_full_disk_is_one_line(mini_library, small_disk):
    """`graph export > file` where the file's disk is full: one line from the real entry point."""
    small_disk.fill()
    with open(small_disk.root / "graph.json", "w") as out:
        done = subprocess.run([sys.executable, "-m", "aidlgraph", "--library", str(mini_library.path), "graph", "export"],
                              cwd=ROOT, stdout=out, stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "disk full while writing" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_onnx_export_on_a_full_cache_disk_falls_back(small_disk, monkeypatch, model, caplog):
    """The export (hundreds of MB of model) cannot be written: nothing is left behind, and the
    model still embeds through sentence-transformers."""
    from aidlgraph import embed
    from aidlgraph.config import DEFAULT_MODEL
    from aidlgraph.embed import onnx_backend

    if not onnx_backend.can_export():
        pytest.skip("onnx export is not available here")
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(small_disk.root / "cache"))
    small_disk.fill()
    with pytest.raises(OSError) as failed:
        onnx_backend.ensure_export(DEFAULT_MODEL, model.model)
    assert failed.value.errno == errno.ENOSPC or "No space left" in str(failed.value)
    assert not [p for p in (small_disk.root / "cache").rglob("*") if p.is_dir() and p.name.startswith(".")]
    with caplog.at_level("WARNING"):
        assert embed._onnx(DEFAULT_MODEL) is None  # noqa: SLF001 (the fallback under test)
    assert "could not export" in caplog.text


# -- injected (always run) ---------------------------------------------------------------------------
def test_sqlite_full_is_disk_full_and_rolls_back(mini_library, tmp_path):
    """SQLite's own SQLITE_FULL, made by capping the file at its current size (the ingest is big
    enough that its rows cannot all fit in the file's free pages)."""
    many = "".join(f"- title: Note {n} on CUDA streams\n  topics: [cuda basics]\n  text: {'words ' * 200}{n}\n"
                   for n in range(60))
    (tmp_path / "new.yaml").write_text(many)
    store = mini_library.store
    before, generation = {r["id"] for r in store.items()}, store.generation
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(DiskFullError) as failed:
        ingest(mini_library, [tmp_path / "new.yaml"])
    assert "nothing was changed" in str(failed.value) and "\n" not in str(failed.value)
    assert not store.conn.in_transaction
    assert {r["id"] for r in store.items()} == before and store.generation == generation
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    ingest(mini_library, [tmp_path / "new.yaml"])  # and it works again once there is room
    assert len(store.items()) == len(before) + 60


def enospc_on_index_write(monkeypatch):
    import faiss

    def no_room(index, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError(f"Error in void faiss::write_index: 'ret == (size * 4)' failed: write error in {path}: "
                           "4014 != 13824 (No space left on device)")

    monkeypatch.setattr(faiss, "write_index", no_room)


def test_index_write_enospc_after_commit_is_disk_full_and_reads_use_memory(mini_library, tmp_path, monkeypatch):
    (tmp_path / "new.yaml").write_text(NEW_ITEM)
    enospc_on_index_write(monkeypatch)
    with pytest.raises(DiskFullError) as failed:
        ingest(mini_library, [tmp_path / "new.yaml"])
    message = str(failed.value)
    assert message.startswith("items saved, but the search index could not be written: disk full")
    assert not list(mini_library.path.glob(".vectors-*.tmp"))
    assert len(mini_library.store.items()) == 10  # committed

    with Library.open(mini_library.path) as reader:  # the next command: stale stamp, rebuild, cannot save
        from aidlgraph.query.related import related

        top = related(reader, "overlapping kernels and copies with streams", k=1)["results"][0]
        assert top["title"].startswith("Overlapping kernels")
        assert any("could not be saved (disk full" in w for w in reader.warnings), reader.warnings
    monkeypatch.undo()
    with Library.open(mini_library.path) as reader:
        reader.index  # room again: rebuilt and saved
        assert json.loads((mini_library.path / STAMP_NAME).read_text())["count"] == 10
        assert (mini_library.path / INDEX_NAME).exists() and not reader.warnings
