"""The structured loaders: YAML, JSON, JSONL, CSV and TSV, on small real files."""
from __future__ import annotations

import json

import pytest

from aidlgraph.corpus import load_path
from aidlgraph.errors import InputError


def one(path):
    [batch] = load_path(path)
    return batch


def test_yaml_with_source_items_and_topics(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text(
        "source: My list\n"
        "topics:\n  - name: Heaps\n    aliases: [heap allocator]\n    description: malloc internals\n"
        "    prerequisites: [{topic: c programming, reason: heaps are C}]\n"
        "items:\n  - title: Understanding glibc malloc\n    url: https://example.org/malloc\n"
        "    topics: [heaps]\n    authors: [A. Writer]\n    date: 2016\n    free: true\n")
    batch = one(f)
    assert [t.id for t in batch.topics] == ["heaps"]
    assert batch.prereqs[0].src == "c programming" and batch.prereqs[0].dst == "heaps"
    item = batch.items[0]
    assert (item.source, item.url, item.date, item.authors, item.free) == (
        "My list", "https://example.org/malloc", "2016", ["A. Writer"], True)


def test_json_list_and_jsonl(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"name": "CUDA guide", "link": "https://x.org/g", "summary": "s"}]))
    (tmp_path / "b.jsonl").write_text('{"title": "One"}\n\n{"title": "Two", "kind": "news"}\n')
    a, b = load_path(tmp_path)
    assert a.items[0].title == "CUDA guide" and a.items[0].url == "https://x.org/g" and a.items[0].text == "s"
    assert [i.kind for i in b.items] == ["resource", "news"]


def test_tsv_columns_like_tutorialbank(tmp_path):
    f = tmp_path / "res.tsv"
    f.write_text("id\ttitle\turl\ttopic_name\tauthor\tmedium\tyear\n"
                 "1\tSeeKayWhy\thttps://github.com/x\tCKY Parsing\tAndreas\tLibraries\t2014\n"
                 "2\t\t\t\t\t\t\n")
    batch = one(f)
    assert len(batch.items) == 1
    item = batch.items[0]
    assert item.topics == ["CKY Parsing"] and item.authors == ["Andreas"] and item.date == "2014"
    assert item.medium == "tool" and "medium" not in item.extra and item.kind == "resource"
    assert [t.name for t in batch.topics] == ["CKY Parsing"]  # a topic column declares its topics


def test_csv_semicolon_topics(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text('title,topics,authors\n"A, B",cnn;segmentation,"X; Y"\n')
    item = one(f).items[0]
    assert item.title == "A, B" and item.topics == ["cnn", "segmentation"] and item.authors == ["X", "Y"]


def test_ids_are_stable_and_hash_tracks_content(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("- title: T\n  text: one\n")
    first = one(f).items[0]
    f.write_text("- title: T\n  text: two\n")
    second = one(f).items[0]
    assert first.id == second.id and first.content_hash != second.content_hash


@pytest.mark.parametrize("name, content, message", [
    ("empty.yaml", "", "empty"),
    ("blank.csv", "   \n\n", "empty"),
    ("bad.yaml", "items: [unclosed\n  - x: y", "malformed YAML"),
    ("bad.json", '{"items": [1, }', "malformed JSON"),
    ("bad.jsonl", '{"title": "x"}\nnot json\n', "malformed JSON on line 2"),
    ("nohead.csv", "foo,bar\n1,2\n", "no title or url column"),
    ("scalar.yaml", "just a string", "expected a list"),
    ("notitle.yaml", "- url: ''\n  text: x\n", "neither a title nor a url"),
    ("data.parquet", "x", "unknown file type"),
])
def test_bad_input_is_one_clear_error(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        load_path(f)
    assert "\n" not in str(info.value)


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "image.yaml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary"):
        load_path(f)


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_path(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", ["huge.md", "huge.txt"])
def test_a_huge_line_in_prose_is_refused(tmp_path, name):
    f = tmp_path / name
    f.write_text("# List\n\n- " + "[a](" * 40_000 + "\n")
    with pytest.raises(InputError, match="a line of 160002 characters"):
        load_path(f)
