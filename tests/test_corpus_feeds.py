"""The RSS/Atom loader on two hand-written feeds (tests/fixtures/feed_rss.xml, feed_atom.xml)."""
from __future__ import annotations

from pathlib import Path

import pytest

from aidlgraph.corpus import load_path, load_text, read_text
from aidlgraph.corpus.feeds import html_to_text, load_feed
from aidlgraph.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str):
    path = FIXTURES / name
    return load_feed(read_text(path), str(path.resolve()))


@pytest.fixture(scope="module")
def rss():
    return load_fixture("feed_rss.xml")


@pytest.fixture(scope="module")
def atom():
    return load_fixture("feed_atom.xml")


def test_rss_entries_are_news_items(rss):
    assert [i.title for i in rss.items] == ["Google acquires Kaggle", "Jetson TX2 is out", "Café talk: batch renormalization"]
    assert {i.kind for i in rss.items} == {"news"}
    assert {i.source for i in rss.items} == {"AIDL News Roundup"}
    kaggle = rss.items[0]
    assert kaggle.url == "https://example.org/aidl-news/google-kaggle"
    assert kaggle.date == "2017-03-08"
    assert kaggle.extra["guid"] == "aidl-2017-03-08-kaggle"


def test_rss_html_is_stripped_and_entities_unescaped(rss):
    kaggle, jetson, _ = rss.items
    assert kaggle.text == "Google bought the data science competition platform Kaggle & its community of 600k users."
    assert "alert" not in kaggle.text and "<" not in kaggle.text
    assert jetson.text == "NVIDIA's new embedded board doubles the performance per watt of the TX1."


def test_rss_authors_dates_and_tags(rss):
    kaggle, jetson, renorm = rss.items
    assert kaggle.authors == ["Waikit Lau"]  # "email (Name)" keeps the name
    assert jetson.authors == ["Arthur Chan"]  # dc:creator
    assert renorm.authors == []  # the channel's managingEditor is not the entry's author
    assert jetson.date == "2017-03-07"
    assert renorm.date == ""  # no pubDate: no date invented
    assert kaggle.topics == ["Industry", "Data Science"] and jetson.topics == ["Hardware"]
    assert [t.name for t in rss.topics] == ["Industry", "Data Science", "Hardware"]


def test_declared_encoding_is_honoured(rss):
    assert rss.items[2].title.startswith("Café")


def test_atom_blog_entries_are_posts(atom):
    assert [i.kind for i in atom.items] == ["post", "post"]
    gtc, imagenet = atom.items
    assert gtc.source == "The Humble Curator's Blog"
    assert gtc.url == "https://blog.example.org/2019/03/gtc-2019-keynotes"
    assert gtc.date == "2019-03-25"  # published wins over updated
    assert imagenet.date == "2017-09-20"  # updated when nothing else
    assert imagenet.title == "A read on ImageNet Training in Minutes"


def test_atom_content_is_preferred_to_summary_and_keeps_lines(atom):
    gtc = atom.items[0]
    assert gtc.text.startswith("Inside every serious deep learning house")
    assert "\nHuang's Keynotes\n" in gtc.text
    assert "\nMellanox acquisition:" in gtc.text
    assert "party — there are" in gtc.text  # &mdash; unescaped
    assert "Top announcements" not in gtc.text


def test_atom_authors_inherit_from_the_feed_and_tags_become_topics(atom):
    gtc, imagenet = atom.items
    assert gtc.authors == ["Arthur Chan"] and imagenet.authors == ["Guest Writer"]
    assert gtc.topics == ["GPU", "CUDA"] and imagenet.topics == []
    assert {t.name for t in atom.topics} == {"GPU", "CUDA"}


def test_load_path_picks_the_feed_loader():
    (batch,) = load_path(FIXTURES / "feed_atom.xml")
    assert len(batch.items) == 2


def test_feed_without_title_uses_the_file_stem():
    text = ('<?xml version="1.0"?><rss version="2.0"><channel><item><title>Only entry</title>'
            "<link>https://example.org/1</link></item></channel></rss>")
    batch = load_feed(text, "/x/weekly-links.rss")
    assert batch.items[0].source == "weekly-links"
    assert batch.items[0].text == ""


def test_entry_without_title_takes_its_first_line():
    text = ('<rss version="2.0"><channel><title>T</title><item><description>&lt;p&gt;A short note.&lt;/p&gt;'
            "&lt;p&gt;More.&lt;/p&gt;</description></item><item></item></channel></rss>")
    batch = load_feed(text, "/x/notes.rss")
    assert [i.title for i in batch.items] == ["A short note."]


def test_broken_feed_with_entries_still_loads():
    text = '<rss version="2.0"><channel><title>T</title><item><title>Kept & read</title></item></channel>'
    assert [i.title for i in load_feed(text, "/x/broken.xml").items] == ["Kept & read"]


@pytest.mark.parametrize("text", ["<rss><channel><title>Weekly</titl", "<html><body>not a feed", "<?xml version='1.0'?><"])
def test_invalid_feed_is_one_clear_error(text):
    with pytest.raises(InputError) as err:
        load_feed(text, "/data/news.xml")
    message = str(err.value)
    assert message.startswith("news.xml: not a valid RSS/Atom feed (") and "\n" not in message


def test_dispatch_from_text_sniffing():
    text = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>B</title><entry><title>E</title></entry></feed>'
    assert load_text(text, "/x/b.txt", ".txt").items[0].title == "E"


def test_html_to_text():
    assert html_to_text("<p>a &amp; b</p><script>x()</script><ul><li>one</li><li>two</li></ul>") == "a & b\none\ntwo"
    assert html_to_text("") == ""
