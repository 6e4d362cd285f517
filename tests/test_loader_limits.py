"""Hostile files, round two: loaders enforce their limits before they allocate, a stray quote never
merges rows silently, and text in UTF-16, UTF-32 or mostly-UTF-8 reads as its author wrote it."""
from __future__ import annotations

import logging
import tracemalloc

import pytest

from aidlgraph.corpus import decode_bytes, limits, load_path, load_text, records
from aidlgraph.errors import InputError
from conftest import shared_or_skip


def csv_rows(n: int = 1000, sep: str = ",") -> list[str]:
    return [sep.join(["title", "url", "topic"])] + [
        sep.join([f"Item {k} on kernels", f"https://example.org/{k}", "CUDA"]) for k in range(n)]


# -- limits, checked before the loader builds anything big -------------------------------------------
def test_a_million_column_header_is_refused_without_allocating_rows():
    header = ",".join(["title"] + [f"c{n}" for n in range(1_000_000)])  # 7.9 MB, as in the issue
    text = header + "\n" + "\n".join("x,1" for _ in range(300)) + "\n"
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as refused:
            load_text(text, "wide.csv", ".csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "1000001 columns" in str(refused.value) and f"at most {limits.MAX_COLUMNS}" in str(refused.value)
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB allocated to refuse it"


def test_a_row_wider_than_the_limit_names_its_line():
    text = "title,url\nfine,https://x.org\n" + ",".join(["x"] * 5000) + "\n"
    with pytest.raises(InputError, match=r"wide.csv: line 3: 5000 columns; a row may have at most 1000"):
        load_text(text, "wide.csv", ".csv")


def test_cells_per_file_and_rows_per_file(monkeypatch):
    monkeypatch.setattr(records, "MAX_CELLS", 300)
    with pytest.raises(InputError, match=r"line \d+: more than 300 cells; a file may have at most 300"):
        load_text("\n".join(csv_rows(200)), "many.csv", ".csv")
    monkeypatch.setattr(records, "MAX_CELLS", 10**9)
    monkeypatch.setattr(records, "MAX_ITEMS", 50)
    with pytest.raises(InputError, match=r"line 52: more than 50 rows; a file may hold at most 50"):
        load_text("\n".join(csv_rows(200)), "many.csv", ".csv")
    with pytest.raises(InputError, match="more than 50 lines of items"):
        load_text("\n".join('{"title": "x%d"}' % n for n in range(60)), "many.jsonl", ".jsonl")
    with pytest.raises(InputError, match="60 items; a file may hold at most 50"):
        load_text("\n".join(f"- title: x{n}" for n in range(60)), "many.yaml", ".yaml")


def test_a_field_over_the_limit_names_its_line():
    text = "title,text\nfine,short\nbig," + "y" * (limits.MAX_FIELD + 1) + "\n"
    with pytest.raises(InputError, match=r"big.csv: line 3: a field of more than 200000 characters"):
        load_text(text, "big.csv", ".csv")
    with pytest.raises(InputError, match=r"a value of 200001 characters .* the limit per field is 200000"):
        load_text("- title: x\n  text: " + "y" * (limits.MAX_FIELD + 1) + "\n", "big.yaml", ".yaml")


def test_a_million_bullets_of_markdown_are_refused_before_parsing():
    text = "# CUDA\n" + "- [a link](https://example.org)\n" * 1_000_000
    with pytest.raises(InputError, match=f"more than {limits.MAX_ITEMS} bullets or table rows"):
        load_text(text, "bullets.md", ".md")
    feed = "<rss><channel>" + "<item><title>x</title></item>" * (limits.MAX_ITEMS + 1) + "</channel></rss>"
    with pytest.raises(InputError, match=f"more than {limits.MAX_ITEMS} entries"):
        load_text(feed, "big.rss", ".rss")


def test_too_many_topics_on_one_item():
    cell = ";".join(f"topic {n}" for n in range(limits.MAX_TOPICS + 1))
    with pytest.raises(InputError, match=f"item 1 names 101 topics; an item may name at most {limits.MAX_TOPICS}"):
        load_text(f"title,topics\nx,{cell}\n", "t.csv", ".csv")


def test_unknown_columns_are_kept_within_the_extra_limits(caplog):
    header = ["title"] + [f"col{n}" for n in range(80)]
    row = ["A resource"] + ["z" * 5000] + ["v"] * 79
    with caplog.at_level(logging.WARNING):
        batch = load_text(",".join(header) + "\n" + ",".join(row) + "\n", "extra.csv", ".csv")
    extra = batch.items[0].extra
    assert len(extra) == limits.MAX_EXTRA_FIELDS
    assert max(len(v) for v in extra.values()) == limits.MAX_EXTRA_CHARS and extra["col0"].endswith("…")
    assert "1 items have more unknown fields than an item keeps (50 fields of 2000 characters)" in caplog.text


# -- a stray quote --------------------------------------------------------------------------------
def test_a_stray_quote_in_a_csv_is_an_error_with_its_line_not_a_merge():
    rows = csv_rows(1000)
    rows[12] = '"Quoted start of a title, oops,https://example.org/q,CUDA'
    with pytest.raises(InputError) as refused:
        load_text("\n".join(rows) + "\n", "stray.csv", ".csv")
    message = str(refused.value)
    assert message.startswith("stray.csv: line 13: a quote opens a field that runs on to line 1001"), message
    rows[600] = '"Another" quoted start,https://example.org/z,CUDA'  # a second quote closes the first
    with pytest.raises(InputError, match=r"line 13: a quote opens a field that runs on to line 601"):
        load_text("\n".join(rows) + "\n", "stray.csv", ".csv")


def test_a_tsv_written_without_quoting_keeps_its_quotes_and_rows():
    rows = csv_rows(1000, "\t")
    rows[12] = '"Attention" is all you need, explained\thttps://example.org/q\tCUDA'
    rows[40] = '"Properly quoted title"\thttps://example.org/p\tCUDA'
    batch = load_text("\n".join(rows) + "\n", "plain.tsv", ".tsv")
    assert len(batch.items) == 1000
    assert batch.items[11].title == '"Attention" is all you need, explained'
    assert batch.items[39].title == "Properly quoted title"


def test_quoted_fields_with_line_breaks_still_read():
    text = ('title,url,text\n"A long, quoted\ntitle",https://a.org,"First paragraph, with commas.\n\n'
            'Second paragraph, also, with commas."\nNext,https://b.org,plain\n')
    batch = load_text(text, "prose.csv", ".csv")
    assert [i.title for i in batch.items] == ["A long, quoted\ntitle", "Next"]
    assert batch.items[0].text.startswith("First paragraph") and batch.items[0].text.endswith("with commas.")


def test_tutorialbank_reads_as_before():
    path = shared_or_skip("datasets/tutorialbank/resources-v2023-clean.tsv")
    batch = load_path(path)[0]
    assert len(batch.items) == 20244


# -- encodings ------------------------------------------------------------------------------------
SHEET = "title\ttopic\nNaïve Bayes, ça marche\tstatistique\nRésumé de l'apprentissage profond\tréseaux\n"


@pytest.mark.parametrize("encoding,bom", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-le", b""), ("utf-16-be", b"\xfe\xff"), ("utf-16-be", b""),
    ("utf-32-le", b"\xff\xfe\x00\x00"), ("utf-32-be", b"\x00\x00\xfe\xff"), ("utf-8", b"\xef\xbb\xbf"),
])
def test_unicode_files_with_and_without_a_bom(tmp_path, encoding, bom):
    """Excel's "Unicode text" is UTF-16 LE with a BOM and CRLF lines."""
    path = tmp_path / "sheet.tsv"
    path.write_bytes(bom + SHEET.replace("\n", "\r\n").encode(encoding))
    titles = [i.title for i in load_path(path)[0].items]
    assert titles == ["Naïve Bayes, ça marche", "Résumé de l'apprentissage profond"]


def test_one_stray_latin1_byte_garbles_only_its_own_line(tmp_path, caplog):
    path = tmp_path / "mixed.csv"
    lines = ["title,text", "Café au lait,ok", "Zürich meetup,ok", "naïve résumé,ok", "Ångström units,ok"]
    data = b"\n".join(line.encode("latin-1" if n == 2 else "utf-8") for n, line in enumerate(lines)) + b"\n"
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING):
        titles = [i.title for i in load_path(path)[0].items]
    assert titles == ["Café au lait", "Zürich meetup", "naïve résumé", "Ångström units"]
    assert "mixed.csv: line 3 of 5 is not UTF-8; read as Windows-1252" in caplog.text


def test_a_broken_bom_file_is_one_clear_line():
    with pytest.raises(InputError, match="starts with a UTF-16 byte-order mark but byte"):
        decode_bytes(b"\xff\xfe" + "ok".encode("utf-16-le") + b"\x00\xd8", "bad.csv")  # a lone surrogate
