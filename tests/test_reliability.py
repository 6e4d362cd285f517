"""Nothing lost under kill -9, concurrency and corruption.

- An ingest killed at any moment leaves a library the next command uses as it is: the database
  holds all of that ingest or none of it, a FAISS index left stale is rebuilt from the stored
  vectors (never by re-embedding), and a re-run completes the ingest with the right counts.
- `aidlgraph check [--repair]` finds what can go wrong (schema, model, dimension, index vs
  vectors, cycles, dangling edges, orphan and missing vectors) and repairs what it can.
- Readers during an ingest see the old or the new state, never an error; a second writer fails
  with one clear line (or waits with --wait).
- A damaged database is one clear line naming a repair path, never a traceback.

The slow tests run `python -m aidlgraph` in subprocesses (as a user would) and kill them.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from aidlgraph.store import migrations
from aidlgraph.query.check import repair, verify
from aidlgraph.cli import cli
from aidlgraph.corpus import load_path
from aidlgraph.errors import LibraryError
from aidlgraph.build.ingest import ingest
from aidlgraph.build.bootstrap import create
from aidlgraph.library import INDEX_NAME, Library
from conftest import FIXTURES, ROOT, SHARED

TUTORIALBANK = SHARED / "datasets/tutorialbank/resources-v2023-clean.tsv"

# the CLI killed with SIGKILL at one exact point of an ingest (see that script)
KILL_AT = str(ROOT / "bench" / "kill_at.py")


# -- helpers ---------------------------------------------------------------------------------------
def run(lib_path, *args, input=None):
    """The CLI in process (the model stays loaded between calls)."""
    return CliRunner().invoke(cli, ["--library", str(lib_path), *args], input=input)


def aidlgraph(*args, **kwargs) -> subprocess.Popen:
    """The CLI as a separate process, as a user runs it."""
    return subprocess.Popen([sys.executable, "-m", "aidlgraph", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def slice_of_tutorialbank(folder: Path, rows: int) -> Path:
    """The first ``rows`` rows of TutorialBank (or as many synthetic rows when it is not here)."""
    path = folder / f"tutorialbank-{rows}.tsv"
    if TUTORIALBANK.exists():
        with TUTORIALBANK.open(encoding="utf-8") as fh:
            lines = [next(fh) for _ in range(rows + 1)]
    else:
        topics = ["Neural Networks", "Parsing", "Word Embeddings", "Machine Translation", "Topic Models"]
        lines = ["title\turl\ttopic_name\tmedium\tyear\n"] + [
            f"Resource {n} on {topics[n % 5].lower()} and practice\thttps://example.org/r/{n}\t{topics[n % 5]}\tTutorials\t2017\n"
            for n in range(rows)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def unique_items(path: Path) -> int:
    return len({item.id for batch in load_path(path) for item in batch.items})


def counts(lib_path: Path) -> tuple[int, int]:
    """(items, vectors) in the database."""
    with sqlite3.connect(lib_path / "library.db") as conn:
        return (conn.execute("SELECT count(*) FROM items").fetchone()[0],
                conn.execute("SELECT count(*) FROM vectors").fetchone()[0])


class Embeddings:
    """Counts the texts given to the ingest model (``Library.embedder``), to prove what was not re-embedded."""

    def __init__(self, monkeypatch):
        self.texts: list[str] = []
        real = Library.embedder.fget

        def counting(lib):
            model = real(lib)
            outer = self

            class Counting:
                name, dim = model.name, model.dim

                def encode(self, texts, progress=False):
                    outer.texts.extend(texts)
                    return model.encode(texts, progress=progress)
            return Counting()
        monkeypatch.setattr(Library, "embedder", property(counting))

    def items_of(self, source: Path) -> int:
        """How many of the texts embedded were items of ``source`` (new topics are embedded too)."""
        texts = {item.embed_text() for batch in load_path(source) for item in batch.items}
        return sum(1 for t in self.texts if t in texts)


def forbid_embedding(monkeypatch):
    def refuse(lib):
        raise AssertionError("items were re-embedded; the index must be rebuilt from the stored vectors")
    monkeypatch.setattr(Library, "embedder", property(refuse))


def consistent_after_next_command(lib_path: Path) -> dict:
    """The user's next commands work; then `check` says the library is consistent."""
    stats = run(lib_path, "stats", "--json")
    assert stats.exit_code == 0, stats.output
    related = run(lib_path, "related", "neural network tutorial", "--json")
    assert related.exit_code == 0, related.output
    with Library.open(lib_path) as lib:
        report = verify(lib)
    assert report["ok"], report
    return report


# -- kill -9 ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ingest_killed_at_random_moments_loses_nothing(tmp_path, model, monkeypatch):
    source = slice_of_tutorialbank(tmp_path, 300)
    expected = unique_items(source)
    lib_path = create(tmp_path / "lib", empty=True)
    rng = random.Random(11)
    for trial, delay in enumerate([rng.uniform(0.5, 3), rng.uniform(3, 8), rng.uniform(8, 14)]):
        before = counts(lib_path)[0]
        proc = aidlgraph("--library", str(lib_path), "ingest", str(source))
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        items, vectors = counts(lib_path)
        assert items in (before, expected) and vectors == items, (trial, before, items, vectors)
        consistent_after_next_command(lib_path)
    committed = counts(lib_path)[0]
    spy = Embeddings(monkeypatch)
    with Library.open(lib_path) as lib:
        report = ingest(lib, [source])
        assert verify(lib)["ok"]
    assert counts(lib_path) == (expected, expected)
    assert report.embedded == spy.items_of(source) == expected - committed  # only what never committed


@pytest.mark.slow
@pytest.mark.parametrize("point", ["transaction", "commit", "index-write"])
def test_ingest_killed_at_the_critical_points(tmp_path, model, monkeypatch, point):
    """SIGKILL inside the transaction (all rolled back), between the commit and the index write
    (the index is stale: rebuilt from stored vectors), and halfway through the index write (a
    temporary file is left: cleared)."""
    lib_path = create(tmp_path / "lib", empty=True)
    source = FIXTURES / "mini"
    proc = subprocess.run([sys.executable, KILL_AT, point, "--library", str(lib_path), "ingest", str(source)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    items, vectors = counts(lib_path)
    assert (items, vectors) == ((0, 0) if point == "transaction" else (9, 9))
    if point == "index-write":
        assert list(lib_path.glob(".vectors-*.tmp"))
    forbid_embedding(monkeypatch)
    check = run(lib_path, "check", "--json")
    assert check.exit_code == 0, check.output
    report = json.loads(check.output)
    assert report["ok"] and report["items"] == items
    if point != "transaction":
        assert any("rebuilt it from 9 stored vectors" in n or "temporary files" in n for n in report["notes"]), report
    assert not list(lib_path.glob(".vectors-*.tmp"))
    consistent_after_next_command(lib_path)
    monkeypatch.undo()
    spy = Embeddings(monkeypatch)
    with Library.open(lib_path) as lib:
        again = ingest(lib, [source])
        assert lib.index.size == 9 and verify(lib)["ok"]
    assert again.embedded == spy.items_of(source) == (9 if point == "transaction" else 0)
    assert counts(lib_path) == (9, 9)


@pytest.mark.parametrize("code,message", [
    (28, "items saved, but the search index could not be written: disk full"),  # ENOSPC (issue 15's wording)
    (5, "items were stored, but writing the vector index failed"),  # EIO
])
def test_index_write_failing_after_the_commit_is_repaired_on_open(mini_library, tmp_path, monkeypatch, code, message):
    from aidlgraph.index import VectorIndex, read_stamp

    extra = tmp_path / "more.yaml"
    extra.write_text("- title: Streams and concurrency in CUDA\n  topics: [cuda basics]\n")
    stamp_before = read_stamp(mini_library.path / INDEX_NAME)

    def disk_full(self, path, stamp):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(VectorIndex, "save", disk_full)
    with pytest.raises(LibraryError, match=message):
        ingest(mini_library, [extra])
    monkeypatch.undo()
    assert counts(mini_library.path) == (10, 10)  # the commit stands
    assert read_stamp(mini_library.path / INDEX_NAME) == stamp_before  # the index on disk is the old one

    forbid_embedding(monkeypatch)
    with Library.open(mini_library.path) as lib:
        assert lib.index.size == 10  # rebuilt from the stored vectors on open, and saved
        assert read_stamp(lib.path / INDEX_NAME)["generation"] == lib.store.get_meta("generation")
        report = verify(lib)
    assert report["ok"] and report["index"] == "ok" and not report["notes"], report


def test_failed_ingest_does_not_leave_its_changes_in_the_open_index(mini_library, tmp_path, monkeypatch):
    """A rollback must take the in-memory index back too (a notebook or bot keeps its Library)."""
    from aidlgraph.build import apply as apply_module

    size = mini_library.index.size
    extra = tmp_path / "more.yaml"
    extra.write_text("- title: Streams and concurrency in CUDA\n")

    def fail(*args, **kwargs):
        raise RuntimeError("boom inside the transaction")
    monkeypatch.setattr(apply_module, "similar_edges", fail)
    with pytest.raises(RuntimeError):
        ingest(mini_library, [extra])
    assert counts(mini_library.path) == (9, 9)
    assert mini_library.index.size == size == 9


def test_a_long_lived_library_sees_another_writers_index(mini_library, tmp_path):
    """Writing through a Library whose index was loaded before another process wrote must not
    save that stale index over the other writer's."""
    mini_library.index  # loaded now
    other_file = tmp_path / "other.yaml"
    other_file.write_text("- title: Written by another process\n  topics: [cuda basics]\n")
    with Library.open(mini_library.path) as other:
        ingest(other, [other_file])
    mine = tmp_path / "mine.yaml"
    mine.write_text("- title: Written by the long-lived library\n  topics: [cuda basics]\n")
    ingest(mini_library, [mine])
    with Library.open(mini_library.path) as fresh:
        assert fresh.index.size == 11 and verify(fresh)["ok"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "missing", "stale-stamp", "bad-stamp", "leftover"])
def test_damaged_index_file_next_command_works_and_check_reports_it(mini_library, tmp_path, monkeypatch, damage):
    index = mini_library.path / INDEX_NAME
    stamp = index.with_suffix(".json")
    copies = []
    for name in ("command-first", "check-first"):
        mini_library.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copy = tmp_path / name
        shutil.copytree(mini_library.path, copy)
        copies.append(copy)
    for copy in copies:
        index, stamp = copy / INDEX_NAME, copy / "vectors.json"
        if damage == "garbage":
            index.write_bytes(os.urandom(index.stat().st_size))
        elif damage == "truncated":
            index.write_bytes(index.read_bytes()[: index.stat().st_size // 2])
        elif damage == "empty":
            index.write_bytes(b"")
        elif damage == "missing":
            index.unlink()
        elif damage == "stale-stamp":
            stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "generation": "0"}))
        elif damage == "bad-stamp":
            stamp.write_text("{not json")
        elif damage == "leftover":
            (copy / ".vectors-killed.tmp").write_bytes(b"partial")
    forbid_embedding(monkeypatch)
    command_first, check_first = copies
    result = run(command_first, "related", "cuda memory transfers", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["results"]
    report = json.loads(run(command_first, "check", "--json").output)
    assert report["ok"] and report["index"] == "ok", report

    result = run(check_first, "check")
    assert result.exit_code == 0, result.output
    assert "consistent" in result.output
    if damage == "leftover":
        assert "temporary files left by an interrupted index write; removed 1" in result.output
    else:
        assert "note: the FAISS index was" in result.output and "rebuilt it from 9 stored vectors" in result.output
    assert not list(check_first.glob(".vectors-*.tmp"))
    assert json.loads(run(check_first, "check", "--json").output)["notes"] == []  # healed for good


def damage_database(path: Path, how: str) -> None:
    db = path / "library.db"
    data = db.read_bytes()
    if how == "empty":
        db.write_bytes(b"")
    elif how == "truncated":
        db.write_bytes(data[: len(data) // 3])
    elif how == "garbage":
        db.write_bytes(os.urandom(len(data)))
    elif how == "pages":  # the header and schema survive; later pages are noise
        page = 4096
        db.write_bytes(data[: page * 8] + os.urandom(len(data) - page * 8))


@pytest.mark.parametrize("how", ["empty", "truncated", "garbage", "pages"])
def test_damaged_database_is_one_clear_line_with_a_repair_path(mini_library, tmp_path, how):
    mini_library.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "damaged"
    shutil.copytree(mini_library.path, copy)
    damage_database(copy, how)
    (tmp_path / "new.yaml").write_text("- title: Something new\n")
    for args in (["stats", "--json"], ["related", "cuda"], ["path", "cuda"], ["ask", "how do I start with cuda?"],
                 ["show", "abc"], ["topics"], ["ingest", str(tmp_path / "new.yaml")], ["check"], ["check", "--repair"]):
        result = run(copy, *args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (how, args, result.exception)
        lines = [line for line in result.output.splitlines() if line.strip()]
        if how == "pages" and args[0] != "check" and (result.exit_code == 0 or "damaged" not in result.output):
            continue  # the damaged pages were not on this command's way; check must still find them
        assert result.exit_code == 1, (how, args, result.output, result.exception)
        assert len(lines) == 1 and lines[0].startswith("error: "), (how, args, result.output)
        assert "damaged" in lines[0] or "not a readable library database" in lines[0], lines[0]
        assert "init --force" in lines[0] and "check --repair" not in lines[0], lines[0]


@pytest.mark.slow
def test_damaged_database_through_the_real_entry_point(mini_library, tmp_path):
    """`python -m aidlgraph` (main's last guard included): exit 1, one line, no traceback."""
    mini_library.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for how in ("truncated", "pages"):
        copy = tmp_path / how
        shutil.copytree(mini_library.path, copy)
        damage_database(copy, how)
        code, out, err = finish(aidlgraph("--library", str(copy), "check"), timeout=120)
        assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "damaged" in err and "init --force" in err


# -- check and --repair ----------------------------------------------------------------------------
def test_check_reports_a_newer_schema_and_upgrades_an_older_one(mini_library):
    db = mini_library.store.db
    db.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', datetime('now'))")
    report = verify(mini_library)
    assert not report["ok"] and any("schema version" in p for p in report["problems"])
    db.execute("DELETE FROM _migrations WHERE name = 'm999_from_the_future'")
    db.execute("DROP TABLE topic_vectors")  # as a library written before m004
    db.execute("DELETE FROM _migrations WHERE name = 'm004_topic_vectors'")
    with Library.open(mini_library.path) as lib:  # any open upgrades it, atomically
        assert migrations.version(lib.store.db) == len(migrations.MIGRATIONS)
        assert verify(lib)["ok"]


def test_check_reports_model_and_dimension_mismatches(mini_library, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_MODEL", "/elsewhere/another-model")
    report = verify(mini_library)
    assert not report["ok"] and any("AIDLGRAPH_MODEL" in p for p in report["problems"])
    monkeypatch.delenv("AIDLGRAPH_MODEL")
    mini_library.store.set_meta("dim", 512)
    report = verify(mini_library)
    assert not report["ok"] and any("do not have 512 dimensions" in p for p in report["problems"])
    mini_library.store.db.execute("DELETE FROM meta WHERE key = 'model'")
    assert any("does not record its model" in p for p in verify(mini_library)["problems"])


def test_check_finds_an_index_that_disagrees_with_the_vectors(mini_library, monkeypatch):
    from aidlgraph.index import VectorIndex

    ids, vectors = mini_library.store.vectors()
    forbid_embedding(monkeypatch)
    for wrong_ids, wrong_vectors, what in [(ids[1:], vectors[1:], "ids differ"),
                                            (ids, np.roll(vectors, 1, axis=0), "vectors differ")]:
        mini_library.save_index(VectorIndex.build(384, wrong_ids, wrong_vectors))  # a current stamp, wrong content
        mini_library._index = None
        report = verify(mini_library)
        assert report["ok"] and report["index"] == "ok (rebuilt)", report
        assert any(what in note for note in report["notes"]), report["notes"]
        assert verify(mini_library)["index"] == "ok"


def test_check_finds_a_prerequisite_cycle(mini_library):
    mini_library.store.db.execute(
        "INSERT INTO edges VALUES ('semantic-segmentation', 'neural-networks', 'prereq', 'curated', 1.0, 'loop')")
    mini_library.invalidate()
    report = verify(mini_library)
    assert not report["ok"] and report["cycle"]
    assert any("prerequisite cycle" in p and "semantic segmentation" in p for p in report["problems"])
    result = run(mini_library.path, "check", "--repair")
    assert result.exit_code == 1 and "prerequisite cycle" in result.output  # a cycle needs a person


def test_check_repair_removes_dangling_edges_and_orphan_vectors(mini_library, monkeypatch):
    db = mini_library.store.db
    db.execute("INSERT INTO edges VALUES ('no-such-item', 'cuda-basics', 'about', 'curated', 1.0, '')")
    db.execute("INSERT INTO edges VALUES ('c-programming', 'no-such-topic', 'prereq', 'curated', 1.0, '')")
    db.execute("INSERT INTO vectors VALUES (99999, 'x', ?)", [np.zeros(384, np.float32).tobytes()])
    result = run(mini_library.path, "check", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 1 and report["dangling_edges"] == 2 and report["vector_orphans"] == 1
    forbid_embedding(monkeypatch)
    result = run(mini_library.path, "check", "--repair")
    assert result.exit_code == 0, result.output
    assert "removed 2 dangling edges" in result.output and "removed 1 orphan vectors" in result.output
    assert "consistent" in result.output


def test_check_repair_reembeds_only_the_item_missing_its_vector(mini_library, monkeypatch):
    db = mini_library.store.db
    num, title, text = db.execute("SELECT num, title, text FROM items WHERE title LIKE 'Unified Memory%'").fetchone()
    stale = db.execute("SELECT num FROM items WHERE title LIKE 'Professional CUDA%'").fetchone()[0]
    original = mini_library.store.vectors([num])[1][0]
    db.execute("DELETE FROM vectors WHERE num = ?", [num])
    db.execute("UPDATE vectors SET content_hash = 'stale' WHERE num = ?", [stale])
    report = verify(mini_library)
    assert not report["ok"] and report["vectors_missing"] == 2
    spy = Embeddings(monkeypatch)
    done = repair(mini_library)
    assert "embedded 2 items that had no current vector" in done
    assert len(spy.texts) == 2 and f"{title}\n{text}" in spy.texts
    assert np.allclose(mini_library.store.vectors([num])[1][0], original, atol=1e-5)
    assert verify(mini_library)["ok"] and mini_library.index.size == 9


# -- concurrency -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_readers_during_an_ingest_see_old_or_new_never_an_error(mini_library, tmp_path):
    source = slice_of_tutorialbank(tmp_path, 200)
    before = counts(mini_library.path)[0]
    after = before + unique_items(source)
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def in_process_reader():  # many quick reads, each on a fresh Library as a command would open it
        while not stop.is_set():
            try:
                with Library.open(mini_library.path) as lib:
                    n = sum(lib.store.count_items().values())
                    lib.index.search(np.ones((1, 384), np.float32) / np.sqrt(384), 5)
                    seen.append(n)
            except Exception as exc:  # noqa: BLE001 - any error is the failure being tested for
                errors.append(repr(exc))
            time.sleep(0.05)

    reader = threading.Thread(target=in_process_reader)
    writer = aidlgraph("--library", str(mini_library.path), "ingest", str(source))
    reader.start()
    cli_reads = 0
    try:
        while writer.poll() is None:
            for args in (["stats", "--json"], ["related", "cuda kernels", "--json", "-k", "3"]):
                code, out, err = finish(aidlgraph("--library", str(mini_library.path), *args), timeout=120)
                assert code == 0, (args, err)
                if args[0] == "stats":
                    seen.append(sum(json.loads(out)["items"].values()))
                else:
                    assert "results" in json.loads(out)
                cli_reads += 1
    finally:
        stop.set()
        reader.join()
    code, out, err = finish(writer)
    assert code == 0, err
    assert not errors, errors[:3]
    assert cli_reads >= 1 and seen and set(seen) <= {before, after}, (before, after, sorted(set(seen)))
    with Library.open(mini_library.path) as lib:
        assert sum(lib.store.count_items().values()) == after and verify(lib)["ok"]


def test_a_second_writer_fails_at_once_or_waits(mini_library, tmp_path):
    source = tmp_path / "x.yaml"
    source.write_text("- title: Waiting for the writer\n  topics: [cuda basics]\n")
    with mini_library.writing():
        result = run(mini_library.path, "ingest", str(source))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "another aidlgraph process is writing" in result.output and "--wait" in result.output
    assert counts(mini_library.path) == (9, 9)

    holder = threading.Event()

    def hold_lock():
        with Library.open(mini_library.path) as other, other.writing():
            holder.set()
            time.sleep(1.5)
    thread = threading.Thread(target=hold_lock)
    thread.start()
    holder.wait(10)
    started = time.monotonic()
    result = run(mini_library.path, "--wait", "30", "ingest", str(source))
    thread.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.5 and "1 new" in result.output
    assert counts(mini_library.path) == (10, 10)


def lock_is_held(lib_path: Path) -> bool:
    import fcntl

    with open(lib_path / ".write.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_two_ingests_at_once_the_second_fails_clearly_nothing_corrupts(tmp_path, model):
    lib_path = create(tmp_path / "lib", empty=True)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    # Long enough to embed for a few seconds even through the fast ONNX path.
    body = "  text: " + "Gated recurrent units, vanishing gradients and truncated backpropagation through time. " * 6 + "\n"
    a.write_text("".join(f"- title: Alpha resource {n} on recurrent networks\n{body}" for n in range(400)))
    b.write_text("".join(f"- title: Beta resource {n} on convolution arithmetic\n" for n in range(40)))
    first = aidlgraph("--library", str(lib_path), "--wait", "60", "ingest", str(a))  # tolerates the probe below
    deadline = time.monotonic() + 120
    while not lock_is_held(lib_path) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the first ingest ended before the second could start"
    code, out, err = finish(aidlgraph("--library", str(lib_path), "ingest", str(b)))
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "another aidlgraph process is writing" in err and "--wait" in err
    code, out, err = finish(first)
    assert code == 0, err
    assert counts(lib_path) == (400, 400)
    with Library.open(lib_path) as lib:
        assert verify(lib)["ok"]
