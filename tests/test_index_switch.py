"""The index that grows with the library: past a size threshold an ingest switches the flat FAISS
index to an approximate one (IVF), records it, and related/ask answer through it as they did
through exact search; check verifies it; a failed index write and later updates leave it right.

The threshold is forced down (a few hundred items) so the libraries stay small; vectors come from
the deterministic FakeEmbedder (the index does not care which model made them)."""
from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from aidlgraph import config, index
from aidlgraph.build.bootstrap import create
from aidlgraph.build.ingest import ingest
from aidlgraph.embed import FakeEmbedder
from aidlgraph.errors import LibraryError
from aidlgraph.index import VectorIndex, read_stamp
from aidlgraph.library import INDEX_NAME, Library
from aidlgraph.query.ask import ask
from aidlgraph.query.check import verify
from aidlgraph.query.related import related

THRESHOLD = 300
VOCABULARY = {
    "CUDA": "kernels threads blocks warps shared memory pinned transfers streams occupancy coalescing",
    "Segmentation": "pixels masks labelling regions boundaries encoder decoder upsampling instances panoptic",
    "Parsing": "grammars trees constituents dependencies chart shift reduce treebank heads spans",
    "Reinforcement learning": "rewards policies agents episodes value bellman exploration bandits returns rollouts",
    "Optimisation": "gradients momentum learning rates adam schedules convergence curvature saddle minima",
    "Embeddings": "words vectors cosine similarity contexts skipgram glove subwords sentences neighbours",
}
QUERIES = ["shared memory and pinned transfers in kernels", "decoder upsampling for pixel masks",
           "bellman returns of an agent", "adam momentum and learning rate schedules",
           "chart parsing with a treebank grammar"]


def rows(start: int, count: int, seed: int = 5, revised: int = 0) -> str:
    """TSV rows of items whose titles mix a topic's words (so items cluster by topic), each with
    its own link; the first ``revised`` of them get a new description (same items, new text)."""
    rng = random.Random(seed + start)
    lines = ["title\turl\ttopic_name\tdescription"]
    topics = sorted(VOCABULARY)
    for n in range(start, start + count):
        topic = topics[n % len(topics)]
        words = rng.sample(VOCABULARY[topic].split(), 4) + rng.sample(VOCABULARY[rng.choice(topics)].split(), 1)
        word = rng.choice(VOCABULARY[topic].split())
        about = f"revised notes on {word}" if n - start < revised else ""
        lines.append(f"{' '.join(words).capitalize()} note {n}\thttps://notes.example/{n}\t{topic}\t{about}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def fake():
    return FakeEmbedder(name=config.DEFAULT_MODEL)  # named as the configured model, so check agrees


@pytest.fixture
def forced(monkeypatch):
    """Approximate search from THRESHOLD vectors, tuned to find the whole exact top 10."""
    monkeypatch.setattr(index, "APPROXIMATE_FROM", THRESHOLD)
    monkeypatch.setattr(index, "RECALL_TARGET", 1.0)


@pytest.fixture
def switched(tmp_path, fake, forced):
    """A library that crossed the threshold on its second ingest: (path, the two source files)."""
    first, second = tmp_path / "first.tsv", tmp_path / "second.tsv"
    first.write_text(rows(0, 200))
    second.write_text(rows(200, 250))
    path = create(tmp_path / "lib", empty=True, embedder=fake)
    with Library.open(path, embedder=fake) as lib:
        ingest(lib, [first])
        assert read_stamp(path / INDEX_NAME)["index"]["kind"] == "flat" and lib.index.kind == "flat"
        ingest(lib, [second])
    return path, first, second


def test_ingest_past_the_threshold_switches_and_records_it(switched, fake):
    path, _, _ = switched
    recorded = read_stamp(path / INDEX_NAME)["index"]
    assert recorded["kind"] == "ivf" and recorded["approximate_from"] == THRESHOLD
    assert recorded["trained_for"] == 450 and 1 < recorded["nlist"] < 450
    assert 1 <= recorded["nprobe"] <= recorded["nlist"] and recorded["recall_at_10"] == 1.0
    with Library.open(path, embedder=fake) as lib:
        assert lib.index.kind == "ivf" and lib.index.size == 450
        assert lib.index.mapped  # read with mmap: a command touches only the lists it searches
        assert lib.index.describe()["nprobe"] == recorded["nprobe"]
        ids, vectors = lib.store.vectors(dim=lib.dim)
        assert sorted(lib.index.ids().tolist()) == sorted(ids.tolist())
        exact = VectorIndex.build(lib.dim, ids, vectors, kind="flat")
        queries = vectors[::7]
        assert np.array_equal(lib.index.search(queries, 10)[1], exact.search(queries, 10)[1])


def test_related_and_ask_through_the_switched_index_equal_exact_search(switched, fake, tmp_path, monkeypatch):
    path, _, _ = switched
    exact_copy = tmp_path / "exact"
    shutil.copytree(path, exact_copy)

    def answers(library):
        with Library.open(library, embedder=fake) as lib:
            kind = lib.index.kind
            found = [[r["id"] for r in related(lib, q, k=10, floor=0)["results"]] for q in QUERIES]  # every candidate, no floor
            asked = [ask(lib, f"where can I learn about {q}?") for q in QUERIES]
            return kind, found, asked

    kind, approximate_related, approximate_ask = answers(path)
    monkeypatch.setattr(index, "APPROXIMATE_FROM", 10 ** 9)
    with Library.open(exact_copy, embedder=fake) as lib:
        assert lib.rebuild_index(save=True).kind == "flat"
    exact_kind, exact_related, exact_ask = answers(exact_copy)
    assert (kind, exact_kind) == ("ivf", "flat")
    assert all(len(r) == 10 for r in exact_related)
    assert approximate_related == exact_related and approximate_ask == exact_ask


def test_check_after_a_switch(switched, fake):
    path, _, _ = switched
    with Library.open(path, embedder=fake) as lib:
        report = verify(lib)
        assert report["ok"] and report["index"] == "ok", report
        assert report["index_kind"]["kind"] == "ivf" and report["index_kind"]["recall_at_10_checked"] >= 0.95

        stamp = read_stamp(path / INDEX_NAME)  # a stamp that records other parameters than the file's
        (path / "vectors.json").write_text(json.dumps({**stamp, "index": {**stamp["index"], "nprobe": 999}}))
        lib._index = None
        report = verify(lib)
        assert report["ok"] and report["index"] == "ok (rebuilt)"
        assert any("not what its stamp records" in note for note in report["notes"]), report["notes"]
        assert verify(lib)["index"] == "ok"

        ids, vectors = lib.store.vectors(dim=lib.dim)  # an exact index where the library is past the threshold
        with lib.writing():
            lib.save_index(VectorIndex.build(lib.dim, ids, vectors, kind="flat"))
        lib._index = None
        report = verify(lib)
        assert any("the library uses the other kind" in note for note in report["notes"]), report["notes"]
        assert report["index_kind"]["kind"] == "ivf" and verify(lib)["index"] == "ok"


def test_low_recall_is_a_problem_that_repair_fixes(switched, fake, monkeypatch):
    from aidlgraph.query.check import repair

    path, _, _ = switched
    with Library.open(path, embedder=fake) as lib:
        with lib.writing():  # an IVF that scans one list: it misses much of the exact top 10
            one_list = VectorIndex.build(lib.dim, *lib.store.vectors(dim=lib.dim))
            one_list.index.nprobe = 1
            lib.save_index(one_list)
        stamp = read_stamp(path / INDEX_NAME)
        assert stamp["index"]["nprobe"] == 1
        lib._index = None
        report = verify(lib)
        assert not report["ok"] and any("of the exact top 10" in p for p in report["problems"]), report
        repair(lib)
        assert verify(lib)["ok"] and read_stamp(path / INDEX_NAME)["index"]["nprobe"] > 1


def test_a_failed_index_write_at_the_switch_is_repaired_as_the_new_kind(tmp_path, fake, forced, monkeypatch):
    first, second = tmp_path / "first.tsv", tmp_path / "second.tsv"
    first.write_text(rows(0, 200))
    second.write_text(rows(200, 250))
    path = create(tmp_path / "lib", empty=True, embedder=fake)
    with Library.open(path, embedder=fake) as lib:
        ingest(lib, [first])
        before = read_stamp(path / INDEX_NAME)

        def disk_full(self, target, stamp):
            raise OSError(28, "No space left on device")

        with monkeypatch.context() as patch:
            patch.setattr(VectorIndex, "save", disk_full)
            with pytest.raises(LibraryError, match="the search index could not be written"):
                ingest(lib, [second])
        assert read_stamp(path / INDEX_NAME) == before  # the old flat index and its stamp, whole
    with Library.open(path, embedder=fake) as lib:
        assert lib.index.kind == "ivf" and lib.index.size == 450  # rebuilt from the stored vectors
        assert read_stamp(path / INDEX_NAME)["index"]["kind"] == "ivf"
        assert verify(lib)["ok"]


def test_updates_removals_and_shrinking_back(switched, fake, tmp_path):
    path, first, second = switched
    with Library.open(path, embedder=fake) as lib:
        assert lib.index.mapped
        second.write_text(rows(200, 250, revised=120))  # the same items, 120 of them with new text
        report = ingest(lib, [second])
        assert (report.updated, report.embedded) == (120, 120)  # each one's old vector removed, the new added
        assert lib.index.kind == "ivf" and not lib.index.mapped
        assert lib.index.size == lib.store.item_total() == 450
        assert verify(lib)["ok"]

        second.write_text(rows(200, 10))
        ingest(lib, [second], prune=True)
        first.write_text(rows(0, 100))
        ingest(lib, [first], prune=True)  # 110 items: below half the threshold
        assert lib.index.kind == "flat" and lib.index.size == 110
        assert read_stamp(path / INDEX_NAME)["index"]["kind"] == "flat"
        assert verify(lib)["ok"]


def test_kind_and_lists_for_a_size(monkeypatch):
    monkeypatch.setattr(index, "APPROXIMATE_FROM", 50_000)
    assert [index.kind_for(n) for n in (0, 49_999, 50_000, 10 ** 6)] == ["flat", "flat", "ivf", "ivf"]
    assert index.kind_for(30_000, "ivf") == "ivf" and index.kind_for(24_999, "ivf") == "flat"  # hysteresis
    assert [index.nlist_for(n) for n in (50_000, 200_000, 1_000_000)] == [1024, 2048, 4096]
    assert index.probes(2048)[:8] == [1, 2, 3, 4, 6, 8, 12, 16] and index.probes(2048)[-1] == 2048


def test_a_path_through_a_large_topic_scores_only_its_nearest_items_and_reads_the_same(switched, fake, monkeypatch):
    """Past CANDIDATES tagged items a topic's readings are chosen among its nearest items by
    meaning (through the index); the best readings are near the topic, so the path is unchanged."""
    from aidlgraph.query import path as paths
    from aidlgraph.store import Store

    path, _, _ = switched
    monkeypatch.setattr(paths, "FLOOR", {**paths.FLOOR, "resource": -1.0})  # the fake model's cosines are small

    def readings(topic):
        with Library.open(path, embedder=fake) as lib:
            return [(s.topic_id, s.id) for s in paths.reading_path(lib, topic, per_topic=3).steps]

    exact = {t: readings(t) for t in ("Segmentation", "CUDA", "Parsing")}
    assert all(len(steps) == 3 and all(iid for _, iid in steps) for steps in exact.values()), exact
    seen = []
    among = Store.items_about_among
    monkeypatch.setattr(Store, "items_about_among", lambda self, tid, nums: seen.append((tid, len(nums))) or among(self, tid, nums))
    monkeypatch.setattr(paths, "CANDIDATES", 10)
    monkeypatch.setattr(paths, "NEAREST", 450)  # the whole library (as far as IVF reaches): the same readings
    assert {t: readings(t) for t in exact} == exact
    assert sorted(tid for tid, _ in seen) == ["cuda", "parsing", "segmentation"] and all(n > 100 for _, n in seen)

    monkeypatch.setattr(paths, "NEAREST", 100)  # the fake model's neighbours are noise: each reading is
    with Library.open(path, embedder=fake) as lib:  # among the topic's 100 nearest, or none of its items is
        tids, matrix = lib.topic_vectors()
        for name, steps in exact.items():
            tid = steps[0][0]
            nearest = set(lib.index.search(matrix[tids.index(tid)], 100)[1][0].tolist())
            tagged_near = lib.store.items_about_among(tid, sorted(nearest))
            got = [iid for _, iid in readings(name)]
            if tagged_near:
                assert {item["id"] for item, _ in tagged_near} >= set(got) and len(got) == 3
            else:
                assert got == [iid for _, iid in steps]
