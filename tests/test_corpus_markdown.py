"""The awesome-list Markdown loader, rule by rule, on a hand-written list (tests/fixtures/md_awesome.md)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aidlgraph.corpus import load_text
from aidlgraph.corpus.markdown import find_links, load_markdown, split_byline, strip_inline

FIXTURE = Path(__file__).parent / "fixtures" / "md_awesome.md"


@pytest.fixture(scope="module")
def batch():
    return load_markdown(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE.resolve()))


@pytest.fixture(scope="module")
def by_title(batch):
    return {item.title: item for item in batch.items}


def load(text: str, name: str = "list.md"):
    return load_markdown(text, f"/somewhere/{name}")


# ---------------------------------------------------------------- source and topics


def test_single_top_h1_names_the_source_and_is_not_a_topic(batch):
    assert {item.source for item in batch.items} == {"Awesome GPU Deep Learning"}
    assert "Awesome GPU Deep Learning" not in {t.name for t in batch.topics}


def test_items_carry_their_innermost_heading(by_title):
    assert by_title["Deep Learning"].topics == ["Books"]
    assert by_title["CS231n: Convolutional Neural Networks for Visual Recognition"].topics == ["Free Courses"]
    assert by_title["CS231n: Convolutional Neural Networks for Visual Recognition"].extra["section"] == "Courses > Free Courses"
    assert by_title["CUDA C++ Programming Guide"].topics == ["CUDA"]
    assert by_title["cuDNN"].topics == ["Libraries"]


def test_every_item_topic_is_declared_and_heading_noise_is_not(batch):
    declared = {t.name for t in batch.topics}
    assert {t for item in batch.items for t in item.topics} <= declared
    assert declared == {"Books", "Free Courses", "Paid Courses", "CUDA", "Profiling tools", "Libraries"}
    # emoji shortcodes are cleaned out of heading names ("## Books :books:")
    assert "Books :books:" not in declared


def test_items_before_the_first_section_have_no_topic(by_title):
    assert by_title["The CUDA Handbook"].topics == []


def test_file_stem_is_the_source_without_a_single_top_h1():
    batch = load("# Vision\n\n- [CS231n](http://cs231n.stanford.edu/)\n\n# Language\n\n"
                 "- [CS224n](http://web.stanford.edu/class/cs224n/)\n", name="awesome-ai.md")
    assert {i.source for i in batch.items} == {"awesome-ai"}
    assert [i.topics for i in batch.items] == [["Vision"], ["Language"]]


def test_setext_and_html_headings_count():
    batch = load('<h1 align="center">Awesome Speech</h1>\n\nDatasets\n--------\n\n'
                 "- [LibriSpeech](https://www.openslr.org/12) - 1000 hours of read English speech.\n")
    assert batch.items[0].source == "Awesome Speech"
    assert batch.items[0].topics == ["Datasets"]


# ---------------------------------------------------------------- what is an item


def test_badges_images_anchors_relative_and_nav_links_are_not_items(batch):
    urls = {item.url for item in batch.items}
    assert all(u.startswith("http") for u in urls)
    assert not any("shields.io" in u or "travis-ci" in u or "awesome.re" in u for u in urls)
    assert "https://docs.nvidia.com/cuda/cublas/" not in urls  # an image wrapped in a link
    assert not any(u.endswith(".md") for u in urls)
    assert "creativecommons" not in " ".join(urls)


def test_contributing_and_license_sections_are_skipped(batch):
    assert not any("pull-request" in item.url for item in batch.items)


def test_links_inside_a_paragraph_are_not_items_but_a_link_line_is(by_title):
    assert "the CUDA Zone" not in by_title
    assert "awesome-deep-learning" not in by_title
    handbook = by_title["The CUDA Handbook"]
    assert handbook.url == "https://www.cudahandbook.com/"
    assert handbook.text == "A comprehensive guide to GPU programming"


def test_the_fixture_items(batch):
    assert len(batch.items) == 17
    assert {i.kind for i in batch.items} == {"resource"}


# ---------------------------------------------------------------- fields of an entry


def test_authors_and_year_after_the_link(by_title):
    book = by_title["Deep Learning"]
    assert book.authors == ["Ian Goodfellow", "Yoshua Bengio", "Aaron Courville"]
    assert book.date == "2015"  # from "(05/07/2015)"
    assert book.url == "http://www.deeplearningbook.org/"
    nielsen = by_title["Neural Networks and Deep Learning"]
    assert (nielsen.authors, nielsen.date, nielsen.text) == (["Michael Nielsen"], "2015", "")
    assert by_title["The CUDA Handbook"].authors == ["Nicholas Wilt"]
    assert by_title["The CUDA Handbook"].date == "2013"
    harris = by_title["An Even Easier Introduction to CUDA"]
    assert (harris.authors, harris.date) == (["Mark Harris"], "2017")
    fastai = by_title["Practical Deep Learning for Coders"]
    assert fastai.authors == ["Jeremy Howard", "Rachel Thomas"]
    assert fastai.text == "A top-down course"


@pytest.mark.parametrize("line, authors, date, text", [
    ("- [Book](https://a.org/b) by Michael Nielsen, 2015", ["Michael Nielsen"], "2015", ""),
    ("- [Paper](https://a.org/p) (2016)", [], "2016", ""),
    ("- [Paper](https://a.org/p) - Kaiming He, Xiangyu Zhang (2016)", ["Kaiming He", "Xiangyu Zhang"], "2016", ""),
    ("- [Course](https://a.org/c) - Lectures on CNNs - Andrej Karpathy", ["Andrej Karpathy"], "", "Lectures on CNNs"),
    ("- [Course](https://a.org/c) - Coursera", [], "", "Coursera"),  # one word after a dash: a platform
])
def test_byline_forms(line, authors, date, text):
    item = load(line).items[0]
    assert (item.authors, item.date, item.text) == (authors, date, text)


def test_link_title_attribute_is_not_part_of_the_url(by_title):
    item = by_title["Unified Memory for CUDA Beginners"]
    assert item.url == "https://developer.nvidia.com/blog/unified-memory-cuda-beginners/"
    assert item.authors == ["Mark Harris"]


def test_text_after_a_colon_is_the_description(by_title):
    assert by_title["CUDA C++ Programming Guide"].text == "The official reference for the programming model."


def test_tags_become_fields_and_leave_title_and_text(by_title):
    assert by_title["Neural Networks and Deep Learning"].free is True
    pmpp = by_title["Programming Massively Parallel Processors"]  # bold title, generic [pdf] link
    assert (pmpp.free, pmpp.extra["tags"], pmpp.url) == (False, ["pdf"], "https://example.org/pmpp.pdf")
    assert pmpp.text == "The standard textbook on CUDA."
    cs231n = by_title["CS231n: Convolutional Neural Networks for Visual Recognition"]
    assert (cs231n.free, cs231n.level, cs231n.extra["tags"]) == (True, "beginner", ["video"])
    assert cs231n.text == "Stanford's course on CNNs."
    paid = by_title["Deep Learning Specialization"]
    assert (paid.free, paid.level, paid.text) == (False, "intermediate", "")
    assert by_title["Getting Started with Accelerated Computing in CUDA C/C++"].level == "advanced"
    assert by_title["Dive into Deep Learning"].extra["tags"] == ["star"]
    assert by_title["nvprof user guide"].extra["tags"] == ["pdf"]
    assert by_title["Deep Learning"].free is None  # unknown stays unknown


def test_words_inside_a_description_are_not_tags():
    item = load("- [Book](https://example.org/b) - A free online book for advanced readers.\n").items[0]
    assert item.free is None and "level" not in item.extra
    assert item.text == "A free online book for advanced readers."


def test_nested_bullets_add_text_or_become_items(by_title):
    d2l = by_title["Dive into Deep Learning"]
    assert d2l.text == "Interactive book with code in several frameworks.\nUpdated every few months."
    forum = by_title["discussion forum"]
    assert forum.url == "https://discuss.d2l.ai/"
    assert forum.extra["parent"] == "Dive into Deep Learning"
    assert forum.text == "Has a companion discussion forum for each chapter."


def test_bullet_without_link_groups_its_children():
    batch = load("## Courses\n\n- Stanford\n  - [CS231n](http://cs231n.stanford.edu/)\n"
                 "  - [CS224n](http://web.stanford.edu/class/cs224n/)\n")
    assert [(i.title, i.extra.get("group")) for i in batch.items] == [("CS231n", "Stanford"), ("CS224n", "Stanford")]


def test_details_block_is_read_under_its_summary_topic(by_title):
    assert by_title["Nsight Systems"].topics == ["Profiling tools"]
    assert by_title["Nsight Systems"].text == "System-wide performance analysis."
    assert by_title["Nsight Systems"].extra["section"] == "CUDA > Profiling tools"


def test_generic_details_summary_keeps_the_heading_topic():
    text = ("## Papers\n\n<details><summary>Click to expand</summary>\n\n"
            "- [Attention Is All You Need](https://arxiv.org/abs/1706.03762)\n\n</details>\n")
    assert load(text).items[0].topics == ["Papers"]


def test_table_rows_with_links_are_items(by_title, batch):
    cudnn = by_title["cuDNN"]
    assert cudnn.url == "https://developer.nvidia.com/cudnn"
    assert cudnn.text == "Primitives for deep neural networks"
    assert cudnn.level == "intermediate"
    assert by_title["Thrust"].level == "beginner"
    assert "Internal tool" not in by_title


def test_table_author_and_year_columns():
    text = ("## Papers\n\n| Paper | Authors | Year |\n|---|---|---|\n"
            "| [ResNet](https://arxiv.org/abs/1512.03385) | Kaiming He, Xiangyu Zhang | 2015 |\n")
    item = load(text).items[0]
    assert (item.title, item.authors, item.date, item.text) == ("ResNet", ["Kaiming He", "Xiangyu Zhang"], "2015", "")


def test_reference_style_links_and_html_anchors():
    text = ("## Papers\n\n- [Batch Normalization][bn] - Ioffe and Szegedy, 2015\n"
            '- <a href="https://arxiv.org/abs/1512.03385">Deep Residual Learning</a>\n\n'
            "[bn]: https://arxiv.org/abs/1502.03167\n")
    items = load(text).items
    assert [(i.title, i.url) for i in items] == [
        ("Batch Normalization", "https://arxiv.org/abs/1502.03167"),
        ("Deep Residual Learning", "https://arxiv.org/abs/1512.03385"),
    ]
    assert items[0].date == "2015"


def test_the_same_link_twice_is_one_item_with_both_topics():
    text = "## Vision\n\n- [CS231n](http://cs231n.stanford.edu/)\n\n## Courses\n\n- [CS231n](http://cs231n.stanford.edu/)\n"
    batch = load(text)
    assert len(batch.items) == 1 and batch.items[0].topics == ["Vision", "Courses"]


def test_code_fences_are_not_read():
    assert load("## Setup\n\n```\n- [not a link](https://example.org/x)\n```\n").items == []


def test_nothing_found_is_an_empty_batch():
    batch = load("# Notes\n\nJust prose, [an anchor](#notes) and a [relative link](docs/x.md).\n")
    assert batch.items == [] and batch.topics == []


def test_dispatch_by_suffix_reaches_this_loader():
    batch = load_text("## Books\n\n- [Deep Learning](http://www.deeplearningbook.org/)\n", "/x/books.md", ".md")
    assert batch.items[0].topics == ["Books"]


# ---------------------------------------------------------------- helpers


def test_find_links_handles_nesting_and_parentheses():
    links = find_links("[![img](a.png)](https://x.org/a_(b)) and [t](https://y.org)")
    assert [(l.text, l.url) for l in links] == [("![img](a.png)", "https://x.org/a_(b)"), ("t", "https://y.org")]


def test_strip_inline_and_byline():
    assert strip_inline("**Bold** [text](https://a.b) <https://c.d> `code`") == ("Bold text code", ["https://a.b", "https://c.d"])
    assert split_byline("Deep Learning by Ian Goodfellow et al.") == ("Deep Learning", ["Ian Goodfellow"], True)
    assert split_byline("cuBLAS by example") == ("cuBLAS by example", [], False)


# ---------------------------------------------------------------- any input


TOKENS = list("#-*+[]()!<>|:`_ \n\tabcA1$.\"") + [
    "http://x.y", "<details>", "</details>", "<summary>", "</summary>", "](", "**", "\n- ", "\n## ",
    "\n|---|---|\n", " by ", "(2016)", "[Free]", ":star:", "    ", "```",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=150).map("".join))
def test_any_text_loads_without_error(text):
    batch = load(text)
    assert all(item.title for item in batch.items)


@pytest.mark.parametrize("text", [
    "[" * 50000, "(" * 50000 + ")" * 50000, "- " + "[a](http://x.y/)" * 5000, "# " + " " * 50000 + "x",
    "<a href='x'>" * 5000, "<!--" * 20000, "|" * 50000 + "\n|---|---|\n", "x by " * 10000,
])
def test_pathological_input_is_fast(text):
    started = time.perf_counter()
    load(text)
    assert time.perf_counter() - started < 5
