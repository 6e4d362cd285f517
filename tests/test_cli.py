"""The CLI through CliRunner, on real temporary libraries with the real model."""
from __future__ import annotations

import json

from click.testing import CliRunner

from aidlgraph.cli import cli
from conftest import FIXTURES


def run(lib_path, *args, input=None):
    result = CliRunner().invoke(cli, ["--library", str(lib_path), *args], input=input, catch_exceptions=False)
    return result


def test_init_empty_ingest_and_look_around(tmp_path, model):
    lib = tmp_path / "lib"
    assert run(lib, "init", "--empty").exit_code == 0
    out = run(lib, "ingest", str(FIXTURES / "mini"))
    assert out.exit_code == 0, out.output
    assert "9 new" in out.output and "7 new topics" in out.output

    stats = json.loads(run(lib, "stats", "--json").output)
    assert stats["items"] == {"news": 1, "question": 1, "resource": 7}
    assert stats["topics"] == 7 and stats["edges"]["prereq"] == 5 and stats["dim"] == 384
    assert stats["model"] == "all-MiniLM-L6-v2"

    items = json.loads(run(lib, "items", "--json", "--topic", "cuda").output)
    assert {i["title"] for i in items} == {"An Easy Introduction to CUDA C and C++",
                                           "How to Optimize Data Transfers in CUDA C/C++",
                                           "Professional CUDA C Programming"}
    assert set(items[0]) == {"id", "title", "url", "kind", "source", "topics"}

    topics = json.loads(run(lib, "topics", "--json").output)
    cuda = next(t for t in topics if t["name"] == "cuda basics")
    assert cuda["prerequisites"] == ["c programming", "gpu architecture"] and "cuda" in cuda["aliases"]

    item_id = next(i["id"] for i in items if i["title"].startswith("How to Optimize"))
    shown = run(lib, "show", item_id)
    assert shown.exit_code == 0 and "Pinned memory" in shown.output and "cuda basics (curated)" in shown.output
    detail = json.loads(run(lib, "show", item_id, "--json").output)
    assert detail["series_next"] and detail["series_previous"]


def test_first_command_builds_the_default_library(tmp_path, monkeypatch, model):
    """No library yet: the first command builds one from the shipped corpus, then answers."""
    monkeypatch.setenv("AIDLGRAPH_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "topics.yaml").write_text((FIXTURES / "mini" / "topics.yaml").read_text())
    (tmp_path / "data" / "items").mkdir()
    (tmp_path / "data" / "items" / "mini.yaml").write_text((FIXTURES / "mini" / "items.yaml").read_text())
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("AIDLGRAPH_HOME", str(home))
    result = CliRunner().invoke(cli, ["path", "unified memory", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (home / "library.db").exists() and (home / "vectors.faiss").exists()
    assert not [p for p in home.parent.iterdir() if "building" in p.name]  # no leftovers


def test_errors_are_one_line_and_exit_1(tmp_path, model):
    lib = tmp_path / "lib"
    run(lib, "init", "--empty")
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n")
    for args in (["ingest", str(bad)], ["ingest", str(tmp_path / "missing.md")], ["show", "nope"],
                 ["init", "--empty"]):
        result = run(lib, *args)
        assert result.exit_code == 1, (args, result.output)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output


def test_no_library_and_no_data_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_DATA", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(cli, ["--library", str(tmp_path / "lib"), "stats"])
    assert result.exit_code == 1 and "shipped corpus is missing" in result.output
    assert not (tmp_path / "lib" / "library.db").exists()
