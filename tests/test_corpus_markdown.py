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


def test_items_carry_their_innermost_field_heading_and_media_headings_set_fields(by_title):
    # "## Books", "## Courses > ### Free Courses", "### Libraries" say what the entries are, not what
    # they are about: the field heading above them (here the page title) is their topic.
    book = by_title["Deep Learning"]
    assert (book.topics, book.medium) == (["GPU Deep Learning"], "book")
    cs231n = by_title["CS231n: Convolutional Neural Networks for Visual Recognition"]
    assert (cs231n.topics, cs231n.medium, cs231n.free) == (["GPU Deep Learning"], "video", True)  # its own [video] tag wins
    fastai = by_title["Practical Deep Learning for Coders"]
    assert (fastai.medium, fastai.free) == ("course", True)
    assert cs231n.extra["section"] == "Courses > Free Courses"
    assert by_title["Getting Started with Accelerated Computing in CUDA C/C++"].free is False  # "### Paid Courses"
    assert by_title["CUDA C++ Programming Guide"].topics == ["CUDA"]
    assert (by_title["cuDNN"].topics, by_title["cuDNN"].medium) == (["CUDA"], "tool")


def test_every_item_topic_is_declared_and_heading_noise_is_not(batch):
    declared = {t.name for t in batch.topics}
    assert {t for item in batch.items for t in item.topics} <= declared
    # the page title without its "Awesome", and the field headings; no media heading
    assert declared == {"GPU Deep Learning", "CUDA", "Profiling tools"}
    assert batch.heading_topics  # the build step matches these names to the library's topics


def test_items_before_the_first_section_belong_to_the_page_title(by_title):
    assert by_title["The CUDA Handbook"].topics == ["GPU Deep Learning"]


def test_file_stem_is_the_source_without_a_single_top_h1():
    batch = load("# Vision\n\n- [CS231n](http://cs231n.stanford.edu/)\n\n# Language\n\n"
                 "- [CS224n](http://web.stanford.edu/class/cs224n/)\n", name="awesome-ai.md")
    assert {i.source for i in batch.items} == {"awesome-ai"}
    assert [i.topics for i in batch.items] == [["Vision"], ["Language"]]


def test_setext_and_html_headings_count():
    batch = load('<h1 align="center">Awesome Speech</h1>\n\nDatasets\n--------\n\n'
                 "- [LibriSpeech](https://www.openslr.org/12) - 1000 hours of read English speech.\n")
    assert batch.items[0].source == "Awesome Speech"
    assert (batch.items[0].topics, batch.items[0].medium) == (["Speech"], "dataset")


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
    text = ("## Transformers\n\n<details><summary>Click to expand</summary>\n\n"
            "- [Attention Is All You Need](https://arxiv.org/abs/1706.03762)\n\n</details>\n")
    assert load(text).items[0].topics == ["Transformers"]


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
    text = "## Vision\n\n- [CS231n](http://cs231n.stanford.edu/)\n\n## Deep Learning\n\n- [CS231n](http://cs231n.stanford.edu/)\n"
    batch = load(text)
    assert len(batch.items) == 1 and batch.items[0].topics == ["Vision", "Deep Learning"]


def test_code_fences_are_not_read():
    assert load("## Setup\n\n```\n- [not a link](https://example.org/x)\n```\n").items == []


def test_nothing_found_is_an_empty_batch():
    batch = load("# Notes\n\nJust prose, [an anchor](#notes) and a [relative link](docs/x.md).\n")
    assert batch.items == [] and batch.topics == []


def test_dispatch_by_suffix_reaches_this_loader():
    batch = load_text("## Books\n\n- [Deep Learning](http://www.deeplearningbook.org/)\n", "/x/books.md", ".md")
    assert batch.items[0].medium == "book"


# ---------------------------------------------------------------- headings as fields, questions, prose


def test_heading_sorts():
    from aidlgraph.corpus.sections import read_heading

    sorts = {name: read_heading(name).sort for name in (
        "Courses", "Scientific Papers", "Curated Lists", "Blogs", "Videos", "Tutorials", "Datasets", "Tools",
        "Books and Tutorials", "Free Courses", "Beginners", "Semantic Segmentation", "Segmentation, Object Detection",
        "Frequently Asked Questions", "The Path We Recommend", "Your First Week", "Do I need a GPU?")}
    assert sorts == {
        "Courses": "medium", "Scientific Papers": "medium", "Curated Lists": "medium", "Blogs": "medium",
        "Videos": "medium", "Tutorials": "medium", "Datasets": "medium", "Tools": "medium",
        "Books and Tutorials": "medium", "Free Courses": "medium", "Beginners": "level",
        "Semantic Segmentation": "field", "Segmentation, Object Detection": "field",
        "Frequently Asked Questions": "structure", "The Path We Recommend": "structure",
        "Your First Week": "structure", "Do I need a GPU?": "question"}


def test_a_media_heading_is_a_medium_under_the_field_heading_above_it():
    batch = load("# Vision\n\n## Detection\n\n### Scientific Papers\n\n- [R-CNN](https://example.org/rcnn)\n\n"
                 "### Videos\n\n- [A talk](https://example.org/talk) - [Free] Beginner\n")
    assert [(i.title, i.topics, i.medium, i.free, i.level) for i in batch.items] == [
        ("R-CNN", ["Detection"], "paper", None, ""), ("A talk", ["Detection"], "video", True, "beginner")]
    assert [t.name for t in batch.topics] == ["Detection"]


def test_a_page_title_medium_holds_only_right_under_it():
    batch = load("# Tools\n\n- [Jupyter](https://jupyter.org/)\n\n## Automatic Differentiation\n\n"
                 "- [A Survey](https://example.org/ad)\n")
    assert [(i.title, i.medium, i.topics) for i in batch.items] == [
        ("Jupyter", "tool", []), ("A Survey", "", ["Automatic Differentiation"])]


def test_structure_headings_are_transparent():
    batch = load("# How to Learn Deep Learning\n\n## The Path We Recommend\n\n- [A course](https://example.org/c)\n\n"
                 "## Overview\n\n- [A book](https://example.org/b)\n")
    assert [i.topics for i in batch.items] == [["How to Learn Deep Learning"]] * 2


FAQ = """# Learning

## Courses

- [A Course](https://example.org/course) - A course.

## FAQ

### Which language first?

Python. It is what the frameworks use.

Then NumPy, because arrays are how you think in deep learning.

### What should I read?

- The [Deep Learning book](https://www.deeplearningbook.org/), free online.

**Do I need a PhD?**

No. A portfolio of projects counts for more.

**Is it too late?** 

## Books

- [A Book](https://example.org/book)
"""


def test_question_headings_and_bold_questions_become_question_items_with_their_answers():
    batch = load(FAQ)
    questions = {i.title: i for i in batch.items if i.kind == "question"}
    assert list(questions) == ["Which language first?", "What should I read?", "Do I need a PhD?"]
    assert questions["Which language first?"].text == (
        "Python. It is what the frameworks use.\n\nThen NumPy, because arrays are how you think in deep learning.")
    assert questions["Do I need a PhD?"].text == "No. A portfolio of projects counts for more."
    assert questions["What should I read?"].text == "- The Deep Learning book, free online."
    assert questions["What should I read?"].extra["links"] == ["https://www.deeplearningbook.org/"]
    assert all(q.topics == ["Learning"] and q.extra["section"] == "FAQ" for q in questions.values())
    # a question with no answer is no item; the answers end where the next heading starts
    assert "Is it too late?" not in questions
    assert [i.title for i in batch.items if i.kind == "resource"] == ["A Course", "Deep Learning book", "A Book"]
    assert {t.name for t in batch.topics} == {"Learning"}


def test_a_paragraph_introducing_a_resource_is_an_item_with_the_paragraph_as_text():
    para = ("If you only read one book, make it [Deep Learning](https://www.deeplearningbook.org/) by "
            "Goodfellow, Bengio and Courville: it is free to read online.")
    batch = load(f"# Learning\n\n## Start\n\n{para}\n")
    [item] = batch.items
    assert (item.title, item.url, item.text) == ("Deep Learning", "https://www.deeplearningbook.org/", para.replace(
        "[Deep Learning](https://www.deeplearningbook.org/)", "Deep Learning"))
    assert (item.authors, item.medium, item.topics) == (["Goodfellow", "Bengio", "Courville"], "book", ["Start"])


def test_links_that_merely_point_somewhere_in_prose_are_not_items():
    assert load("## CUDA\n\nRead about it on [the CUDA Zone](https://developer.nvidia.com/cuda-zone).\n").items == []
    assert load("## CUDA\n\nOur [Deep Learning](https://example.org/dl) channel is on Discord.\n").items == []
    assert load("## CUDA\n\nSee [example.org/x](https://example.org/x) for the book.\n").items == []


def test_stars_recommended_durations_pages_and_paper_links_are_fields():
    batch = load("## Optimization\n\n- [Talk](https://example.org/talk) - A lecture (1h 30m) :star:\n"
                 "- [Book](https://example.org/book) - 300 pages on convex optimization. [recommended]\n"
                 "- [Adam](https://arxiv.org/abs/1412.6980) - Kingma and Ba (45 min)\n")
    talk, book, adam = batch.items
    assert (talk.minutes, talk.core, talk.text) == (90.0, True, "A lecture")
    assert (book.extra["pages"], book.core, book.minutes) == (300, True, None)
    assert (adam.medium, adam.minutes) == ("paper", 45.0)


def test_a_table_with_a_name_column_names_its_rows_by_it():
    batch = load("# Researchers\n\n| Name | Homepage | Known for |\n|---|---|---|\n"
                 "| Yann LeCun | [yann.lecun.com](http://yann.lecun.com/) | Convolutional networks |\n")
    [person] = batch.items
    assert (person.title, person.url, person.text, person.medium) == (
        "Yann LeCun", "http://yann.lecun.com/", "Convolutional networks", "person")


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
    "\n|---|---|\n", " by ", "(2016)", "[Free]", ":star:", "    ", "```", "?", "\n### Why?\n", "\n**Q?**\n", "(2h)",
    "\n## Papers\n", "Read the book ",
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
