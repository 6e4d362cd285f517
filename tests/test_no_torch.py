"""Nothing imports torch unless it must: read commands run in fresh processes on a built library
and must not import torch or sentence-transformers; without ONNX they fall back to
sentence-transformers and give the same results."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aidlgraph import config, embed
from aidlgraph.embed import onnx_backend as onnx_embed
from aidlgraph.embed.onnx_backend import OnnxEmbedder
from aidlgraph.embed.torch_backend import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
MINI = Path(__file__).resolve().parent / "fixtures" / "mini"
NAME = config.DEFAULT_MODEL
HEAVY = ("torch", "sentence_transformers", "transformers")

# Runs the real entry point, then reports which modules the command imported. main() always
# ends in sys.exit, so SystemExit is caught to write the report.
RUNNER = r"""
import json, sys
report = sys.argv[1]
sys.argv = ["aidlgraph", *sys.argv[2:]]
from aidlgraph.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
with open(report, "w") as fh:
    json.dump({"exit": code, "modules": {m: m in sys.modules for m in
               ("torch", "sentence_transformers", "transformers", "onnxruntime")}}, fh)
"""


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory, request) -> Path:
    """The ONNX export in a session-wide temporary AIDLGRAPH_CACHE (shared with test_onnx_embed.py)."""
    cache = tmp_path_factory.getbasetemp() / "onnx-cache"
    patch = pytest.MonkeyPatch()
    patch.setenv("AIDLGRAPH_CACHE", str(cache))
    request.addfinalizer(patch.undo)
    model = request.getfixturevalue("model")
    directory = onnx_embed.ensure_export(NAME, model.model)
    assert directory is not None
    return directory


@pytest.fixture(scope="module")
def library_path(tmp_path_factory, request, onnx_export) -> Path:
    """The shipped library when data/ is here, else the mini fixture library; built once."""
    if (ROOT / "data").is_dir():
        return request.getfixturevalue("shipped_library_path")
    from aidlgraph.build.ingest import ingest
    from aidlgraph.build.bootstrap import create
    from aidlgraph.library import Library

    path = create(tmp_path_factory.mktemp("no-torch") / "lib", empty=True)
    with Library.open(path) as lib:
        ingest(lib, [MINI])
    return path


@pytest.fixture
def lib_copy(library_path, tmp_path) -> Path:
    copy = tmp_path / "lib-copy"
    shutil.copytree(library_path, copy)
    return copy


def run(args: list[str], library: Path, cache: Path, tmp_path: Path, **env) -> tuple[dict, str]:
    """Run ``aidlgraph ARGS`` in a fresh interpreter: (report, stdout)."""
    report = tmp_path / f"report-{os.getpid()}-{len(list(tmp_path.iterdir()))}.json"
    environ = {k: v for k, v in os.environ.items() if k not in ("AIDLGRAPH_MODEL", "AIDLGRAPH_ONNX")}
    environ.update({"AIDLGRAPH_HOME": str(library), "AIDLGRAPH_CACHE": str(cache), **env})
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(report), *args], env=environ,
                          capture_output=True, text=True, timeout=300)
    assert report.exists(), proc.stderr
    data = json.loads(report.read_text())
    data["stderr"] = proc.stderr
    return data, proc.stdout


def cache_of(onnx_export: Path) -> Path:
    return onnx_export.parents[1]


def any_item(library: Path) -> str:
    import sqlite3

    with sqlite3.connect(library / "library.db") as conn:
        return conn.execute("SELECT src FROM edges WHERE kind = 'similar' ORDER BY src LIMIT 1").fetchone()[0]


def a_topic(library: Path) -> str:
    import sqlite3

    with sqlite3.connect(library / "library.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM topics ORDER BY name")]
    return "semantic segmentation" if "semantic segmentation" in names else names[0]


def commands(library: Path) -> dict[str, list[str]]:
    return {
        "stats": ["stats", "--json"],
        "show": ["show", any_item(library), "--json"],
        "path known topic": ["path", a_topic(library), "--json"],
        "path by meaning": ["path", "labelling every pixel of a photograph with its class"],
        "related": ["related", "pinned memory makes host to device copies faster", "--json"],
        "ask": ["ask", "Where should I start learning about image segmentation?", "--json"],
    }


@pytest.mark.parametrize("command", ["stats", "show", "path known topic", "path by meaning", "related", "ask"])
def test_read_commands_do_not_import_torch(command, lib_copy, onnx_export, tmp_path):
    report, out = run(commands(lib_copy)[command], lib_copy, cache_of(onnx_export), tmp_path)
    assert report["exit"] == 0, report["stderr"]
    assert out.strip()
    imported = [m for m in HEAVY if report["modules"][m]]
    assert not imported, f"`aidlgraph {command}` imported {imported}"
    if command in ("stats", "show"):
        assert not report["modules"]["onnxruntime"], f"`aidlgraph {command}` loaded an embedding model"


def test_path_on_a_known_topic_needs_no_model_once_topic_vectors_are_stored(lib_copy, onnx_export, tmp_path):
    # The first read may embed topics whose vectors ingest did not store (torch-free); after that
    # a known topic's path only reads the database.
    args = commands(lib_copy)["path known topic"]
    run(args, lib_copy, cache_of(onnx_export), tmp_path)
    report, out = run(args, lib_copy, cache_of(onnx_export), tmp_path)
    assert report["exit"] == 0 and out.strip(), report["stderr"]
    assert not any(report["modules"].values()), report["modules"]


@pytest.mark.parametrize("command", ["related", "ask"])
def test_a_repeated_query_needs_no_model(command, lib_copy, onnx_export, tmp_path):
    args = commands(lib_copy)[command]
    first, out1 = run(args, lib_copy, cache_of(onnx_export), tmp_path)
    second, out2 = run(args, lib_copy, cache_of(onnx_export), tmp_path)
    assert first["exit"] == second["exit"] == 0, first["stderr"] + second["stderr"]
    assert first["modules"]["onnxruntime"]
    assert not any(second["modules"].values()), f"a cached `{command}` loaded {second['modules']}"
    assert out1 == out2


def cli_json(library: Path, args: list[str]) -> dict:
    from click.testing import CliRunner

    from aidlgraph.cli import cli

    result = CliRunner().invoke(cli, ["--library", str(library), *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


QUERIES = [
    ["related", "unified memory shared by the CPU and the GPU", "--json", "-k", "5"],
    ["ask", "how do I approach segmentation after classification?", "--json"],
    ["path", "labelling every pixel of a photograph with its class", "--json"],
]


def test_without_onnx_commands_fall_back_with_the_same_results(library_path, onnx_export, model, tmp_path, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(cache_of(onnx_export)))
    results = {}
    for variant in ("onnx", "sentence-transformers"):
        copy = tmp_path / variant
        shutil.copytree(library_path, copy)
        with monkeypatch.context() as m:
            m.setattr(embed, "_LOADED", {k: v for k, v in embed._LOADED.items() if k[1] == "torch"})
            if variant == "sentence-transformers":
                m.setenv("AIDLGRAPH_BACKEND", "torch")
            results[variant] = [cli_json(copy, q) for q in QUERIES]
            used = embed.load(NAME)
            assert isinstance(used, OnnxEmbedder if variant == "onnx" else SentenceTransformerEmbedder)
    fast, slow = results["onnx"], results["sentence-transformers"]

    related_fast, related_slow = fast[0]["results"], slow[0]["results"]
    assert [r["id"] for r in related_fast] == [r["id"] for r in related_slow]
    assert [r["score"] for r in related_fast] == pytest.approx([r["score"] for r in related_slow], abs=1e-3)
    ask_fast, ask_slow = fast[1], slow[1]
    assert (ask_fast["answered"], ask_fast["sources"]) == (ask_slow["answered"], ask_slow["sources"])
    assert ask_fast["confidence"] == pytest.approx(ask_slow["confidence"], abs=1e-3)
    assert fast[2]["topic"] == slow[2]["topic"]
    assert [s["id"] for s in fast[2]["steps"]] == [s["id"] for s in slow[2]["steps"]]


@pytest.mark.slow
def test_turned_off_onnx_falls_back_in_a_real_process(library_path, onnx_export, tmp_path):
    fast_lib, slow_lib = tmp_path / "fast-lib", tmp_path / "slow-lib"
    shutil.copytree(library_path, fast_lib)
    shutil.copytree(library_path, slow_lib)
    args = ["related", "copying arrays between host and device memory", "--json"]
    fast, out_fast = run(args, fast_lib, cache_of(onnx_export), tmp_path)
    slow, out_slow = run(args, slow_lib, cache_of(onnx_export), tmp_path, AIDLGRAPH_ONNX="0")
    assert fast["exit"] == slow["exit"] == 0, slow["stderr"]
    assert fast["modules"]["onnxruntime"] and not fast["modules"]["sentence_transformers"]
    assert slow["modules"]["sentence_transformers"] and not slow["modules"]["onnxruntime"]
    ids = [r["id"] for r in json.loads(out_fast)["results"]]
    assert ids and ids == [r["id"] for r in json.loads(out_slow)["results"]]
