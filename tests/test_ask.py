"""`ask` on the shipped corpus and on the mini library: answers with sources, honest abstentions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aidlgraph.query import ask as asking
from aidlgraph.cli import cli
from aidlgraph.library import Library

ROOT = Path(__file__).resolve().parents[1]
SEGMENTATION_Q = "How do I approach image segmentation with deep learning?"
PROGRAMMING_Q = "How much programming, and which languages, should I learn for deep learning?"


@pytest.fixture(scope="module")
def shipped(shipped_library_path):
    lib = Library.open(shipped_library_path)
    yield lib
    lib.close()


def cli_ask(path: Path, question: str) -> dict:
    result = CliRunner().invoke(cli, ["--library", str(path), "ask", question, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- member questions -----------------------------------------------------------------------------
@pytest.mark.parametrize("question, title", [
    ("how would you go about segmenting images with deep nets once you know classification?", SEGMENTATION_Q),
    ("what programming languages do I need to know for deep learning work?", PROGRAMMING_Q),
])
def test_a_reworded_member_question_is_answered_from_the_members_answer(shipped, question, title):
    result = asking.ask(shipped, question)
    assert result["answered"] is True and result["kind"] == "question"
    assert result["sources"][0]["title"] == title
    member = next(r for r in shipped.store.items() if r["title"] == title)
    answer = " ".join(asking.answer_part(member["text"]).split())
    for quoted in result["passages"]:  # every quoted sentence is the member's answer, not the question
        assert " ".join(quoted["text"].split()) in answer


def test_a_member_answer_points_to_resources_on_its_topics(shipped):
    result = asking.ask(shipped, "I can do classification; how do I tackle image segmentation?")
    titles = [s["title"] for s in result["sources"]]
    assert titles[0] == SEGMENTATION_Q
    more = [s["title"] for s in result["sources"] if s["role"] == "read more"]
    assert any("cs231n" in t and "segmentation" in t for t in more)


# -- stated answers -------------------------------------------------------------------------------
def test_the_answer_states_what_the_archive_says_with_numbered_sources(shipped):
    result = asking.ask(shipped, "How much does the GTX 1080 Ti cost?")
    assert result["answered"] and "$699" in result["answer"] and result["answer"].rstrip().endswith("[1]")
    assert result["sources"][0]["n"] == 1 and "1080 Ti" in result["sources"][0]["title"]
    assert result["passages"] and result["passages"][0]["item"] == result["sources"][0]["id"]


def test_a_specific_the_archive_does_not_state_is_not_made_up(shipped):
    result = asking.ask(shipped, "How much did Google pay for Kaggle?")
    assert result["answered"] is False and result["answer"] == "" and result["sources"] == []
    assert "does not say" in result["why"]


def test_what_is_current_is_not_answered_from_an_old_archive(shipped):
    result = asking.ask(shipped, "What GPU should I buy in 2026?")
    assert result["answered"] is False and "archive ends in" in result["why"]


def test_a_dated_fact_is_answered_as_of_its_issue(shipped):
    result = asking.ask(shipped, "How many members does the AIDL Facebook group have these days?")
    assert result["answered"] is True and result["answer"].startswith("As of ") and "9000" in result["answer"]


# -- topics: where can I learn X, what is X -------------------------------------------------------
def test_where_can_i_learn_answers_and_then_lists_readings(mini_library):
    result = asking.ask(mini_library, "Where can I learn about unified memory?")
    assert result["answered"] is True and result["topic"] == "unified memory"
    assert any(s["title"] == "Unified Memory for CUDA Beginners" for s in result["sources"])


def test_a_topic_with_nothing_to_read_abstains_and_suggests_it(shipped):
    result = asking.ask(shipped, "Where can I learn linear algebra?")
    assert result["answered"] is False and result["sources"] == []
    assert result["suggestions"][0] == "linear algebra"


@pytest.mark.parametrize("question, source, says", [
    ("What is LARS?", "Layer-wise Adaptive Rate Scaling", "layer"),
    ("where can I learn about heaps?", "Resources on Understanding Heaps", "heap"),
    ("what is batch renorm?", "Batch renormalization", "batch"),
])
def test_a_question_naming_a_topic_is_answered_from_that_topic(shipped, question, source, says):
    result = asking.ask(shipped, question)
    assert result["answered"] is True
    assert any(source.lower() in s["title"].lower() for s in result["sources"])
    assert says in result["answer"].lower()


# -- abstaining -----------------------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "What's the best pizza topping?",
    "How do I renew my driving licence in Spain?",
    "Who will win the Tour de France this year?",
    "Where can I buy a cheap second-hand sofa?",
    "How do I fine-tune BERT for named entity recognition?",
])
def test_off_topic_and_near_miss_questions_abstain_with_suggestions(shipped, question):
    result = asking.ask(shipped, question)
    assert result["answered"] is False
    assert result["sources"] == [] and result["answer"] == ""
    names = {t["name"] for t in shipped.store.topics()}
    assert result["suggestions"] and set(result["suggestions"]) <= names


def test_the_mini_library_abstains_on_the_weather(mini_library):
    result = asking.ask(mini_library, "Will it be sunny in Porto on Saturday?")
    assert result["answered"] is False and result["suggestions"]


# -- matching names -------------------------------------------------------------------------------
def test_names_and_aliases_match_at_word_boundaries_and_short_ones_only_in_capitals(shipped):
    topics = shipped.store.topics()
    weights = {"lars": 1.0}
    assert asking.named_topics("What is LARS?", topics, weights) == {"large-batch-training": 1.0}
    assert "c-programming" not in asking.named_topics("what is plan c for the project?", topics, {"plan": 1.0, "project": 1.0})
    assert "reinforcement-learning-basics" not in asking.named_topics("rl stands for what?", topics, {"rl": 1.0})
    named = asking.named_topics("best RL library for robotics", topics, {"rl": 1.0, "library": 1.0, "robotic": 1.0})
    assert named["reinforcement-learning-basics"] == pytest.approx(1 / 3)
    # the longer name wins: "deep learning" inside "deep learning frameworks" is not a match of its own
    assert set(asking.named_topics("deep learning frameworks compared", topics, {"compared": 1.0})) == {"deep-learning-frameworks"}


def test_misspelt_words_are_read_as_the_librarys_words(shipped):
    assert asking.spell_fixed(shipped, "how to aproach semantic segmantation") == "how to approach semantic segmentation"
    assert asking.spell_fixed(shipped, "banana bread recipe") == "banana bread recipe"


# -- the command line -----------------------------------------------------------------------------
def test_ask_json_shape(shipped_library_path):
    answered = cli_ask(shipped_library_path, "Any tutorials on CUDA unified memory?")
    assert {"question", "answered", "answer", "confidence", "sources", "suggestions"} <= set(answered)
    assert answered["question"] == "Any tutorials on CUDA unified memory?"
    assert answered["answered"] is True and answered["answer"]
    assert 0.0 < answered["confidence"] <= 1.0
    assert answered["sources"] and all({"id", "title", "url", "date", "source", "role"} <= set(s)
                                       for s in answered["sources"])
    assert answered["passages"] and all({"text", "item", "score"} <= set(p) for p in answered["passages"])
    assert any("Unified Memory" in s["title"] for s in answered["sources"])
    item = Library.open(shipped_library_path)
    try:
        assert all(item.store.item(s["id"])["title"] == s["title"] for s in answered["sources"])
    finally:
        item.close()
    abstained = cli_ask(shipped_library_path, "How long should I roast a chicken?")
    assert abstained["answered"] is False and abstained["sources"] == [] and abstained["answer"] == ""
    assert isinstance(abstained["suggestions"], list) and all(isinstance(s, str) for s in abstained["suggestions"])


def test_ask_text_output_cites_sources(mini_library):
    result = CliRunner().invoke(cli, ["--library", str(mini_library.path), "ask", "I know classification, how should I approach segmentation?"])
    assert result.exit_code == 0, result.output
    assert "cs231n" in result.output and "Sources:" in result.output
    assert "How do I start with image segmentation?" in result.output


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_is_one_line_and_exit_1(mini_library, question):
    result = CliRunner().invoke(cli, ["--library", str(mini_library.path), "ask", question])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "empty" in lines[0]


# -- the calibration cases ------------------------------------------------------------------------
def test_the_case_file_is_split_by_its_rule_and_covers_what_it_must():
    cases = yaml.safe_load((ROOT / "data" / "faq_cases.yaml").read_text())["cases"]
    questions = [c for c in cases if c["kind"] == "question"]
    for title in (SEGMENTATION_Q, PROGRAMMING_Q):
        import re

        mine = [c for c in questions if re.search(c["expect"], title, re.I)]
        assert len(mine) >= 5 and {c["split"] for c in mine} == {"calibrate", "report"}
    assert sum(bool(c.get("abstain")) for c in cases) >= 40
    for kind in {c["kind"] for c in cases}:
        splits = [c["split"] for c in cases if c["kind"] == kind]
        assert abs(splits.count("calibrate") - splits.count("report")) <= 1, kind
