"""Silent corruption: bytes flipped inside stored vectors (SQLite's quick_check cannot see it, the
damage is inside a blob) never reach a search; ``check`` names the damaged items and topics, and
``check --repair`` re-embeds them from their stored text.
"""
from __future__ import annotations

import json
import sqlite3
import struct

import numpy as np
import pytest
from click.testing import CliRunner

from aidlgraph.cli import cli
from aidlgraph.library import STAMP_NAME, Library
from aidlgraph.query.check import repair, verify

HUGE = struct.pack("<f", 7.47e22)   # what the flipped exponent byte made ("similarity 7.47e22")
NAN = struct.pack("<f", float("nan"))


def run(lib_path, *args):
    return CliRunner().invoke(cli, ["--library", str(lib_path), *args])


def damage_item_vector(lib: Library, title: str, value: bytes = HUGE) -> tuple[int, str]:
    """Overwrite the first float of the stored vector of the item titled ``title`` (behind the
    library's back, as a bad disk sector would) and make the next open rebuild the index."""
    row = next(r for r in lib.store.items() if r["title"] == title)
    with sqlite3.connect(lib.path / "library.db") as conn:
        blob = bytearray(conn.execute("SELECT vector FROM vectors WHERE num = ?", [row["num"]]).fetchone()[0])
        blob[:4] = value
        conn.execute("UPDATE vectors SET vector = ? WHERE num = ?", [bytes(blob), row["num"]])
    (lib.path / STAMP_NAME).unlink()
    return row["num"], row["id"]


def damage_topic_vector(lib: Library, topic_id: str, value: bytes = HUGE) -> None:
    lib.topic_vectors()  # make sure it is stored
    with sqlite3.connect(lib.path / "library.db") as conn:
        blob = bytearray(conn.execute("SELECT vector FROM topic_vectors WHERE id = ?", [topic_id]).fetchone()[0])
        blob[:4] = value
        conn.execute("UPDATE topic_vectors SET vector = ? WHERE id = ?", [bytes(blob), topic_id])


@pytest.mark.parametrize("value", [HUGE, NAN], ids=["huge", "nan"])
def test_a_damaged_item_vector_never_reaches_a_search(mini_library, value):
    num, item_id = damage_item_vector(mini_library, "Google acquires Kaggle", value)
    result = run(mini_library.path, "related", "convolution", "--json")
    assert result.exit_code == 0, result.output
    assert "warning: 1 stored item vectors are damaged" in result.output
    results = json.loads(result.output[result.output.index("{"):])["results"]
    assert results and results[0]["title"] != "Google acquires Kaggle"
    assert all(np.isfinite(r["score"]) and r["score"] < 10 for r in results), results
    assert "meaning similarity 7" not in json.dumps(results)
    with Library.open(mini_library.path) as lib:
        assert num not in set(lib.index.ids().tolist())  # refused when the index was built on open
        assert lib.index.size == 8


def test_check_names_damaged_item_vectors_and_repair_reembeds_them(mini_library):
    kaggle = next(r for r in mini_library.store.items() if r["title"] == "Google acquires Kaggle")
    original = mini_library.store.vectors([kaggle["num"]], dim=384)[1][0].copy()
    num, item_id = damage_item_vector(mini_library, "Google acquires Kaggle")
    checked = run(mini_library.path, "check")
    assert checked.exit_code == 1, checked.output
    assert "1 stored item vectors are damaged (not finite or not unit length)" in checked.output
    assert item_id in checked.output and "Google acquires Kaggle" in checked.output
    report = json.loads(run(mini_library.path, "check", "--json").output)
    assert report["vectors_damaged"] == [item_id] and not report["ok"]

    repaired = run(mini_library.path, "check", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert f"re-embedded 1 items whose stored vectors were damaged: {item_id} 'Google acquires Kaggle'" in repaired.output
    assert "consistent" in repaired.output
    with Library.open(mini_library.path) as lib:
        fixed = lib.store.vectors([num], dim=384)[1][0]
        assert float(fixed @ original) > 0.999  # the item's own text, embedded again
        assert num in set(lib.index.ids().tolist())
        assert verify(lib)["ok"]


def test_a_damaged_topic_vector_does_not_win_every_question(mini_library):
    damage_topic_vector(mini_library, "semantic-segmentation")
    with Library.open(mini_library.path) as lib:
        report = verify(lib)
        assert not report["ok"] and report["topic_vectors_damaged"] == ["semantic-segmentation"], report
        assert any("1 stored topic vectors are damaged: semantic-segmentation 'semantic segmentation'" in p
                   for p in report["problems"])
    asked = run(mini_library.path, "ask", "where can I learn CUDA?", "--json")
    assert asked.exit_code == 0, asked.output
    answer = json.loads(asked.output[asked.output.index("{"):])
    assert answer["answered"] and "CUDA" in json.dumps(answer["sources"])
    with Library.open(mini_library.path) as lib:
        ids, matrix = lib.topic_vectors()
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)  # re-embedded, not trusted


def test_repair_reembeds_a_damaged_topic_vector(mini_library):
    damage_topic_vector(mini_library, "cuda-basics", NAN)
    with Library.open(mini_library.path) as lib:
        done = repair(lib)
        assert any(line.startswith("re-embedded 1 damaged topic vectors: cuda-basics") for line in done), done
        assert verify(lib)["ok"]
