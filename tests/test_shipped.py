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


# -- paths a teacher would sign (issue 12) ------------------------------------------------------
import pytest  # noqa: E402

from aidlgraph.errors import UnknownTopicError  # noqa: E402


@pytest.mark.parametrize("query, topic", [
    ("how do I learn resnets", "residual networks"),
    ("learn resnet", "residual networks"),
    ("I wanna get into GPU programming, total noob", "cuda basics"),
    ("reccurent nets", "recurrent neural networks"),
    ("fp16 training", "mixed precision training"),
    ("teach me residual nets", "residual networks"),
])
def test_casual_and_misspelled_queries_land_on_the_right_topic(shipped_library, query, topic):
    assert reading_path(shipped_library, query).topic == topic


def test_a_topic_the_library_lacks_is_said_plainly_with_the_nearest_items(shipped_library):
    with pytest.raises(UnknownTopicError) as err:
        reading_path(shipped_library, "quantum chemistry simulations")
    assert len(err.value.suggestions) == 3
    # the items nearest the query, when any is close enough to be worth a look (none is, here)
    assert len(err.value.related) <= 5 and all({"id", "title", "url"} <= set(r) for r in err.value.related)


def test_knowing_a_topic_counts_what_it_rests_on(shipped_library):
    p = reading_path(shipped_library, "semantic segmentation", known=["convolutional neural networks"])
    for foundation in ("linear algebra", "probability", "machine learning basics", "loss functions", "backpropagation"):
        assert foundation not in p.topics and foundation in p.skipped_known
    assert p.topics[-1] == "semantic segmentation" and "transfer learning" in p.topics


def test_a_known_target_is_its_own_one_topic_path_and_unknown_names_are_reported(shipped_library):
    p = reading_path(shipped_library, "resnet", known=["residual networks", "transformers"])
    assert p.topics == ["residual networks"] and p.steps and all(s.topic == "residual networks" for s in p.steps)
    assert p.ignored_known == ["transformers"]


def every_path(lib):
    for topic in lib.store.topics():
        yield reading_path(lib, topic["name"])


def test_no_step_is_filled_with_news_or_a_research_paper_on_the_way(shipped_library):
    for p in every_path(shipped_library):
        for s in p.steps:
            assert s.kind != "news", (p.topic, s.title)
            if s.topic_id != p.topic_id:
                assert s.medium != "paper" or s.core, (p.topic, s.topic, s.title)
                assert s.kind != "issue"


def test_a_step_with_nothing_good_says_so(shipped_library):
    p = reading_path(shipped_library, "GANs")
    target = [s for s in p.steps if s.topic_id == p.topic_id]
    assert len(target) == 1 and target[0].kind == "topic" and target[0].note == "no reading in the library yet"
    assert target[0].text  # the topic's own description instead


def test_introductions_before_the_manual_for_a_beginner(shipped_library):
    p = reading_path(shipped_library, "cuda for beginners")
    titles = [s.title for s in p.steps]
    assert p.topic == "cuda basics" and p.level == "beginner"
    assert "An Easy Introduction to CUDA C and C++" in titles
    assert "CUDA C Programming Guide" not in titles[:titles.index("An Easy Introduction to CUDA C and C++")]


def test_an_item_is_read_at_the_step_it_teaches_best(shipped_library):
    p = reading_path(shipped_library, "speed up my cuda kernels", known=["c programming", "cuda basics"])
    steps = {s.title: s.topic for s in p.steps}
    assert steps["How to Implement Performance Metrics in CUDA C/C++"] == "cuda performance measurement"
    assert not any(s.kind == "topic" and s.topic == "cuda performance measurement" for s in p.steps)


def test_the_target_step_leads_with_the_seminal_paper(shipped_library):
    p = reading_path(shipped_library, "residual networks")
    target = [s for s in p.steps if s.topic_id == p.topic_id]
    assert len(target) == 3 and target[0].title.startswith("Deep Residual Learning") and target[0].seminal


def test_time_follows_the_medium(shipped_library):
    p = reading_path(shipped_library, "cuda performance tuning")
    by_title = {s.title: s for s in p.steps}
    manual = next(s for s in p.steps if s.medium == "manual")
    article = by_title["How to Implement Performance Metrics in CUDA C/C++"]
    assert manual.minutes_low >= 120 and article.minutes_high <= 60 and manual.minutes_high > article.minutes_high
