"""Reading paths on the mini library: resolution, order, steps, formats, time estimates."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aidlgraph.cli import cli
from aidlgraph.errors import UnknownTopicError
from aidlgraph.query.path import reading_path


@pytest.fixture(scope="module")
def lib(shared_library):
    return shared_library


def run(lib, *args):
    return CliRunner().invoke(cli, ["--library", str(lib.path), "path", *args])


# -- resolution ---------------------------------------------------------------------------------
@pytest.mark.parametrize("query, how", [
    ("unified memory", "by name"),
    ("Unified  Memory", "by name"),
    ("managed memory", "by alias"),
    ("unifed memory", "with confidence"),
    ("one address space shared by CPU and GPU", "with confidence"),
])
def test_query_resolves_to_the_topic(lib, query, how):
    p = reading_path(lib, query)
    assert p.topic == "unified memory"
    assert p.resolution.startswith(f'resolved "{query}" -> topic "unified memory" {how}')


def test_resolution_is_the_first_line_of_the_text(lib):
    result = run(lib, "managed memory")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == 'resolved "managed memory" -> topic "unified memory" by alias'


def test_unknown_query_exits_1_with_the_closest_topics_and_items(lib):
    with pytest.raises(UnknownTopicError) as err:
        reading_path(lib, "medieval tapestry weaving techniques")
    assert len(err.value.suggestions) == 3
    result = run(lib, "medieval tapestry weaving techniques")
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert lines[0] == 'The library has no topic for "medieval tapestry weaving techniques".'
    assert lines[1] == "Closest topics: " + ", ".join(err.value.suggestions)
    data = json.loads(run(lib, "medieval tapestry weaving techniques", "--json").stdout)
    assert data["topic"] is None and data["steps"] == [] and data["candidates"] == err.value.suggestions
    assert all({"id", "title", "url"} <= set(r) for r in data["related"])


def test_empty_query_is_refused(lib):
    result = run(lib, "   ")
    assert result.exit_code == 1 and "query is empty" in result.output


# -- order and steps ----------------------------------------------------------------------------
def test_prerequisites_come_first_and_target_last(lib):
    p = reading_path(lib, "unified memory")
    assert p.topics[-1] == "unified memory"
    assert set(p.topics) == {"c programming", "gpu architecture", "cuda basics", "unified memory"}
    place = {t: i for i, t in enumerate(p.topics)}
    assert place["c programming"] < place["cuda basics"] and place["gpu architecture"] < place["cuda basics"]
    assert place["cuda basics"] < place["unified memory"]
    # steps follow the topic order, numbered from 1
    assert [s.position for s in p.steps] == list(range(1, len(p.steps) + 1))
    seen = list(dict.fromkeys(s.topic for s in p.steps))
    assert seen == p.topics


def test_series_order_is_kept(lib):
    p = reading_path(lib, "unified memory")
    parts = [(s.part, s.title) for s in p.steps if s.series == "CUDA intro"]
    assert [n for n, _ in parts] == [1, 2, 3]
    assert parts[0][1] == "An Easy Introduction to CUDA C and C++"
    assert parts[-1][1] == "Unified Memory for CUDA Beginners"
    assert "part 3 of series CUDA intro" in p.steps[-1].reason


def test_prerequisite_without_items_is_a_topic_step(lib):
    p = reading_path(lib, "cuda basics")
    steps = {s.topic: s for s in p.steps}
    c = steps["c programming"]
    assert c.kind == "topic" and c.title == "c programming" and c.url == ""
    assert c.text == "The C programming language, its pointers and memory model."
    assert c.reason == "prerequisite of cuda basics: CUDA C is C with extensions, so C comes first"


def test_every_step_says_why(lib):
    p = reading_path(lib, "semantic segmentation")
    assert all(s.reason for s in p.steps)
    assert [s.reason for s in p.steps if s.topic == "semantic segmentation"][0].startswith("the topic you asked for")
    cnn = [s for s in p.steps if s.topic == "convolutional neural networks"]
    assert cnn and cnn[0].reason.startswith("prerequisite of semantic segmentation: Segmentation networks")


def test_known_topics_are_skipped_with_what_lies_behind_them(lib):
    p = reading_path(lib, "unified memory", known=["cuda"])
    assert p.topics == ["unified memory"]
    assert p.skipped_known == ["c programming", "cuda basics", "gpu architecture"]  # cuda rests on both
    result = run(lib, "unified memory", "--known", "cuda basics,c language")
    assert result.exit_code == 0, result.output
    assert "skipping what you know: c programming, cuda basics, gpu architecture" in result.output
    assert "## gpu architecture" not in result.output


def test_depth_limits_the_hops(lib):
    assert reading_path(lib, "semantic segmentation", depth=1).topics == [
        "convolutional neural networks", "semantic segmentation"]
    assert reading_path(lib, "semantic segmentation", depth=0).topics == ["semantic segmentation"]


def test_per_topic_caps_items(lib):
    p = reading_path(lib, "cuda basics", per_topic=1)
    assert len([s for s in p.steps if s.topic == "cuda basics"]) == 1


# -- formats ------------------------------------------------------------------------------------
def test_json_shape(lib):
    result = run(lib, "unified memory", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == "unified memory" and data["topic"] == "unified memory"
    assert data["topics"][-1] == "unified memory"
    assert isinstance(data["minutes"], int) and data["minutes"] > 0
    steps = data["steps"]
    assert [s["position"] for s in steps] == list(range(1, len(steps) + 1))
    for s in steps:
        assert {"position", "topic", "title", "url", "kind", "reason", "medium", "level", "minutes_low",
                "minutes_high", "note"} <= set(s)
        assert s["kind"] in {"topic", "resource", "news", "post", "question", "issue"}
        # a reading takes time; a topic with no reading and no estimate of its own has none
        assert (s["minutes_high"] >= s["minutes_low"] > 0) if s["kind"] != "topic" else s["minutes_high"] == 0
    assert {s["topic"] for s in steps if s["kind"] == "topic"} == {"c programming", "gpu architecture"}
    assert all(s["note"] == "no reading in the library yet" for s in steps if s["kind"] == "topic")
    # --format json is the same as --json
    assert json.loads(run(lib, "unified memory", "--format", "json").output) == data


def test_markdown(lib):
    result = run(lib, "cuda basics", "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "### Reading path: cuda basics"
    assert any(l.startswith("1. **c programming** (topic; no reading in the library yet): The C programming language")
               for l in lines)
    numbered = [l for l in lines if l[:1].isdigit()]
    assert [int(l.split(".")[0]) for l in numbered] == list(range(1, len(numbered) + 1))
    assert all(" — " in l and l.endswith("_") for l in numbered)


def test_mermaid(lib):
    result = run(lib, "unified memory", "--format", "mermaid")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "flowchart LR"
    names = {l.split("[")[0].strip(): l.split('"')[1] for l in lines if "[" in l}
    assert set(names.values()) == {"c programming", "gpu architecture", "cuda basics", "unified memory"}
    ids = {v: k for k, v in names.items()}
    assert f"  {ids['cuda basics']} --> {ids['unified memory']}" in lines
    assert sum("-->" in l for l in lines) == 3


def test_time_estimates_are_ranges(lib):
    p = reading_path(lib, "unified memory")
    assert all(s.estimated for s in p.steps)  # the mini corpus gives no durations
    readings = [s for s in p.steps if s.kind != "topic"]
    # resources of no known medium: 20-60 min each; topics with no reading: no guess at all
    assert all((s.minutes_low, s.minutes_high) == (20, 60) for s in readings)
    assert p.minutes_range == (20 * len(readings), 60 * len(readings))
    text = run(lib, "unified memory").output
    assert len(readings) == 3 and text.splitlines()[1] == (
        "Reading path to unified memory: 4 topics, 5 steps, about 1-3 h of reading, plus 2 topics with no reading "
        "in the library")
    assert "(resource, ~20-60 min)" in text


def test_paid_items_are_marked_and_free_ones_preferred(lib):
    p = reading_path(lib, "cuda basics", per_topic=3)
    titles = [s.title for s in p.steps if s.topic == "cuda basics"]
    assert titles[-1] == "Professional CUDA C Programming"
    assert "paid" in run(lib, "cuda basics", "--per-topic", "3").output
