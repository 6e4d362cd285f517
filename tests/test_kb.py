"""A community knowledge base (tests/fixtures/kb, expectations in kb.expected.yaml) read and ingested
as a curator would: one command, skipped pages named, FAQ answers and papers in their places."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aidlgraph.build.ingest import ingest
from aidlgraph.cli import cli
from aidlgraph.corpus import load_sources
from aidlgraph.corpus.markdown import load_markdown
from aidlgraph.corpus.model import medium_of
from aidlgraph.errors import InputError, NothingToReadError
from aidlgraph.library import Library
from aidlgraph.store import PROVENANCE
from aidlgraph.text import normalise_name, slugify
from conftest import FIXTURES

KB = FIXTURES / "kb"
EXPECTED = yaml.safe_load((FIXTURES / "kb.expected.yaml").read_text(encoding="utf-8"))


def words(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def pages():
    """Every page of the fixture, as the Markdown loader reads it."""
    return {p.name: load_markdown(p.read_text(encoding="utf-8"), str(p)) for p in KB.glob("*.md")}


@pytest.fixture(scope="module")
def kb_library(shipped_library_path, tmp_path_factory):
    """The shipped library with the whole knowledge-base folder ingested in one call."""
    path = tmp_path_factory.mktemp("kb") / "lib"
    shutil.copytree(shipped_library_path, path)
    lib = Library.open(path)
    report = ingest(lib, [KB])
    yield lib, report
    lib.close()


def items_of(lib, file: str) -> dict[str, dict]:
    return {r["title"]: r for r in lib.store.items() if Path(r["origin"]).name == file and r["kind"] == "resource"}


def curated_topics(lib, item_id: str) -> set[str]:
    return {t for t, source, _ in lib.store.item_topic_edges(item_id) if source == "curated"}


# -- reading the pages ----------------------------------------------------------------------------
def test_each_page_gives_its_resources_and_the_front_page_and_empty_page_none(pages):
    counts = {name: sum(1 for i in b.items if i.kind == "resource") for name, b in pages.items()}
    assert {k: v for k, v in counts.items() if k in EXPECTED["counts"]["per_file"]} == EXPECTED["counts"]["per_file"]
    assert counts["README.md"] == 0 and not pages["README.md"].items
    assert not pages["philosophy.md"].items and not pages["philosophy.md"].topics


def test_every_resource_carries_its_link_medium_access_level_star_and_year(pages):
    by_url = {i.url: i for b in pages.values() for i in b.items}
    wrong = []
    for r in EXPECTED["resources"]:
        item = by_url.get(r["url"])
        if item is None:
            wrong.append(f"missing {r['url']}")
            continue
        tags = r.get("tags") or {}
        want = {"title": r["title"], "free": tags.get("free"), "level": tags.get("level", ""),
                "core": bool(tags.get("star")), "date": str(tags.get("year", "")), "pdf": bool(tags.get("pdf"))}
        got = {"title": item.title, "free": item.free, "level": item.level, "core": item.core, "date": item.date,
               "pdf": "pdf" in item.extra.get("tags", [])}
        wrong += [f"{r['title'][:40]}: {k} {got[k]!r} != {want[k]!r}" for k in want if got[k] != want[k]]
        # the media heading is the medium, unless the link itself is a paper's
        allowed = {medium_of(r["media"])} | ({"paper"} if "arxiv.org" in r["url"] else set())
        if r["media"] and item.medium not in allowed:
            wrong.append(f"{r['title'][:40]}: medium {item.medium!r} not in {sorted(allowed)}")
    assert wrong == []


def test_media_headings_are_fields_never_topics(pages):
    declared = {normalise_name(t.name) for b in pages.values() for t in b.topics}
    assert not declared & {normalise_name(h) for h in EXPECTED["media_headings"]}


def test_the_faq_questions_are_question_items_whose_text_is_the_answer(pages):
    faq = EXPECTED["faq"]
    questions = {i.title: i for i in pages[faq["file"]].items if i.kind == "question"}
    assert list(questions) == [q["question"] for q in faq["questions"]]
    for q in faq["questions"]:
        answer = words(questions[q["question"]].text)
        assert all(words(part) in answer for part in q["answer_contains"]), q["question"]
    # each answer runs until the next question, never into it
    assert "phd" not in words(questions["Should I start with PyTorch or TensorFlow?"].text)


def test_a_resource_introduced_in_prose_is_an_item_with_the_paragraph(pages):
    [expected] = EXPECTED["prose_resources"]
    [item] = [i for i in pages[expected["file"]].items if i.url == expected["url"]]
    assert (item.title, item.authors) == (expected["title"], expected["authors"])
    assert item.text.startswith("If you only read one book, make it Deep Learning by Goodfellow")
    assert item.date == ""  # the year is not in the text: never invented


def test_researchers_table_rows_are_named_by_the_name_column(pages):
    rows = {i.url: i for i in pages["researchers.md"].items}
    assert [(rows[r["url"]].title, rows[r["url"]].medium) for r in EXPECTED["researchers"]["rows"]] == [
        (r["name"], "person") for r in EXPECTED["researchers"]["rows"]]


def test_folder_sources_skip_empty_pages_with_a_line_and_licences_quietly():
    sources = load_sources(KB)
    assert sorted(Path(f).name for f in sources.read) == sorted(EXPECTED["ingest"])
    assert [(Path(f).name, why) for f, why in sources.skipped] == [("README.md", "no items"), ("philosophy.md", "no items")]
    with pytest.raises(NothingToReadError, match="README.md: found no items"):
        load_sources(KB, strict=True)
    with pytest.raises(NothingToReadError, match="found no items"):
        load_sources(KB / "philosophy.md")  # named on its own, an empty page is an error


# -- one command ------------------------------------------------------------------------------------
def test_the_folder_ingests_in_one_command_and_says_what_it_read_and_skipped(tmp_path, shipped_library_path):
    shutil.copytree(shipped_library_path, tmp_path / "lib")
    result = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "ingest", str(KB)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[:2] == [f"skipped {KB / 'README.md'}: no items", f"skipped {KB / 'philosophy.md'}: no items"]
    assert "LICENSE" not in result.stdout and "package.json" not in result.stdout
    assert lines[-1].startswith("ingested 10 file(s) (computer-vision.md, gpu-programming.md, ")
    assert "new topic 'Graph Neural Networks': suggested prerequisites" in result.stdout


def test_strict_ingest_refuses_the_folder_and_writes_nothing(tmp_path, shipped_library_path):
    shutil.copytree(shipped_library_path, tmp_path / "lib")
    with Library.open(tmp_path / "lib") as lib:
        before = (lib.store.count_items(), lib.store.count_edges(), lib.store.generation)
        with pytest.raises(InputError, match="README.md: found no items"):
            ingest(lib, [KB], strict=True)
        assert (lib.store.count_items(), lib.store.count_edges(), lib.store.generation) == before


def test_the_report_lists_the_skipped_files(kb_library):
    _, report = kb_library
    assert [(Path(f).name, why) for f, why in report.skipped] == [("README.md", "no items"), ("philosophy.md", "no items")]
    assert len(report.read) == 10 and report.files == 10


def test_multi_topic_headings_tag_each_existing_topic(kb_library):
    lib, _ = kb_library
    for case in EXPECTED["multi_topic_headings"]:
        section = {i["title"]: i for i in items_of(lib, case["file"]).values()
                   if i["extra"].get("section", "").split(" > ")[0] == case["heading"]}
        assert section, case["heading"]
        for title, item in section.items():
            assert curated_topics(lib, item["id"]) == set(case["topics"]), (case["heading"], title)


def test_page_titles_under_media_headings_name_the_topic(kb_library):
    lib, _ = kb_library
    for file, topics in EXPECTED["page_topics"].items():
        if topics:
            direct = [i for i in items_of(lib, file).values() if medium_of(i["extra"].get("section", ""))]
            assert direct and all(curated_topics(lib, i["id"]) == set(topics) for i in direct), file


def test_seminal_papers_are_tagged_with_their_topics(kb_library):
    lib, _ = kb_library
    by_url = {r["url"]: r for r in lib.store.items()}
    wrong = []
    for paper in EXPECTED["seminal_papers"]:
        topics = curated_topics(lib, by_url[paper["url"]]["id"])
        want = {paper["topic"]} if paper["topic"] else {slugify(paper["new_topic_from_heading"])}
        if not topics & (want | set(paper.get("also_acceptable", []))) or (paper["topic"] == "semantic-segmentation"
                                                                            and paper["topic"] not in topics):
            wrong.append((paper["title"], sorted(topics)))
    assert wrong == []
    fcn = by_url["https://arxiv.org/abs/1411.4038"]
    assert "semantic-segmentation" in curated_topics(lib, fcn["id"]) and fcn["medium"] == "paper" and fcn["core"]


def test_an_unmatched_heading_becomes_a_topic_with_suggested_prerequisites(kb_library):
    lib, _ = kb_library
    topic = lib.store.topic("graph-neural-networks")
    assert topic["name"] == "Graph Neural Networks"
    edges = [e for e in lib.store.edges("prereq") if e["dst"] == "graph-neural-networks"]
    assert edges and all(e["source"] == "suggested" and e["reason"].startswith("suggested at ingest: ") for e in edges)
    assert all(lib.store.topic(e["src"]) is not None for e in edges)
    assert lib.graph.has_edge(edges[0]["src"], "graph-neural-networks")
    assert min(PROVENANCE, key=PROVENANCE.get) == "suggested"
    gnn = {r["title"] for r in lib.store.items(topic="graph-neural-networks")}
    assert "Graph Attention Networks" in gnn and len(gnn) == 4


def test_suggested_edges_never_reach_into_topics_a_curator_arranged(kb_library):
    lib, _ = kb_library
    new = {t["id"] for t in lib.store.topics() if Path(t["origin"]).parent == KB}
    assert new and all(e["dst"] in new for e in lib.store.edges("prereq") if e["source"] == "suggested")


def test_reingesting_the_folder_changes_nothing(kb_library):
    lib, _ = kb_library
    before = (lib.store.count_items(), lib.store.count_edges(), lib.store.generation)
    report = ingest(lib, [KB])
    assert (report.new, report.updated, report.embedded, report.topics_new) == (0, 0, 0, 0)
    assert (lib.store.count_items(), lib.store.count_edges(), lib.store.generation) == before


def test_the_faq_answers_come_back_from_ask(kb_library):
    lib, _ = kb_library
    result = CliRunner().invoke(cli, ["--library", str(lib.path), "ask", "Do I need a GPU to start?", "--json"])
    out = json.loads(result.stdout)
    assert out["answered"] and "Google Colab" in out["answer"]
    assert out["sources"][0]["title"] == "Do I need a GPU to start?"


def test_a_curator_accepts_or_rejects_a_suggested_prerequisite(kb_library, tmp_path):
    from aidlgraph.build.curate import accept, reject

    lib, _ = kb_library
    shutil.copytree(lib.path, tmp_path / "lib")
    with Library.open(tmp_path / "lib") as copy:
        first, second = [e for e in copy.store.edges("prereq") if e["dst"] == "graph-neural-networks"][:2]
        reject(copy, first["src"], "graph-neural-networks")
        assert copy.store.edge(first["src"], "graph-neural-networks", "prereq") is None
        decision = accept(copy, second["src"], "graph-neural-networks")
        assert decision.what == "was suggested; now curated"
        assert copy.store.edge(second["src"], "graph-neural-networks", "prereq")["source"] == "curated"
