"""The newsletter/blog dump loader: on the real AIDL Weekly dump, and on a hand-made newsletter of
another name (tests/fixtures/txt_newsletter.txt) to show the rules are not tuned to one file."""
from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidlgraph.corpus import load_text
from aidlgraph.corpus.newsletter import events, headline, load_newsletter, parse_entry, split_sentences

SEED = Path(__file__).parents[2] / "shared/seeds/000_5a01fe00eaa3f2c0.txt"
FIXTURE = Path(__file__).parent / "fixtures" / "txt_newsletter.txt"


@pytest.fixture(scope="module")
def seed():
    if not SEED.exists():
        pytest.skip(f"the AIDL seed dump is not at {SEED}; these tests need ../shared/seeds/")
    return load_newsletter(SEED.read_text(encoding="utf-8"), str(SEED))


@pytest.fixture(scope="module")
def other():
    return load_newsletter(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE.resolve()))


def kind(batch, k):
    return [i for i in batch.items if i.kind == k]


def find(batch, pattern, k=None):
    """The one item whose title matches ``pattern`` (and kind ``k``)."""
    hits = [i for i in batch.items if re.search(pattern, i.title, re.I) and (k is None or i.kind == k)]
    assert len(hits) == 1, f"{pattern!r}: {[h.title for h in hits]}"
    return hits[0]


# ---------------------------------------------------------------- the real dump


def test_seed_yields_enough_items_of_every_kind(seed):
    counts = Counter(i.kind for i in seed.items)
    assert len(seed.items) >= 45
    assert counts["issue"] == 4 and counts["question"] == 2
    assert counts["news"] >= 18 and counts["post"] >= 6 and counts["resource"] >= 30


def test_seed_issues_titles_labels_and_summaries(seed):
    issues = kind(seed, "issue")
    assert [i.source for i in issues] == [f"AIDL Weekly Issue {n}" for n in (4, 3, 2, 1)]
    assert issues[0].title == "AIDL Weekly Issue 4: K for Kaggle, Jetson TX2 and DeepStack"
    assert issues[0].text.startswith("Three big news last week:") and "Google acquired Kaggle" in issues[0].text
    assert issues[1].text.startswith("What a week in Machine Learning!")
    assert all(i.date == "" for i in issues)  # no year in their titles
    # the repeated short title "Issue 3" is not an issue of its own
    assert not any(i.title.strip() == "Issue 3" for i in seed.items)


def test_seed_editorials_are_posts_of_their_issue(seed):
    editorials = [i for i in kind(seed, "post") if "Thoughts From Your Humble Curators" in i.title]
    assert [e.source for e in editorials] == [f"AIDL Weekly Issue {n}" for n in (4, 3, 2, 1)]
    assert "Stopping GAN Violence" in editorials[0].text
    assert "Waikit Lau" in editorials[3].text


@pytest.mark.parametrize("pattern, issue, words", [
    (r"kaggle", 4, "Google acquired Kaggle"),
    (r"jetson tx2", 4, "Jetson TX2"),
    (r"deepstack", 4, "poker"),
    (r"stopping gan violence", 4, "fake paper"),
    (r"waymo", 3, "Uber"),
    (r"jigsaw", 3, "trolling"),
    (r"gtx 1080 ti", 3, "Titan X"),
    (r"deepcoder", 3, "Stephen Merity"),
    (r"fei-fei li", 3, "Kleiner Perkins"),
    (r"gamalon", 2, "defense contract"),
    (r"batch renormalization", 2, "normalization in training"),
    (r"tensorflow 1\.0", 2, "official release"),
    (r"tensorflow summit", 2, "2017 Official Tensorflow Summit"),
    (r"oxford", 2, "NLP"),
])
def test_seed_editorial_news(seed, pattern, issue, words):
    item = find(seed, pattern, "news")
    assert item.source == f"AIDL Weekly Issue {issue}"
    assert words in item.text
    assert len(item.title) <= 101


def test_seed_headlines_drop_lead_ins(seed):
    assert find(seed, "waymo", "news").title == "Waymo high-profile lawsuit against Uber"
    assert find(seed, "gtx", "news").title == "GTX 1080 Ti is here"
    assert find(seed, "tensorflow summit", "news").date == "2017"  # the year is in its title


def test_seed_editorial_commentary_and_calls_to_action_are_not_news(seed):
    news = " ".join(i.text for i in kind(seed, "news"))
    assert "share this newsletter" not in news
    assert "Rocket AI" not in news  # commentary, not an event
    assert not [i for i in kind(seed, "news") if i.source == "AIDL Weekly Issue 1"]


def test_seed_member_questions_are_one_item_each_with_the_full_answer(seed):
    q4, q2 = kind(seed, "question")
    assert q4.source == "AIDL Weekly Issue 4" and q2.source == "AIDL Weekly Issue 2"
    assert "segmentation" in q4.title and len(q4.title) <= 120
    assert q4.text.startswith("Q. (Rephrases from a question asked by Flávio Schuindt)")
    assert "A. You do hit one of the toughest" in q4.text
    assert "5. Lastly if you decide this is really a semantic segmentation problem" in q4.text
    assert "languages" in q2.title and len(q2.title) <= 120
    assert "(Arthur's) take" in q2.text and "3. The final thing" in q2.text
    assert q2.text.rstrip().endswith("which language you should learn more.")
    # the answers' numbered notes are not news
    assert not any("cs231n" in i.title.lower() for i in kind(seed, "news"))


def test_seed_gtc_post_with_its_announcements(seed):
    gtc = find(seed, r"^GTC 2019 Write-Up", "post")
    assert gtc.date == "2019" and gtc.authors == ["Arthur Chan"]
    assert "Huang's Keynotes" in gtc.text and "Wait for Part II!!!" in gtc.text
    assert "[1] The paper was actually jointly written" in gtc.text  # the footnote stays
    assert "* * *" not in gtc.text
    for title in ("CUDA-X", "Mellanox Acquisition", "The T4 GPU", "Automatic Mixed Precision (AMP)"):
        item = find(seed, "^" + re.escape(title) + "$", "news")
        assert item.source == gtc.title and item.date == "2019"
        assert item.text.startswith(title)


def test_seed_imagenet_post_keeps_its_star_paragraphs(seed):
    post = find(seed, r'^A read on "ImageNet Training in Minutes"$', "post")
    assert "For the most part, this is not GPU works." in post.text
    assert "Layer-wise Adaptive Rate Scaling (LARS)" in post.text
    assert "Don't you love competition in deep learning?" in post.text
    assert not [i for i in seed.items if i.source == post.title and i is not post]


def test_seed_harris_articles_are_a_series(seed):
    series = [i for i in seed.items if i.series]
    assert [i.position for i in series] == list(range(1, 11))
    assert len({i.series for i in series}) == 1 and "Mark Harris" in series[0].series
    assert series[0].title == "An Easy Introduction to CUDA C and C++"
    assert series[6].title == "Unified Memory for CUDA Beginners"
    assert series[9].title == "Finite Difference Methods in CUDA C/C++, Part 2"
    assert all(i.authors == ["Mark Harris"] and i.topics == ["CUDA programming"] for i in series)
    assert all(i.source == "Resources on CUDA programming" and i.url == "" for i in series)


def test_seed_cuda_list_entries(seed):
    titles = {i.title for i in seed.items if i.source == "Resources on CUDA programming"}
    assert {"Resources on CUDA programming", "CUDA C Programming Guide", "CUDA Best Practice Guide",
            "Professional CUDA C Programming", "Inline PTX Assembly", "CuBLAS", "cuBLAS by example"} <= titles
    cublas = find(seed, "^CuBLAS$")
    assert cublas.text.startswith("indispensible for linear algebra")
    assert "profile-based programming" not in titles  # a quoted phrase, not a work
    listing = find(seed, "^Resources on CUDA programming$")
    assert listing.kind == "resource" and "nvprof" in listing.text


def test_seed_speech_papers_with_authors(seed):
    hinton = find(seed, "^Deep Neural Networks for Acoustic Modeling in Speech Recognition$")
    assert hinton.authors == ["G. Hinton"] and hinton.extra["et_al"] is True
    graves = find(seed, "^Supervised Sequence Labelling with Recurrent Neural Networks$")
    assert graves.authors == ["Alex Graves"]
    assert find(seed, "^Useful E2E Speech Recognition Lecture$").topics == ["Speech Recognition"]


def test_seed_resnet_entries_with_lost_links(seed):
    entries = [i for i in seed.items if i.source == "Resources on ResNet" and i.title != "Resources on ResNet"]
    titles = [i.title for i in entries]
    assert len(entries) >= 15
    assert "Wide Residual Networks" in titles and "Highway networks" in titles
    assert "Wider or Deeper: Revisiting the ResNet Model for Visual Recognition" in titles
    constrained = find(seed, "^Convolutional Neural Networks at Constrained Time Cost$")
    assert constrained.text == "Interesting predecessor of the paper." and constrained.url == ""
    assert all(i.url == "" and i.authors == [] for i in entries)  # nothing invented


def test_seed_topics_come_from_resource_headings_only(seed):
    assert {t.name for t in seed.topics} == {"Speech Recognition", "Understanding Heaps", "CUDA programming", "ResNet"}
    assert {t for i in seed.items for t in i.topics} <= {t.name for t in seed.topics}
    assert all(not i.topics for i in seed.items if i.kind in ("issue", "news", "question", "post"))


def test_seed_boilerplate_is_dropped(seed):
    everything = " ".join(f"{i.title} {i.text}" for i in seed.items)
    for junk in ("All posts by", "©", "Sponsorship", "Artificial Intelligence and Deep Learning Weekly"):
        assert junk not in everything
    assert not any(i.title in ("Blog Posts", "Open Source", "Member's Question") for i in seed.items)


def test_seed_ids_are_unique_and_nothing_is_invented(seed):
    assert len({i.id for i in seed.items}) == len(seed.items)
    assert all(i.url == "" for i in seed.items)  # the dump has no links
    assert {a for i in seed.items for a in i.authors} == {"Arthur Chan", "Mark Harris", "G. Hinton", "Alex Graves"}


# ---------------------------------------------------------------- another newsletter of the same shape


def test_other_newsletter_issue_editorial_and_news(other):
    issue = find(other, "^Gradient Notes Issue 12", "issue")
    assert issue.source == "Gradient Notes Issue 12"
    editorial = find(other, "From the Editors", "post")
    assert editorial.source == issue.source
    news = {i.title for i in kind(other, "news") if i.source == issue.source}
    assert news == {"Microsoft licensed GPT-3 exclusively", "PyTorch 1.7 was released",
                    "DeepMind's AlphaFold 2 win the CASP14 protein folding challenge"}
    assert "please share" not in " ".join(i.text for i in kind(other, "news"))


def test_other_newsletter_reader_question(other):
    (question,) = kind(other, "question")
    assert question.title == "Should I learn TensorFlow or PyTorch first?"
    assert "2. Learn autograd before high-level wrappers." in question.text
    assert question.text.rstrip().endswith("build one small project end to end.")


def test_other_newsletter_empty_job_section_and_footer_are_dropped(other):
    assert not any(i.title in ("Jobs", "Gradient Notes") for i in other.items)


def test_other_newsletter_post_with_labelled_list(other):
    post = find(other, "^NeurIPS 2020 Recap Part 2", "post")
    assert post.authors == ["Jane Doe"] and post.date == "2020"
    news = [i.title for i in kind(other, "news") if i.source == post.title]
    assert news == ["Rethinking Attention", "Lottery Tickets in RL", "Self-supervised Speech"]


def test_other_newsletter_resource_list(other):
    listing = find(other, "^Resources on Reinforcement Learning$")
    assert listing.topics == ["Reinforcement Learning"]
    series = [i for i in other.items if i.series]
    assert [i.position for i in series] == [1, 2, 3]
    assert all(i.authors == ["Lilian Weng"] for i in series)
    sutton = find(other, "^Reinforcement Learning: An Introduction$")
    assert sutton.authors == ["Richard Sutton", "Andrew Barto"] and sutton.extra["group"] == "Books"
    assert find(other, "^Algorithms for Reinforcement Learning$").authors == ["C. Szepesvari"]
    assert find(other, "^Deep RL Bootcamp lectures$").url == ""
    assert "group" not in find(other, "^Spinning Up in Deep RL$").extra
    assert find(other, "^Berkeley CS285 Deep Reinforcement Learning$").kind == "resource"


def test_dispatch_by_suffix_reaches_this_loader(other):
    batch = load_text(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE), ".txt")
    assert len(batch.items) == len(other.items)


# ---------------------------------------------------------------- smaller shapes


def test_blog_export_without_issues():
    text = ("Notes on Dropout\n\nDropout randomly zeroes activations during training, which keeps units from "
            "co-adapting. It is cheap and works almost everywhere.\n\nPosted in Deep Learning\n\n"
            "Why Batch Norm Works\n\nNobody fully agrees on why batch normalization helps; the original paper "
            "blamed internal covariate shift, later work points at a smoother loss landscape.\n")
    batch = load_newsletter(text, "/x/blog.txt")
    assert [(i.kind, i.title) for i in batch.items] == [("post", "Notes on Dropout"), ("post", "Why Batch Norm Works")]


def test_markdown_flavoured_dump():
    text = ("# Deep Digest Issue 7\n\n## Editorial\n\nThis week Meta released [Llama 2](https://ai.meta.com/llama/) "
            "under a community licence.\n\n## News\n\n### OpenAI launches GPT-4 Turbo\n\nCheaper and with a longer "
            "context window.\n")
    batch = load_newsletter(text, "/x/digest.txt")
    assert [(i.kind, i.title) for i in batch.items[:2]] == [("issue", "Deep Digest Issue 7"), ("post", "Deep Digest Issue 7: Editorial")]
    news = kind(batch, "news")
    # the editorial's event keeps its link; a "News" heading makes the sections after it news
    assert [(i.title, i.url) for i in news] == [
        ("Meta released Llama 2 under a community licence", "https://ai.meta.com/llama/"),
        ("OpenAI launches GPT-4 Turbo", ""),
    ]
    assert news[1].text == "Cheaper and with a longer context window."


def test_a_text_without_headings_is_one_post_named_after_the_file():
    batch = load_newsletter("Just one paragraph of notes about convolutions and pooling layers.\n", "/x/notes.txt")
    assert [(i.kind, i.title) for i in batch.items] == [("post", "notes")]


def test_empty_or_boilerplate_only_text_gives_an_empty_batch():
    assert load_newsletter("©2020 Someone\n\n| Sponsorship\n", "/x/a.txt").items == []


def test_helpers():
    assert split_sentences("Prof. Fei-Fei Li spoke. A.I. startups listened! Then? Yes, e.g. G. Hinton. End") == [
        "Prof. Fei-Fei Li spoke.", "A.I. startups listened!", "Then?", "Yes, e.g. G. Hinton.", "End"]
    assert headline("In other news, you might have heard of DeepCoder in the last few weeks.") == "DeepCoder"
    assert events("Google acquired Kaggle. Its community is huge.", []) == [
        ("Google acquired Kaggle", "Google acquired Kaggle. Its community is huge.")]
    assert events("Please share this newsletter with friends.", []) == []
    entry = parse_entry('Deep Neural Networks for Acoustic Modeling in Speech Recognition" by G. Hinton et al')
    assert (entry.title, entry.authors, entry.et_al) == (
        "Deep Neural Networks for Acoustic Modeling in Speech Recognition", ["G. Hinton"], True)


# ---------------------------------------------------------------- any input

TOKENS = ["Issue 3", "AIDL Weekly Issue 4", "Resources on X", "Q. Why?", "A. Because.", "  1. ", "  • ",
          "* ", "©2017", "Thoughts From Us", "Member's Question", "Title: sub", ":", "\n", "\n\n", " ",
          "word", "Name", "written by Ann Lee, 3 articles", " by G. Hinton et al", "(", ")", "\"", "."]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=120).map("".join))
def test_any_text_loads_without_error(text):
    batch = load_newsletter(text, "/x/fuzz.txt")
    assert all(i.title for i in batch.items)
    assert len({i.id for i in batch.items}) == len(batch.items)


@pytest.mark.parametrize("text", [
    "Prof. " * 20000 + "x", "Waymo saw X as well as " * 3000, "A: " * 20000, "Q. " * 20000,
    "Issue 1\n\n" * 3000, "1. " * 20000, "(" * 50000, "x by " * 10000, "Resources on X\n\n  • a (\n" * 2000,
])
def test_pathological_input_is_fast(text):
    started = time.perf_counter()
    load_newsletter(text, "/x/p.txt")
    assert time.perf_counter() - started < 5
