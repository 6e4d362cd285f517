"""The package's shape holds: imports point one way, SQL lives in the store, the JSON shapes come
from views, and everything but the model itself runs on the deterministic fake embedder."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx

from aidlgraph.build.plan import Snapshot, plan
from aidlgraph.corpus import load_path
from aidlgraph.errors import CycleError, UnknownTopicError
from conftest import FIXTURES

PACKAGE = Path(__file__).resolve().parents[1] / "aidlgraph"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> nx.DiGraph:
    """module -> module for every import in the package, at module level or inside functions."""
    mods = modules()
    g = nx.DiGraph()
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                wanted = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                wanted = [a.name for a in node.names]
            else:
                continue
            for other in wanted:
                # a package importing its own submodules is how a package is made, not a cycle
                if other in mods and other != name and not other.startswith(name + "."):
                    g.add_edge(name, other)
    return g


def test_no_import_cycles_even_through_imports_inside_functions():
    assert list(nx.simple_cycles(import_graph())) == []


def test_layers_point_downward():
    g = import_graph()
    lower = {"aidlgraph.store", "aidlgraph.corpus", "aidlgraph.text", "aidlgraph.embed", "aidlgraph.index",
             "aidlgraph.graph", "aidlgraph.library"}
    upper = ("aidlgraph.build", "aidlgraph.query", "aidlgraph.views", "aidlgraph.cli", "aidlgraph.serve",
             "aidlgraph.bot", "aidlgraph.service")
    for src, dst in g.edges:
        if any(src == low or src.startswith(low + ".") for low in lower):
            assert not dst.startswith(upper), f"{src} imports {dst}"
        if src.startswith("aidlgraph.query"):
            assert not dst.startswith(("aidlgraph.build", "aidlgraph.cli", "aidlgraph.serve")), f"{src} imports {dst}"


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|PRAGMA\s)", re.I)


def test_sql_is_only_in_the_store():
    offenders = []
    for name, path in modules().items():
        if name.startswith("aidlgraph.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                offenders.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany") and "db" in ast.unparse(node.value):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


def test_no_private_reach_ins_between_modules():
    offenders = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{name} imports {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = ast.unparse(node.value)
                if owner not in ("self", "cls") and not owner.startswith(("self.", "cls.")):
                    offenders.append(f"{name}:{node.lineno} {owner}.{node.attr}")
    assert offenders == []


def test_plan_is_pure_and_checks_everything_before_a_write():
    """Planning needs no library: batches and a snapshot in, what to write out."""
    empty = Snapshot(topics={}, names={}, prereqs=[], accepted=set(), items={}, vectors={})
    batches = load_path(FIXTURES / "mini")
    todo = plan(batches, empty)
    assert len(todo.items) == 9 and todo.topics_new == 7 and len(todo.to_embed) == 9 and not todo.writes_nothing()
    assert todo.graph.has_edge("cuda-basics", "unified-memory")
    items_only = [b for b in batches if b.items]
    try:
        plan(items_only, empty)
    except UnknownTopicError as exc:
        assert "unknown topic" in str(exc)
    else:
        raise AssertionError("items naming topics the snapshot lacks must be refused")
    looped = load_path(FIXTURES / "mini")
    topics = next(b for b in looped if b.topics)
    topics.prereqs.append(type(topics.prereqs[0])(src="unified memory", dst="c programming", reason="a loop"))
    try:
        plan(looped, empty)
    except CycleError as exc:
        assert "cycle" in str(exc)
    else:
        raise AssertionError("a prerequisite cycle must be refused")


FAKE_RUN = r"""
import json, sys
from pathlib import Path
from aidlgraph.build.bootstrap import create
from aidlgraph.build.ingest import ingest
from aidlgraph.embed import FakeEmbedder
from aidlgraph.library import Library
from aidlgraph.query.path import reading_path
from aidlgraph.query.related import related
from aidlgraph import views

fake = FakeEmbedder()
path = create(Path(sys.argv[1]) / "lib", empty=True, embedder=fake)
with Library.open(path, embedder=fake) as lib:
    report = ingest(lib, [sys.argv[2]])
    p = views.path_json(reading_path(lib, "unified memory"))
    r = views.related_json(related(lib, "pinned memory for fast host to device copies", k=3))
print(json.dumps({"new": report.new, "path": [s["topic"] for s in p["steps"]],
                  "related": [x["title"] for x in r["results"]],
                  "heavy": [m for m in ("torch", "sentence_transformers", "onnxruntime") if m in sys.modules]}))
"""


def test_a_library_on_the_fake_embedder_needs_no_model(tmp_path):
    """Ingest, path, related and views on the fake embedder, in a fresh process: no torch, no ONNX."""
    out = subprocess.run([sys.executable, "-c", FAKE_RUN, str(tmp_path), str(FIXTURES / "mini")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["heavy"] == [] and result["new"] == 9
    assert result["path"][-1] == "unified memory" and "cuda basics" in result["path"]
    assert any("Data Transfers" in title for title in result["related"])


def test_the_fake_library_refuses_the_real_model(fake_library, monkeypatch):
    """A library records the model it was built with; another one is refused."""
    from aidlgraph.errors import LibraryError
    from aidlgraph.library import Library

    other = Library.open(fake_library.path)  # the configured model, not the fake one
    try:
        other.embed_query("anything new")
    except LibraryError as exc:
        assert "built with model 'fake-embedder'" in str(exc)
    else:
        raise AssertionError("a library built with one model must refuse another")
    finally:
        other.close()
