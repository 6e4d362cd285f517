"""Ingest into a real library: counts, incremental re-ingest, prune, inferred topics, errors."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from aidlgraph.store import migrations
from aidlgraph.errors import CycleError, InputError, LibraryError, UnknownTopicError
from aidlgraph.build.ingest import ingest
from aidlgraph.build.bootstrap import create
from aidlgraph.library import Library
from conftest import FIXTURES


def snapshot(lib):
    """Everything a failed ingest must leave untouched."""
    db = lib.store.db
    rows = [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("items", "topics", "edges", "vectors")]
    return hashlib.sha1(repr(rows).encode()).hexdigest(), (lib.path / "vectors.faiss").read_bytes() if (lib.path / "vectors.faiss").exists() else b""


def test_migrations_are_recorded_once(mini_library):
    db = mini_library.store.db
    names = [r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()]
    assert names == [m.__name__ for m in migrations.MIGRATIONS]
    assert migrations.apply(db) == []
    assert {"items", "topics", "edges", "vectors", "items_fts", "query_cache"} <= set(db.table_names())


def test_ingest_stores_items_topics_edges_and_vectors(mini_library):
    store = mini_library.store
    assert store.count_items() == {"news": 1, "question": 1, "resource": 7}
    assert len(store.topics()) == 7
    edges = store.count_edges()
    assert edges["prereq"] == 5 and edges["next"] == 2 and edges["about"] >= 8
    ids, vectors = store.vectors()
    assert len(ids) == 9 and vectors.shape == (9, 384)
    assert mini_library.index.size == 9
    assert store.get_meta("model") == "all-MiniLM-L6-v2" and store.get_meta("dim") == "384"
    # FTS over title and text
    hits = store.fts('"cudamallocmanaged"', 5)
    assert [store.items_by_num([n])[n]["title"] for n, _ in hits] == ["Unified Memory for CUDA Beginners"]


def test_untagged_item_is_tagged_by_similarity(mini_library):
    rows = mini_library.store.db.execute(
        "SELECT e.source, e.confidence, e.reason FROM edges e JOIN items i ON i.id = e.src "
        "WHERE i.title = 'Understanding convolution filters in image networks' AND e.kind = 'about'").fetchall()
    assert rows and all(source == "inferred" and 0 < conf <= 1 and "score" in reason for source, conf, reason in rows)


def test_series_next_edges_follow_positions(mini_library):
    store = mini_library.store
    title = {r["id"]: r["title"] for r in store.items()}
    pairs = {(title[e["src"]], title[e["dst"]]) for e in store.edges("next")}
    assert pairs == {("An Easy Introduction to CUDA C and C++", "How to Optimize Data Transfers in CUDA C/C++"),
                     ("How to Optimize Data Transfers in CUDA C/C++", "Unified Memory for CUDA Beginners")}


def test_unchanged_reingest_embeds_nothing(mini_library):
    before = snapshot(mini_library)[0]
    report = ingest(mini_library, [FIXTURES / "mini"])
    assert (report.new, report.updated, report.embedded, report.unchanged) == (0, 0, 0, 9)
    assert snapshot(mini_library)[0] == before


def test_changed_item_is_reembedded_in_place_and_prune_removes(mini_library, tmp_path):
    src = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", src)
    ingest(mini_library, [src])  # the copy is another origin: same ids, so it updates in place
    items = (src / "items.yaml").read_text()
    items = items.replace("Pinned memory and batching", "Pinned memory, streams and batching")
    start = items.index("  - kind: news")
    end = items.index("  - title: Understanding convolution")
    items = items[:start] + items[end:]  # drop the Kaggle item
    (src / "items.yaml").write_text(items)
    nums_before = {r["id"]: r["num"] for r in mini_library.store.items()}
    report = ingest(mini_library, [src], prune=True)
    assert (report.updated, report.embedded, report.removed) == (1, 1, 1)
    rows = {r["title"]: r for r in mini_library.store.items()}
    assert "Google acquires Kaggle" not in rows
    changed = rows["How to Optimize Data Transfers in CUDA C/C++"]
    assert "streams" in changed["text"] and changed["num"] == nums_before[changed["id"]]
    assert mini_library.index.size == 8 and len(mini_library.store.vectors()[0]) == 8


def write(path, text):
    path.write_text(text)
    return path


def test_unknown_topic_leaves_library_unchanged(mini_library, tmp_path):
    before = snapshot(mini_library)
    f = write(tmp_path / "x.yaml", "- title: A paper\n  topics: [quantum basket weaving]\n")
    with pytest.raises(UnknownTopicError, match="unknown topic 'quantum basket weaving'"):
        ingest(mini_library, [f])
    assert snapshot(mini_library) == before


def test_unknown_topic_suggests_close_names(mini_library, tmp_path):
    f = write(tmp_path / "x.yaml", "- title: A paper\n  topics: [unified memroy]\n")
    with pytest.raises(UnknownTopicError, match="did you mean unified memory"):
        ingest(mini_library, [f])


def test_prerequisite_cycle_is_named_and_nothing_written(mini_library, tmp_path):
    before = snapshot(mini_library)
    f = write(tmp_path / "t.yaml", "topics:\n  - id: c-programming\n    name: c programming\n"
              "    description: C.\n    prerequisites: [{topic: unified memory, reason: loop}]\n")
    with pytest.raises(CycleError) as info:
        ingest(mini_library, [f])
    message = str(info.value)
    for name in ("c programming", "cuda basics", "unified memory"):
        assert name in message
    assert snapshot(mini_library) == before


def test_bad_file_among_good_ones_writes_nothing(mini_library, tmp_path):
    before = snapshot(mini_library)
    (tmp_path / "src").mkdir()
    write(tmp_path / "src" / "good.yaml", "- title: A fine new item\n")
    write(tmp_path / "src" / "zbad.yaml", "- title: [oops\n")
    with pytest.raises(InputError, match="malformed YAML"):
        ingest(mini_library, [tmp_path / "src"])
    assert snapshot(mini_library) == before


def test_model_mismatch_is_refused(mini_library, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_MODEL", "/nonexistent/other-model")
    with pytest.raises(LibraryError, match="built with model 'all-MiniLM-L6-v2'"):
        mini_library.embed_query("anything")


def test_second_writer_fails_clearly(mini_library, tmp_path):
    f = write(tmp_path / "x.yaml", "- title: Another item\n")
    with mini_library.writing():
        other = Library.open(mini_library.path)
        with pytest.raises(LibraryError, match="another aidlgraph process is writing"):
            ingest(other, [f])
        other.close()


def test_create_refuses_to_overwrite(tmp_path, model):
    path = create(tmp_path / "lib", empty=True)
    with pytest.raises(LibraryError, match="already exists"):
        create(path, empty=True)
    assert create(path, empty=True, force=True) == path


def test_folder_ingest_skips_library_directories(mini_library, tmp_path):
    (tmp_path / "notes.yaml").write_text("- title: A note about CUDA streams\n")
    report = ingest(mini_library, [tmp_path])  # tmp_path also holds the library itself
    assert (report.files, report.new) == (1, 1)


def test_open_without_library_and_no_build(tmp_path):
    with pytest.raises(LibraryError, match="aidlgraph init"):
        Library.open(tmp_path / "none")


def test_unchanged_reingest_writes_nothing(mini_library):
    generation = mini_library.store.get_meta("generation")
    index_mtime = (mini_library.path / "vectors.faiss").stat().st_mtime_ns
    ingest(mini_library, [FIXTURES / "mini"])
    assert mini_library.store.get_meta("generation") == generation
    assert (mini_library.path / "vectors.faiss").stat().st_mtime_ns == index_mtime


def test_topics_file_states_its_prerequisites_but_keeps_accepted_ones(mini_library, tmp_path):
    mini_library.store.decide("neural-networks", "unified-memory", "accepted")
    with mini_library.store.transaction():
        mini_library.store.add_edges([{"src": "neural-networks", "dst": "unified-memory", "kind": "prereq",
                                       "source": "curated", "reason": "accepted by a curator"}])
    topics = (FIXTURES / "mini" / "topics.yaml").read_text()
    edited = topics.replace("      - topic: gpu-architecture\n        reason: Kernels map onto the GPU's threads and multiprocessors.\n", "")
    assert edited != topics
    (tmp_path / "topics.yaml").write_text(edited)
    ingest(mini_library, [tmp_path / "topics.yaml"])
    pairs = {(e["src"], e["dst"]) for e in mini_library.store.edges("prereq")}
    assert ("gpu-architecture", "cuda-basics") not in pairs
    assert ("c-programming", "cuda-basics") in pairs and ("neural-networks", "unified-memory") in pairs


def test_unchanged_file_is_not_even_parsed(mini_library, tmp_path, monkeypatch):
    import aidlgraph.corpus as corpus

    f = tmp_path / "notes.yaml"
    f.write_text("- title: A note about CUDA streams\n")
    ingest(mini_library, [f])
    monkeypatch.setattr(corpus, "load_text", lambda *a, **k: pytest.fail("parsed an unchanged file"))
    report = ingest(mini_library, [f])
    assert (report.new, report.unchanged, report.embedded) == (0, 1, 0)
    monkeypatch.undo()
    f.write_text("- title: A note about CUDA streams and events\n")
    report = ingest(mini_library, [f], prune=True)
    assert (report.new, report.removed) == (1, 1)
