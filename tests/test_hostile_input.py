"""Hostile input: random bytes, deep nesting, huge lines, odd encodings and malformed structures
at every loader; random text at the library's questions; FTS5 syntax in user text; the HTTP API
under malformed requests; and names that must not reach files outside what the user gave.

The rule everywhere: the only exception a user's input may raise is ``AidlgraphError`` (one clear
line in the CLI, a 4xx in the API), and nothing hangs.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aidlgraph.corpus import load_path, load_text
from aidlgraph.errors import AidlgraphError
from conftest import ROOT

SUFFIXES = [".yaml", ".json", ".jsonl", ".csv", ".tsv", ".md", ".txt", ".rss", ".atom"]
FIELDS = ["title", "name", "url", "link", "topics", "topic", "text", "summary", "authors", "author", "date",
          "year", "kind", "medium", "source", "series", "position", "free", "core", "minutes", "access", "id",
          "items", "topics", "aliases", "prerequisites", "description", "defaults", "reason"]
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse(text: str, suffix: str):
    """Load ``text`` as a file with ``suffix`` would be; an AidlgraphError is fine, and what ingest
    computes next from a batch (ids, content hashes, UTF-8 for SQLite) must work too."""
    try:
        batch = load_text(text, f"/nonexistent/hostile/input{suffix}", suffix)
    except AidlgraphError:
        return None
    for item in batch.items:
        assert isinstance(item.title, str) and item.id and item.content_hash
        item.embed_text().encode("utf-8")
    for topic in batch.topics:
        assert topic.id and isinstance(topic.name, str)
    return batch


# -- values, documents, token soups ------------------------------------------------------------
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
           | st.sampled_from(["", " ", "nan", "inf", "-1", "1e999", "[1, [2]]", "a;b|c", "2020-13-45", "yes"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4),
                      max_leaves=25)
item_like = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)
documents = (st.lists(item_like | values, max_size=6)
             | st.fixed_dictionaries({}, optional={"items": st.lists(item_like, max_size=5) | values,
                                                  "topics": st.lists(item_like | st.text(max_size=20), max_size=5) | values,
                                                  "source": values, "defaults": item_like | values})
             | values)


def soup(tokens: list[str], max_size: int = 60):
    return st.lists(st.sampled_from(tokens) | st.text(max_size=12), max_size=max_size).map("".join)


MARKDOWN = ["# ", "## ", "### ", "\n", "\n\n", "- ", "* ", "+ ", "1. ", "  ", "[", "]", "(", ")", "[x](", "](http://a.b/c)",
            "http://example.org/", "<https://x.y>", "**", "__", "`", "```", "<a href='", "'>", "</a>", "<details>",
            "<summary>", "</details>", "|", "---", "[ ] ", "[x] ", " - ", ": ", "(2019)", "[PDF]", ":star:", "🙂",
            "[ref]: http://r.s", "<h2>", "</h2>", "> ", "\t", "Back to top", "free", "paid", "$$", "et al."]
NEWSLETTER = ["Issue #", "12", "\n", "\n\n", "Q. ", "A. ", "News", "Resources", "©", "(c) 2017", "• ", "- ", "1) ",
              "http://a.b/", "“", "”", "\"", ": ", " — ", "Part ", "II", "written by ", "this", "Blogs", "Jobs",
              "[1]", "...", "(…)", "as well as", "my question is:", "AIDL Weekly", "Thoughts", "reading list"]
FEED = ["<?xml version='1.0' encoding='utf-8'?>", "<rss version='2.0'>", "</rss>", "<channel>", "</channel>",
        "<item>", "</item>", "<title>", "</title>", "<link>", "</link>", "<description>", "</description>",
        "<feed xmlns='http://www.w3.org/2005/Atom'>", "</feed>", "<entry>", "</entry>", "<content type='html'>",
        "</content>", "<link href='", "'/>", "&amp;", "&lt;div&gt;", "&#xD800;", "&#0;", "&bogus;", "<![CDATA[",
        "]]>", "<pubDate>", "Mon, 99 Foo 2019", "</pubDate>", "<category>", "</category>", "<!DOCTYPE x>", "\x0c"]


def dump(doc, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(doc, default=str)
    if suffix == ".jsonl":
        rows = doc if isinstance(doc, list) else [doc]
        return "\n".join(json.dumps(r, default=str) for r in rows)
    return yaml.safe_dump(doc, allow_unicode=True)


@FUZZ
@given(text=st.text(max_size=3000), suffix=st.sampled_from(SUFFIXES), bom=st.booleans())
def test_random_text_at_every_loader(text, suffix, bom):
    parse(("\ufeff" if bom else "") + text, suffix)


@FUZZ
@given(doc=documents, suffix=st.sampled_from([".yaml", ".json", ".jsonl"]))
def test_malformed_structures_at_record_loaders(doc, suffix):
    try:
        text = dump(doc, suffix)
    except (ValueError, OverflowError, yaml.YAMLError):  # not representable: nothing to load
        assume(False)
    parse(text, suffix)


@FUZZ
@given(header=st.lists(st.sampled_from(FIELDS) | st.text(max_size=10), max_size=6),
       rows=st.lists(st.lists(st.text(max_size=30) | st.sampled_from(['"', '""', "\r", "\n", "[[1]]", "a;b"]),
                              max_size=8), max_size=8),
       delimiter=st.sampled_from([",", "\t", ";"]), suffix=st.sampled_from([".csv", ".tsv"]))
def test_malformed_tables(header, rows, delimiter, suffix):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    parse(out.getvalue(), suffix)


@FUZZ
@given(text=soup(MARKDOWN))
def test_markdown_soup(text):
    parse(text, ".md")


@FUZZ
@given(text=soup(NEWSLETTER))
def test_newsletter_soup(text):
    parse(text, ".txt")


@FUZZ
@given(text=soup(FEED), suffix=st.sampled_from([".rss", ".atom"]))
def test_feed_soup(text, suffix):
    parse(text, suffix)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES + [".xml", ".bin", ""]))
def test_random_bytes_files(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"input{suffix}"
    path.write_bytes(data)
    try:
        for batch in load_path(path):
            for item in batch.items:
                item.content_hash
    except AidlgraphError:
        pass


SAMPLE = "- title: Naïve Bayes, ça marche — 日本語 🙂\n  text: Über résumé façade\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "latin-1", "cp1252", "mac-roman", "shift_jis", "cesu"])
@pytest.mark.parametrize("suffix", [".yaml", ".md", ".txt", ".csv"])
def test_odd_encodings(tmp_path, encoding, suffix):
    text = SAMPLE if suffix != ".csv" else "title,text\n\"Naïve Bayes, ça marche\",Über résumé\n"
    if encoding == "cesu":  # UTF-16 surrogates written as UTF-8 (Java's modified UTF-8)
        data = text.encode("utf-16-be").decode("utf-16-be").encode("utf-8", "surrogatepass")
        data += "\n- title: x\ud83d\ude42\n".encode("utf-8", "surrogatepass") if suffix == ".yaml" else b"\xed\xa0\xbd"
    else:
        data = text.encode(encoding, errors="replace")
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    try:
        batches = load_path(path)
    except AidlgraphError:
        return
    for batch in batches:
        for item in batch.items:
            item.content_hash.encode()
            item.embed_text().encode("utf-8")
    if encoding in ("utf-8", "utf-8-sig", "utf-16") and suffix == ".yaml":
        assert batches[0].items[0].title.startswith("Naïve Bayes")


@pytest.mark.parametrize("text,suffix", [
    ("[" * 200_000, ".json"), ("[" * 200_000, ".jsonl"), ("[" * 200_000, ".yaml"), ("{a: " * 50_000, ".yaml"),
    ("".join(f"{'  ' * n}- \n" for n in range(3000)), ".yaml"),
    ('[{"title": "x", "extra": ' + "[" * 900 + "]" * 900 + "}]", ".json"),
    ('{"title": "x", "n": ' + "9" * 5000 + "}", ".jsonl"), ("- title: x\n  position: " + "9" * 5000 + "\n", ".yaml"),
    ("- title: x\n  position: .inf\n  minutes: .nan\n", ".yaml"), ('[{"title": "x", "minutes": 1e999}]', ".json"),
    ('[{"title": "\\ud800"}]', ".json"), ('- title: "\\udfff"\n', ".yaml"),
    ("topics:\n  - name: t\n    aliases: 5\n    prerequisites: 7\n", ".yaml"),
    ("topics: [{name: t, prerequisites: {topic: u}}]\n", ".yaml"),
    ("title\n" + '"' + "x" * 11_000_000 + '"\n', ".csv"),
    ("> " * 100_000 + "x", ".md"), ("<details>" * 50_000, ".md"), ("    " * 100_000 + "- [x](http://y)", ".md"),
    ("Q. " * 100_000, ".txt"), ("<rss><channel><item><title>" + "<b>" * 100_000 + "</title></item></channel></rss>", ".rss"),
])
def test_deep_nesting_huge_numbers_and_bad_shapes(text, suffix):
    parse(text, suffix)


def test_yaml_alias_bomb_is_refused_quickly():
    lines = ["items:", "  - title: boom", "    bomb:", '      a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"      {name}: &{name} [{', '.join(['*' + prev] * 9)}]")
        prev = name
    with pytest.raises(AidlgraphError, match="expands"):
        load_text("\n".join(lines) + "\n", "bomb.yaml", ".yaml")


def test_xml_entity_bomb_and_external_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    entities = "".join(f'<!ENTITY l{n} "{("&l%d;" % (n - 1)) * 10}">' for n in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}'
            f'<!ENTITY x SYSTEM "file://{secret}">]>'
            '<rss version="2.0"><channel><item><title>&l9; &x;</title><link>http://a/</link></item></channel></rss>')
    batch = parse(bomb, ".rss")
    assert batch is None or all(len(i.title) < 1000 and "TOP-SECRET" not in i.title for i in batch.items)


HUGE_LINE_SCRIPT = textwrap.dedent("""
    import sys, time
    from aidlgraph.corpus import load_text
    from aidlgraph.errors import AidlgraphError
    from aidlgraph.query.related import split_passages
    from aidlgraph.text import fts_query, terms
    line = "[](" * (5 * 2**20 // 3)
    cases = [(s, line) for s in (".md", ".txt", ".yaml", ".json", ".jsonl", ".csv", ".tsv")]
    cases.append((".rss", "<rss><channel><item><title>" + line + "</title><description>" + line
                  + "</description></item></channel></rss>"))
    for suffix, text in cases:
        started = time.perf_counter()
        try:
            load_text(text, "/nonexistent/huge" + suffix, suffix)
        except AidlgraphError:
            pass
        print(suffix, round(time.perf_counter() - started, 2), flush=True)
    started = time.perf_counter()
    split_passages(line[:200_000]); fts_query(line); terms("a" + "-" * 2**20)
    print("related-text", round(time.perf_counter() - started, 2), flush=True)
""")


@pytest.mark.slow
def test_a_huge_line_of_brackets_does_not_hang():
    """5 MB on one line of '[](' (the shape that makes link regexes backtrack) through every loader
    and the text helpers of `related`; a subprocess, so a hang is killed and reported."""
    try:
        done = subprocess.run([sys.executable, "-c", HUGE_LINE_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                              timeout=240)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"a loader hung on a 5 MB line; finished before that: {exc.stdout}")
    assert done.returncode == 0, done.stderr[-2000:]
    times = dict(line.split() for line in done.stdout.splitlines())
    assert len(times) == 9
    assert all(float(t) < 120 for t in times.values()), times


# -- the library's questions under random text -------------------------------------------------
@pytest.fixture(scope="module")
def library(shared_library):
    return shared_library


QUERY_TOKENS = ['"', "'", "NEAR(", "NEAR/2", ")", "(", "*", "^", "AND", "OR", "NOT", "-", "+", ":", "title:",
                "{title text}:", "cuda", "C++", "c#", ".net", "a.b", "naïve", "日本語", "🙂", "\\", "%", "_", ";",
                "DROP TABLE items;--", "../../etc/passwd", "\x00", "\u202e", "\ufeff", " ", "\n", "\t", "segmentation"]
queries = st.one_of(st.text(max_size=300), soup(QUERY_TOKENS, 30), st.sampled_from(["", " ", "\n", "x" * 2001]))


def only_user_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except AidlgraphError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries, known=st.lists(queries, max_size=2), depth=st.none() | st.integers(-3, 50),
       per_topic=st.integers(-2, 30))
def test_path_random_text(library, q, known, depth, per_topic):
    from aidlgraph.query.path import reading_path

    only_user_errors(reading_path, library, q, known=known, depth=depth, per_topic=per_topic)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=queries, k=st.integers(-2, 10_000), mode=st.sampled_from(["hybrid", "dense", "bm25"]),
       kinds=st.lists(st.text(max_size=8) | st.sampled_from(["news", "question"]), max_size=2),
       before=st.none() | st.text(max_size=12), since=st.none() | st.text(max_size=12),
       exclude=st.lists(st.text(max_size=8), max_size=2), min_score=st.none() | st.floats(allow_nan=True))
def test_related_random_text(library, text, k, mode, kinds, before, since, exclude, min_score):
    from aidlgraph.query.related import related

    result = only_user_errors(related, library, text, k=k, kinds=kinds, before=before, since=since,
                              exclude_sources=exclude, min_score=min_score, mode=mode)
    if result is not None:
        json.dumps(result, ensure_ascii=False).encode("utf-8")
        assert len(result["results"]) <= max(k, 0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries)
def test_ask_show_and_resolve_random_text(library, q):
    from aidlgraph.query.ask import ask
    from aidlgraph.query.browse import item_detail
    from aidlgraph.query.resolve import resolve_topic

    result = only_user_errors(ask, library, q)
    if result is not None:
        assert isinstance(result["answered"], bool)
    only_user_errors(item_detail, library, q)
    only_user_errors(resolve_topic, library, q)


FTS_HOSTILE = ['"', '""', '"unclosed', "NEAR(cuda memory)", "NEAR(cuda memory, 2)", "cuda*", "*", "^cuda", "(cuda",
               "cuda)", "cuda OR", "AND", "NOT cuda", "-cuda", "+cuda", "title:cuda", "{title text}: cuda",
               "text : memory", 'cuda"; DROP TABLE items; --', "C++", "c#", ".net", "naïve Bayes", "日本語のテキスト",
               "🙂 emoji", "\x00", "'", "a:b:c", "NEAR/2", "cuda AND (memory OR", "col:*", "\u200b", "Ⅻ ǅ ß ﬁ"]


@pytest.mark.parametrize("text", FTS_HOSTILE)
def test_fts5_syntax_cannot_be_broken_by_user_text(library, text):
    from aidlgraph.query.related import related
    from aidlgraph.text import fts_query

    library.store.fts(fts_query(text), 10)  # a query FTS5 refuses raises sqlite3.OperationalError
    only_user_errors(related, library, text, mode="bm25")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200) | soup(QUERY_TOKENS, 20))
def test_fts_query_only_quotes_plain_tokens(library, text):
    import re

    from aidlgraph.text import fts_query

    query = fts_query(text)
    for part in query.split(" OR ") if query else []:
        assert re.fullmatch(r'"[a-z0-9+#.\-]+"', part), part
    library.store.fts(query, 5)


# -- names that must not become paths ------------------------------------------------------------
class OpenedFiles:
    """Every file Python opens or lists while active (an audit hook: installed once, cheap when idle)."""

    installed = False
    active: list | None = None
    lock = threading.Lock()

    def __enter__(self):
        if not OpenedFiles.installed:
            sys.addaudithook(OpenedFiles._hook)
            OpenedFiles.installed = True
        self.paths: list[str] = []
        OpenedFiles.active = self.paths
        return self

    def __exit__(self, *exc):
        OpenedFiles.active = None

    @staticmethod
    def _hook(event, args):
        paths = OpenedFiles.active
        if paths is not None and event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, Path)):
            with OpenedFiles.lock:
                paths.append(str(Path(args[0].decode() if isinstance(args[0], bytes) else args[0]).resolve()))

    def under(self, folder: Path) -> set[str]:
        folder = str(folder.resolve())
        return {p for p in self.paths if p == folder or p.startswith(folder + "/")}


def test_ingest_reads_only_the_named_file_through_dotdot(library, tmp_path):
    from aidlgraph.build.ingest import ingest

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    named = tmp_path / "a" / "notes.yaml"
    named.write_text("- title: A note about CUDA streams and events\n")
    (tmp_path / "a" / "other.yaml").write_text("- title: Not named\n")
    (tmp_path / "secret.yaml").write_text("- title: Secret beside the named folder\n")
    (tmp_path / "b" / "x..y.yaml").write_text("- title: Dots inside a file name\n")
    with OpenedFiles() as seen:
        report = ingest(library, [tmp_path / "b" / ".." / "a" / "notes.yaml", tmp_path / "b" / "x..y.yaml"])
    assert report.files == 2 and report.new == 2
    assert seen.under(tmp_path) == {str(named.resolve()), str((tmp_path / "b" / "x..y.yaml").resolve())}
    origins = {r[0] for r in library.store.db.execute("SELECT DISTINCT origin FROM items").fetchall()}
    assert str(named.resolve()) in origins and not any(".." in Path(o).parts for o in origins)


def test_a_folder_given_through_dotdot_is_walked_only_inside(library, tmp_path):
    from aidlgraph.build.ingest import ingest

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "list.md").write_text("# CUDA\n\n- [CUDA by practice](https://example.org/cuda-practice)\n")
    (tmp_path / "outside.yaml").write_text("- title: Must not be read\n")
    (tmp_path / "corpus" / "link.yaml").symlink_to(tmp_path / "outside.yaml")  # points out of the folder
    with OpenedFiles() as seen:
        ingest(library, [tmp_path / "corpus" / ".." / "corpus"])
    read = {p for p in seen.under(tmp_path) if Path(p).is_file()}
    assert read == {str((tmp_path / "corpus" / "list.md").resolve())}
    assert not [r for r in library.store.items() if r["title"] == "Must not be read"]


def test_item_ids_and_queries_never_become_paths(library, tmp_path):
    from aidlgraph.query.ask import ask
    from aidlgraph.query.browse import item_detail
    from aidlgraph.errors import NotFoundError
    from aidlgraph.query.path import reading_path
    from aidlgraph.query.related import related

    secret = tmp_path / "secret.yaml"
    secret.write_text("- title: TOP SECRET\n")
    names = [str(secret), f"../../../../../..{secret}", "file://" + str(secret), "library.db", "vectors.faiss",
             "../library.db", str(library.path / "library.db"), "/etc/passwd", "~/.ssh/id_rsa", "\x00" + str(secret)]
    with OpenedFiles() as seen:
        for name in names:
            with pytest.raises(NotFoundError):
                item_detail(library, name)
            only_user_errors(related, library, name)
            only_user_errors(ask, library, name)
            only_user_errors(reading_path, library, name)
    assert not seen.under(tmp_path)
    assert not [p for p in seen.paths if p in ("/etc/passwd",) or p.endswith("id_rsa")]


def test_cli_text_argument_that_names_a_file_is_text(library, tmp_path):
    from click.testing import CliRunner

    from aidlgraph.cli import cli

    secret = tmp_path / "secret.md"
    secret.write_text("CUDA unified memory secrets\n")
    with OpenedFiles() as seen:
        result = CliRunner().invoke(cli, ["--library", str(library.path), "related", str(secret), "--json"])
        shown = CliRunner().invoke(cli, ["--library", str(library.path), "show", str(secret)])
    assert result.exit_code == 0, result.output
    assert shown.exit_code == 1 and "no item with id" in shown.output
    assert str(secret.resolve()) not in seen.paths


# -- the HTTP API --------------------------------------------------------------------------------
def malformed_requests(*args, **kwargs):
    """The request generator of bench/faults.py (which sends 10,000 of them to a real server)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_faults", ROOT / "bench" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.malformed_requests(*args, **kwargs)


@pytest.fixture(scope="module")
def api(library):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from aidlgraph.serve import create_app

    app = create_app(library.path, token="")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def test_api_300_malformed_requests_no_5xx(api, library, tmp_path):
    app, client = api
    secret = tmp_path / "secret.yaml"
    secret.write_text("- title: TOP SECRET\n")
    item_id = library.store.items()[0]["id"]
    statuses: dict[int, int] = {}
    with OpenedFiles() as seen:
        for method, url, headers, body in malformed_requests(300, seed=7, item_id=item_id, secret=secret):
            response = client.request(method, url, headers=headers, content=body)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (method, url[:200], response.text[:300])
            if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json") \
                    and method != "HEAD":  # a HEAD response has the GET's headers and no body (HTTP)
                assert "error" in response.json() or "detail" in response.json()
    assert app.state.internal_errors == 0
    print("statuses:", dict(sorted(statuses.items())))
    assert sum(statuses.values()) == 300 and len(statuses) > 3, statuses
    assert not seen.under(tmp_path), "a request parameter named a file and the server opened it"
    assert client.get("/healthz").status_code == 200  # and it still serves
