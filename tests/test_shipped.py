"""End to end on the shipped corpus: it loads whole, paths follow the curated graph, and new
reading lists join paths through the topic tagging done at ingest."""
from __future__ import annotations

import yaml

from aidlgraph.corpus import load_path
from aidlgraph.build.ingest import ingest
from aidlgraph.query.path import reading_path
from conftest import ROOT


def test_shipped_corpus_is_complete_and_consistent(shipped_library):
    store = shipped_library.store
    counts = store.count_items()
    assert set(counts) == {"resource", "news", "post", "question", "issue"}
    assert counts["question"] >= 2 and counts["issue"] == 4 and sum(counts.values()) >= 90
    assert len(store.topics()) >= 60
    untagged = store.db.execute(
        "SELECT count(*) FROM items WHERE id NOT IN (SELECT src FROM edges WHERE kind = 'about')").fetchone()[0]
    assert untagged == 0
    harris = [r for r in store.items() if r["series"]]
    assert [r["position"] for r in harris] == list(range(1, 11))
    from aidlgraph.query.check import verify
    assert verify(shipped_library)["ok"]


def test_every_prerequisite_has_a_reason_and_no_fact_is_invented():
    topics = yaml.safe_load((ROOT / "data" / "topics.yaml").read_text())["topics"]
    for t in topics:
        for p in t.get("prerequisites") or []:
            assert p.get("reason"), (t["id"], p)
    # The seed has no links: every URL was looked up, and each is recorded with how it was
    # verified in docs/corpus_urls.md; a URL that is not there was not verified.
    verified = (ROOT / "docs" / "corpus_urls.md").read_text()
    for batch in load_path(ROOT / "data" / "items"):
        for item in batch.items:
            assert not item.url or (item.url.startswith(("https://", "http://")) and item.url in verified), item.url


def test_path_orders_series_and_prerequisites(shipped_library):
    p = reading_path(shipped_library, "finite difference methods on gpu", per_topic=3)
    titles = [s.title for s in p.steps]
    parts = [s.part for s in p.steps if s.series]
    assert parts == sorted(parts), titles
    for query in ("matrix transpose in CUDA", "unified memory", "overlapping data transfers"):
        for per_topic in (1, 2, 4):
            steps = reading_path(shipped_library, query, per_topic=per_topic).steps
            parts = [s.part for s in steps if s.series]
            assert parts == sorted(parts), (query, per_topic, [s.title for s in steps])
    cuda = next(n for n, s in enumerate(p.steps) if s.topic_id == "cuda-basics")
    assert cuda < len(p.steps) - 1 and p.steps[-1].topic == p.topic


def test_known_topics_shorten_the_path(shipped_library):
    full = reading_path(shipped_library, "semantic segmentation")
    known = reading_path(shipped_library, "semantic segmentation", known=["backpropagation"])
    assert "backpropagation" in full.topics and "backpropagation" not in known.topics
    assert "calculus" not in known.topics  # it lies only behind backpropagation ...
    assert "convolutional neural networks" in known.topics  # ... but CNNs do not
    assert len(known.steps) < len(full.steps)


def test_a_new_reading_list_joins_the_path(shipped_library, tmp_path):
    md = tmp_path / "segmentation.md"
    md.write_text(
        "# Awesome Segmentation\n\n## Papers\n\n"
        "- [Fully Convolutional Networks for Semantic Segmentation](https://arxiv.org/abs/1411.4038)"
        " - Long, Shelhamer, Darrell (2015). Per-pixel labelling with a convnet that upsamples its features.\n")
    report = ingest(shipped_library, [md])
    assert report.new == 1
    p = reading_path(shipped_library, "semantic segmentation", per_topic=4)
    assert any("Fully Convolutional Networks" in s.title for s in p.steps), [s.title for s in p.steps]
