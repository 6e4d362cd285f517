"""Related items: input modes, fusion, reasons, filters, passage splitting and duplicates."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aidlgraph.cli import cli
from aidlgraph.errors import InputError
from aidlgraph.build.ingest import ingest
from aidlgraph.query.related import duplicates, related, split_passages
from aidlgraph.text import fts_query


def titles(result):
    return [r["title"] for r in result["results"]]


def test_dense_bm25_and_fused_each_find_the_obvious_match(mini_library):
    text = "cudaMallocManaged lets CPU and GPU share one allocation"
    for mode in ("dense", "bm25", "hybrid"):
        assert titles(related(mini_library, text, k=3, mode=mode))[0] == "Unified Memory for CUDA Beginners", mode


def test_fusion_ranks_an_item_found_by_both_searches_above_one_found_by_one(mini_library):
    # "Kaggle" is a rare word (BM25) and the sentence's meaning is about competitions (dense)
    # floor 0: every candidate is listed, so the second one (found by one search only) is there to compare
    out = related(mini_library, "Kaggle hosts data science competitions and was bought by Google", k=5, floor=0.0)
    assert out["results"][0]["title"] == "Google acquires Kaggle"
    top = out["results"][0]
    assert "kaggle" in top["matched_terms"] and top["cosine"] > 0.5
    assert top["score"] > out["results"][1]["score"]


def test_results_say_why(mini_library):
    out = related(mini_library, "semantic segmentation with fully convolutional networks", k=3)
    top = out["results"][0]
    assert top["title"] == "Fully Convolutional Networks for Semantic Segmentation"
    assert "shares topics: semantic segmentation" in top["why"]
    assert "matched terms:" in top["why"] and "segmentation" in top["matched_terms"]
    assert "semantic segmentation" in out["topics"]


def test_filters(mini_library):
    text = "CUDA programming on GPUs"
    kinds = {r["kind"] for r in related(mini_library, text, k=20, kinds=["question"])["results"]}
    assert kinds <= {"question"}
    excluded = related(mini_library, text, k=20, exclude_sources=["mini reading"])
    assert excluded["results"] == []
    everything = related(mini_library, text, k=20, floor=0.0)  # every candidate, however far
    assert len(everything["results"]) == 9
    least = everything["results"][3]["score"]
    assert all(r["score"] >= least for r in related(mini_library, text, k=20, min_score=least, floor=0.0)["results"])
    assert len(related(mini_library, text, k=2)["results"]) == 2


def test_date_filters(empty_library, tmp_path):
    f = tmp_path / "dated.yaml"
    f.write_text("source: News\nitems:\n"
                 "  - {title: TensorFlow 1.0 released, date: '2017-02-15', kind: news}\n"
                 "  - {title: TensorFlow 2.0 released, date: '2019-09-30', kind: news}\n"
                 "  - {title: TensorFlow undated note, kind: news}\n")
    ingest(empty_library, [f])
    assert titles(related(empty_library, "TensorFlow release", before="2018")) == ["TensorFlow 1.0 released"]
    assert titles(related(empty_library, "TensorFlow release", since="2018")) == ["TensorFlow 2.0 released"]
    assert len(titles(related(empty_library, "TensorFlow release"))) == 3


def test_long_draft_is_split_and_each_passage_finds_its_item(mini_library):
    draft = (
        "# This week\n\nGoogle bought Kaggle, home of data science competitions and a big community of "
        "practitioners who share notebooks and datasets. " + "Competitions matter. " * 40 + "\n\n"
        "## GPUs\n\nNVIDIA explained cudaMallocManaged and how managed memory migrates pages between "
        "host and device on demand. " + "Memory matters. " * 40 + "\n"
    )
    passages = split_passages(draft)
    assert len(passages) >= 2
    out = related(mini_library, draft, k=4)
    assert out["passages"] >= 2
    found = titles(out)
    assert "Google acquires Kaggle" in found and "Unified Memory for CUDA Beginners" in found


def test_fts_query_cannot_break_fts5_syntax(mini_library):
    for text in ['"unbalanced quote', "NEAR(cuda memory)", "col:title ^cuda* AND OR NOT", "((()))", "ünïcödé ✓ GPU"]:
        related(mini_library, text, k=3)  # must not raise
    assert fts_query('cuda "memory" NEAR(x)') == '"cuda" OR "memory" OR "near"'


def test_empty_text_is_an_error(mini_library):
    with pytest.raises(InputError, match="empty"):
        related(mini_library, "   ")


def test_cli_input_modes_and_json(mini_library, tmp_path):
    runner = CliRunner()
    base = ["--library", str(mini_library.path), "related"]
    by_arg = json.loads(runner.invoke(cli, base + ["managed memory for GPUs", "--json", "-k", "3"]).output)
    draft = tmp_path / "draft.md"
    draft.write_text("managed memory for GPUs\n")
    by_file = json.loads(runner.invoke(cli, base + ["--file", str(draft), "--json", "-k", "3"]).output)
    by_stdin = json.loads(runner.invoke(cli, base + ["-", "--json", "-k", "3"], input="managed memory for GPUs\n").output)
    assert titles(by_arg) == titles(by_file) == titles(by_stdin)
    assert set(by_arg) >= {"query", "results"}
    assert set(by_arg["results"][0]) >= {"id", "title", "url", "kind", "source", "score", "why"}
    empty = tmp_path / "empty.md"
    empty.write_text("")
    result = runner.invoke(cli, base + ["--file", str(empty)])
    assert result.exit_code == 1 and "empty" in result.output


def test_duplicates_are_flagged_not_merged(mini_library, tmp_path):
    f = tmp_path / "again.yaml"
    f.write_text("source: Another list\nitems:\n  - title: Unified Memory for CUDA Beginners\n"
                 "    text: cudaMallocManaged allocates memory that both CPU and GPU can access.\n"
                 "    topics: [unified memory]\n")
    report = ingest(mini_library, [f])
    assert len(report.duplicates) == 1
    pairs = duplicates(mini_library, 0.95)
    assert len(pairs) == 1 and {pairs[0]["a"]["source"], pairs[0]["b"]["source"]} == {"Mini reading list", "Another list"}
    out = related(mini_library, "cudaMallocManaged unified memory", k=3)
    assert out["results"][1].get("duplicate_of") == out["results"][0]["id"]
    assert mini_library.store.count_items()["resource"] == 8  # both kept
    listed = CliRunner().invoke(cli, ["--library", str(mini_library.path), "dupes", "--json"])
    assert len(json.loads(listed.output)) == 1


def test_show_lists_similar_items_without_searching(mini_library):
    src, dst, score = mini_library.store.db.execute(
        "SELECT src, dst, confidence FROM edges WHERE kind = 'similar' ORDER BY confidence DESC").fetchone()
    row = mini_library.store.item(src)
    out = CliRunner().invoke(cli, ["--library", str(mini_library.path), "show", row["id"], "--json"])
    detail = json.loads(out.output)
    assert detail["related"][0]["id"] == dst and detail["related"][0]["score"] == score
    assert all(r["score"] >= 0.55 for r in detail["related"])


def test_a_draft_longer_than_the_parts_searched_says_how_many_were_left_out(fake_library):
    from aidlgraph.query.related.retrieve import MAX_PARTS

    draft = "\n\n".join(f"Story {n}: pinned host memory speeds up device transfers in CUDA programs." for n in range(MAX_PARTS + 5))
    out = related(fake_library, draft, k=3)
    assert len(out["parts"]) == MAX_PARTS and out["skipped_parts"] == 5
    assert "skipped_parts" not in related(fake_library, "pinned host memory for CUDA transfers", k=3)
