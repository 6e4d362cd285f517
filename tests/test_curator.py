"""What a curator meets writing an issue, on the shipped archive: a multi-story draft searched a
part at a time, junk that gets an honest "nothing close", the already-covered flag, reasons
without filler, and `dupes` telling duplicates from parts of a series and pieces of one issue.

The drafts here are written for these tests (not taken from data/curator_cases.yaml, which is
kept for calibration and reporting)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from aidlgraph.build.ingest import ingest
from aidlgraph.cli import cli
from aidlgraph.query.related import NOTHING_CLOSE, duplicates, related, split_parts
from aidlgraph.text import STOPWORDS, terms

ROOT = Path(__file__).resolve().parents[1]

DRAFT = """# This week in AIDL

Google is buying Kaggle, the site where data scientists enter machine learning competitions and
share their notebooks; the deal gives Google Cloud a ready-made community of practitioners.

A poker AI from the University of Alberta beat professional players at heads-up no-limit Texas
hold'em over thousands of hands, a game where the machine never sees its opponents' cards.

Our gardening corner: tomatoes on a balcony want six hours of sun, deep pots and water every
evening in July; basil planted next to them keeps the aphids away.
"""


def shipped_item(title: str) -> dict:
    for path in sorted((ROOT / "data" / "items").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["items"]:
            if item["title"] == title:
                return item
    raise LookupError(title)


def part_titles(out: dict, n: int) -> list[str]:
    return [r["title"] for r in out["parts"][n - 1]["results"]]


def test_a_draft_is_searched_a_paragraph_at_a_time(shipped_library):
    parts = split_parts(DRAFT)
    assert len(parts) == 3 and parts[0].text.startswith("# This week")  # the heading joins its paragraph
    out = related(shipped_library, DRAFT, k=10)
    assert [p["part"] for p in out["parts"]] == [1, 2, 3]
    assert part_titles(out, 1)[0] == "Google acquired Kaggle"
    assert part_titles(out, 2)[0] == "DeepStack beats human poker pros, just like its rival Libratus"
    assert part_titles(out, 3) == [] and out["parts"][2]["note"] == NOTHING_CLOSE
    # every part's best match comes first, and each result says which part it answers
    first_two = {(r["title"], r["part"]) for r in out["results"][:2]}
    assert first_two == {("Google acquired Kaggle", 1), ("DeepStack beats human poker pros, just like its rival Libratus", 2)}
    assert all(r["part"] in r["parts"] and r["part"] in (1, 2) for r in out["results"])
    assert "answers part 2" in next(r["why"] for r in out["results"] if r["title"].startswith("DeepStack"))


def test_the_same_stories_pasted_as_one_paragraph_each_still_find_their_items(shipped_library):
    # the stories in the other order, and each part's items are still its own
    draft = "\n\n".join(reversed(DRAFT.split("\n\n")[1:3]))
    out = related(shipped_library, draft, k=10)
    assert part_titles(out, 1)[0].startswith("DeepStack") and part_titles(out, 2)[0] == "Google acquired Kaggle"


@pytest.mark.parametrize("junk", ["asdf qwerty", "zxcv 12345 !!!", "how long should I boil an egg for breakfast"])
def test_junk_gets_no_results_and_a_note(shipped_library, junk):
    out = related(shipped_library, junk, k=10)
    assert out["results"] == []
    assert out["note"].startswith(NOTHING_CLOSE) and "floor" in out["note"]
    assert out["topics"] == []


def test_junk_on_the_command_line_says_nothing_is_close(shipped_library):
    base = ["--library", str(shipped_library.path), "related", "asdf qwerty"]
    text = CliRunner().invoke(cli, base)
    assert text.exit_code == 0 and text.output.startswith(NOTHING_CLOSE)
    data = json.loads(CliRunner().invoke(cli, base + ["--json"]).output)
    assert data["results"] == [] and data["note"].startswith(NOTHING_CLOSE)
    assert {"query", "passages", "topics", "results", "parts"} <= set(data)


def test_topics_never_boost_a_weak_match(shipped_library):
    # floor 0 lists the far candidates anyway: none of them may claim shared topics, because a
    # vote is only held when the best match is close
    out = related(shipped_library, "asdf qwerty", k=10, floor=0.0)
    assert len(out["results"]) == 10
    assert out["topics"] == [] and not any("shares topics" in r["why"] for r in out["results"])


def test_a_pasted_item_is_flagged_as_already_covered_with_its_issue_and_date(shipped_library):
    item = shipped_item("GTX 1080 Ti is here: more than a $1.2k Titan X for $699")
    out = related(shipped_library, item["text"], k=5)
    covered = out["parts"][0]["covered"]
    assert covered["title"] == item["title"] and covered["how"] == "near-verbatim"
    assert covered["appeared_in"] == "AIDL Weekly Issue 3, 2017" and covered["similarity"] > 0.9
    top = out["results"][0]
    assert top["title"] == item["title"] and top["covered"] is True


def test_a_reworded_story_is_covered_and_a_new_one_on_the_same_subject_is_not(shipped_library):
    reworded = ("The University of Alberta's DeepStack defeated poker professionals at two-player no-limit "
                "hold'em, as Carnegie Mellon's Libratus did, in a game where players hide their cards.")
    covered = related(shipped_library, reworded, k=5)["parts"][0]["covered"]
    assert covered and covered["title"].startswith("DeepStack")
    new = ("AMD announced the Radeon Instinct MI60, a 7 nm data-center accelerator with 32 GB of HBM2 "
           "memory and Infinity Fabric links between cards, to compete with NVIDIA in training.")
    out = related(shipped_library, new, k=5)
    assert "covered" not in out["parts"][0] and not any(r["covered"] for r in out["results"])


def test_a_one_sentence_story_can_be_covered_but_a_few_words_of_search_are_not(shipped_library):
    story = related(shipped_library, "Google bought Kaggle, the home of data science competitions, and its million users.")
    assert story["parts"][0]["covered"]["title"] == "Google acquired Kaggle"
    search = related(shipped_library, "Kaggle data science competitions")
    assert search["results"][0]["title"] == "Google acquired Kaggle" and "covered" not in search["parts"][0]


def test_dupes_file_says_which_parts_of_a_draft_are_covered(shipped_library, tmp_path):
    kaggle = shipped_item("Google acquired Kaggle")
    draft = tmp_path / "draft.md"
    draft.write_text(kaggle["text"] + "\n\n" + DRAFT.split("\n\n")[3])
    base = ["--library", str(shipped_library.path), "dupes", "--file", str(draft)]
    view = json.loads(CliRunner().invoke(cli, base + ["--json"]).output)
    assert view["covered"] == 1
    assert view["parts"][0]["covered"]["title"] == "Google acquired Kaggle" and view["parts"][1]["covered"] is None
    text = CliRunner().invoke(cli, base).output
    assert 'ALREADY COVERED by "Google acquired Kaggle" (AIDL Weekly Issue 4, 2017)' in text


def test_reasons_carry_no_stop_words_or_fragments(shipped_library):
    text = ("I've been reading how we'll use pinned memory, don't you think it's great for "
            "host-to-device copies? They're much faster than pageable ones, aren't they?")
    out = related(shipped_library, text, k=5)
    assert out["results"]
    for r in out["results"]:
        assert r["matched_terms"], r["title"]
        for term in r["matched_terms"]:
            assert term not in STOPWORDS and len(term) > 1 and term in terms(text), term
        assert "matched terms: " + ", ".join(r["matched_terms"]) in r["why"]
        assert r["appeared_in"] and "meaning similarity" in r["why"]
    assert not {"ve", "ll", "don", "t", "re", "aren"} & {t for r in out["results"] for t in r["matched_terms"]}


def test_matched_terms_are_whole_words_as_bm25_matches_them(mini_library):
    # "go" must not match "Google" (a prefix), and "networks" matches "network" (a stem)
    out = related(mini_library, "go programs for convolutional networks on google data", k=9, floor=0.0)
    by_title = {r["title"]: r for r in out["results"]}
    assert "go" not in by_title["Google acquires Kaggle"]["matched_terms"]
    assert "google" in by_title["Google acquires Kaggle"]["matched_terms"]
    assert "networks" in by_title["CS231n lecture on convolutional networks"]["matched_terms"]


def test_terms_split_words_as_fts5_does():
    assert terms("I've read NVIDIA's GPU-based C++ notes; we'll see") == ["read", "nvidia", "gpu", "based", "c++", "notes", "see"]


def test_dupes_tells_duplicates_from_series_and_pieces_of_one_issue(shipped_library, tmp_path):
    repost = tmp_path / "repost.yaml"
    repost.write_text(yaml.safe_dump({"source": "Another Digest", "items": [{
        "title": "Google buys Kaggle", "kind": "news",
        "text": "Google acquired Kaggle, the platform that hosts data science and machine learning "
                "competitions, and its community of data scientists."}]}))
    ingest(shipped_library, [repost])
    pairs = duplicates(shipped_library)
    relation = {frozenset((p["a"]["title"], p["b"]["title"])): p["relation"] for p in pairs}
    assert relation[frozenset(("Google buys Kaggle", "Google acquired Kaggle"))] == "duplicate"
    assert pairs[0]["relation"] == "duplicate"  # duplicates come first
    # the curators' editorial and the news item on the fake GAN paper: one issue, not duplicates
    assert relation.get(frozenset(("Thoughts From Your Humble Curators (Issue 4): a fake GAN paper, over-hype and "
                                   "fact-checking", 'The fake paper "Stopping GAN Violence: Generative Unadversarial '
                                   'Networks"'))) == "same issue"
    part_1_2 = frozenset(("Finite Difference Methods in CUDA C/C++, Part 1", "Finite Difference Methods in CUDA C/C++, Part 2"))
    assert part_1_2 not in relation  # parts of one series are listed only when asked for
    with_series = {frozenset((p["a"]["title"], p["b"]["title"])): p["relation"]
                   for p in duplicates(shipped_library, include_series=True)}
    assert with_series[part_1_2] == "series"
    assert not any(r == "duplicate" for k, r in with_series.items() if k != frozenset(("Google buys Kaggle", "Google acquired Kaggle")))
