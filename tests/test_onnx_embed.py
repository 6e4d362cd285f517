"""The torch-free query encoder: the ONNX export gives sentence-transformers' vectors."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from aidlgraph import config, embed
from aidlgraph.embed import onnx_backend as onnx_embed
from aidlgraph.embed.onnx_backend import OnnxEmbedder
from aidlgraph.embed.torch_backend import SentenceTransformerEmbedder
from aidlgraph.errors import LibraryError

NAME = config.DEFAULT_MODEL
LONG = ("Mark Harris's CUDA series starts with kernels, threads and blocks, then moves to data "
        "transfers, pinned memory, shared memory and unified memory. ") * 20  # far over 256 tokens
TEXTS = [
    "semantic segmentation",
    "cuda",
    "How do I get started with image segmentation if I only know classification?",
    LONG,
    "Ünïcödé façade, naïve café — 日本語のテキスト, 中文文本, русский текст, emoji 🚀🤖",
    "",
    " ",
    "\n\t",
    "?",
    "a",
    "the the the the",
]


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory, request) -> Path:
    """The model's ONNX export, made once per session in a temporary AIDLGRAPH_CACHE.

    The directory is shared with test_no_torch.py (same path under the session's base temp), so
    whichever runs first exports and the other finds it.
    """
    cache = tmp_path_factory.getbasetemp() / "onnx-cache"
    patch = pytest.MonkeyPatch()
    patch.setenv("AIDLGRAPH_CACHE", str(cache))  # kept for the session: nothing writes the user's cache
    request.addfinalizer(patch.undo)
    model = request.getfixturevalue("model")
    directory = onnx_embed.ensure_export(NAME, model.model)
    assert directory is not None and onnx_embed.is_exported(directory)
    return directory


@pytest.fixture
def onnx_model(onnx_export, monkeypatch) -> OnnxEmbedder:
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    embedder = onnx_embed.open_export(NAME)
    assert embedder is not None
    return embedder


@pytest.fixture
def fresh_loaders(monkeypatch):
    """embed.load() forgets its ONNX and automatic choices for this test (the torch model stays loaded)."""
    monkeypatch.setattr(embed, "_LOADED", {k: v for k, v in embed._LOADED.items() if k[1] == "torch"})


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_agrees_with_sentence_transformers(onnx_model, model):
    ours = onnx_model.encode(TEXTS)
    theirs = model.encode(TEXTS)
    cos = cosines(ours, theirs)
    print(f"min cosine ONNX vs sentence-transformers over {len(TEXTS)} texts: {cos.min():.7f}")
    assert cos.min() >= 0.999, dict(zip(TEXTS, cos.round(5)))


def test_batching_does_not_change_vectors(onnx_model):
    batch = onnx_model.encode(TEXTS)
    one_by_one = np.vstack([onnx_model.encode([t]) for t in TEXTS])
    assert cosines(batch, one_by_one).min() >= 0.99999


def test_vectors_are_normalised_float32(onnx_model, model):
    vectors = onnx_model.encode(["a", "b c"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, model.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx_model.dim == model.dim == 384 and onnx_model.name == NAME
    assert onnx_model.encode([]).shape == (0, 384)


def test_truncates_at_the_models_max_seq_length(onnx_model, model):
    assert onnx_model.max_seq_length == 256 == model.model.max_seq_length
    assert len(onnx_model.tokenizer.encode(LONG).ids) == 256
    longer = LONG + " completely different words about gardening and tomatoes " * 50
    assert cosines(onnx_model.encode([LONG]), onnx_model.encode([longer]))[0] > 0.99999


def test_export_layout(onnx_export, tmp_path_factory):
    assert onnx_export.parent == tmp_path_factory.getbasetemp() / "onnx-cache" / "onnx"
    assert onnx_export.name.startswith(f"{NAME}-")
    names = {p.name for p in onnx_export.iterdir()}
    assert {"model.onnx", "model.onnx.data", "tokenizer.json", "sentence_bert_config.json", "export.json"} <= names
    meta = json.loads((onnx_export / "export.json").read_text())
    assert meta["dim"] == 384 and meta["max_seq_length"] == 256 and meta["opset"] >= 14
    leftovers = [p for p in onnx_export.parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, "a temporary export directory was left behind"


def test_session_is_created_once_per_process(onnx_model, onnx_export, fresh_loaders, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    first = embed.load(NAME)
    assert isinstance(first, OnnxEmbedder)
    assert embed.load(NAME) is first and embed.load(NAME, "onnx") is first


def test_key_follows_the_model_files(tmp_path, monkeypatch):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "weights.bin").write_bytes(b"x" * 10)
    key = onnx_embed.model_key("my/model", model_dir)
    assert key.startswith("model-") and key == onnx_embed.model_key("my/model", model_dir)
    (model_dir / "weights.bin").write_bytes(b"y" * 11)  # another size
    resized = onnx_embed.model_key("my/model", model_dir)
    assert resized != key
    later = time.time() + 10
    os.utime(model_dir / "config.json", (later, later))  # same size, another mtime
    assert onnx_embed.model_key("my/model", model_dir) not in (key, resized)


def test_cache_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path / "c"))
    assert onnx_embed.export_dir(NAME).parent == tmp_path / "c" / "onnx"
    monkeypatch.delenv("AIDLGRAPH_CACHE")
    import platformdirs

    assert config.settings().cache_dir() == Path(platformdirs.user_cache_dir("aidlgraph", appauthor=False))


def test_no_runtime_means_no_onnx_and_a_fallback(fresh_loaders, monkeypatch, model):
    real = onnx_embed._have
    monkeypatch.setattr(onnx_embed, "_have", lambda *mods: "onnxruntime" not in mods and real(*mods))
    assert onnx_embed.open_export(NAME) is None
    fallback = embed.load(NAME)
    assert isinstance(fallback, SentenceTransformerEmbedder) and fallback is model


def test_no_export_and_no_torch_means_none(fresh_loaders, tmp_path, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path / "empty-cache"))
    real = onnx_embed._have
    monkeypatch.setattr(onnx_embed, "_have", lambda *mods: "torch" not in mods and real(*mods))
    assert onnx_embed.open_export(NAME) is None
    with pytest.raises(LibraryError, match="--backend torch"):
        embed.load(NAME, "onnx")
    assert not (tmp_path / "empty-cache").exists()


def test_turned_off_by_setting(fresh_loaders, onnx_export, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    monkeypatch.setenv("AIDLGRAPH_ONNX", "0")
    assert onnx_embed.open_export(NAME) is None
    assert isinstance(embed.load(NAME), SentenceTransformerEmbedder)


def test_broken_export_falls_back(fresh_loaders, tmp_path, onnx_export, monkeypatch):
    import shutil

    cache = tmp_path / "cache"
    broken = cache / "onnx" / onnx_export.name
    shutil.copytree(onnx_export, broken)
    (broken / "model.onnx").write_bytes(b"not a model")
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(cache))
    assert onnx_embed.open_export(NAME) is None
    assert isinstance(embed.load(NAME), SentenceTransformerEmbedder)


def test_export_failure_never_breaks_loading(fresh_loaders, tmp_path, monkeypatch, model):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path))

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(onnx_embed, "_export", boom)
    assert embed.load(NAME) is model  # logs, never raises: sentence-transformers embeds instead
    target = onnx_embed.export_dir(NAME)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == []  # the temporary directory is gone


def test_unsupported_model_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path))

    class Transformer:
        pass

    class Pooling:
        def get_config_dict(self):
            return {"pooling_mode": "cls"}

    assert onnx_embed.ensure_export(NAME, [Transformer(), Pooling()]) is None
    marker = onnx_embed.export_dir(NAME).with_name(onnx_embed.export_dir(NAME).name + ".unsupported")
    assert "cls" in marker.read_text()
    calls = []
    monkeypatch.setattr(onnx_embed, "_export", lambda *a: calls.append(a))
    assert onnx_embed.ensure_export(NAME, [Transformer(), Pooling()]) is None and not calls


@pytest.mark.slow
def test_first_need_exports_when_torch_is_there(fresh_loaders, tmp_path, monkeypatch, model):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path))
    embedder = embed.load(NAME, "onnx")
    assert isinstance(embedder, OnnxEmbedder) and onnx_embed.is_exported(onnx_embed.export_dir(NAME))
    assert cosines(embedder.encode(TEXTS[:4]), model.encode(TEXTS[:4])).min() >= 0.999


def test_cached_query_needs_no_model(mini_library, onnx_export, fresh_loaders, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    first = mini_library.embed_query("kernels, threads and blocks")

    def no_model(*args, **kwargs):
        raise AssertionError("a cached query loaded a model")

    monkeypatch.setattr(embed, "load", no_model)
    again = mini_library.embed_query("kernels, threads and blocks")
    assert np.array_equal(first, again)


def test_quick_start_and_prepacked_sessions_agree(onnx_export):
    embedder = OnnxEmbedder(onnx_export)  # a fresh one: starts with the quick session
    quick = embedder.encode(TEXTS[:4])
    assert embedder.quick
    embedder.encode(["enough texts to switch"] * onnx_embed.QUICK_TEXTS)
    assert not embedder.quick
    assert cosines(quick, embedder.encode(TEXTS[:4])).min() >= 0.99999


def test_first_automatic_load_exports_from_the_torch_model(fresh_loaders, tmp_path, model, monkeypatch):
    monkeypatch.setenv("AIDLGRAPH_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(onnx_embed, "ensure_export", lambda name, st_model: calls.append((name, st_model)))
    assert embed.load(NAME) is model  # the stand-in made no export: sentence-transformers embeds
    assert calls == [(NAME, model.model)]


# -- ingest through ONNX, and the --backend choice ------------------------------------------------
def _stored_against_sentence_transformers(lib, model) -> np.ndarray:
    """Cosines between each stored item vector and sentence-transformers' vector of its text."""
    from aidlgraph.corpus.model import embed_text

    rows = {r["num"]: r for r in lib.store.items()}
    ids, vectors = lib.store.vectors(dim=lib.dim)
    theirs = model.encode([embed_text(rows[int(n)]["title"], rows[int(n)]["text"]) for n in ids])
    return cosines(vectors, theirs)


def test_ingest_embeds_through_onnx_with_sentence_transformers_vectors(onnx_export, fresh_loaders, tmp_path,
                                                                       monkeypatch, model):
    from aidlgraph.build.bootstrap import create
    from aidlgraph.build.ingest import ingest
    from aidlgraph.library import Library
    from conftest import FIXTURES

    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    with Library.open(create(tmp_path / "lib", empty=True)) as lib:
        def torch_encode(*args, **kwargs):
            raise AssertionError("ingest embedded through sentence-transformers")

        with monkeypatch.context() as patch:
            patch.setattr(SentenceTransformerEmbedder, "encode", torch_encode)
            report = ingest(lib, [FIXTURES / "mini"])
        assert report.embedded == 9 and isinstance(lib.embedder, OnnxEmbedder)
        cos = _stored_against_sentence_transformers(lib, model)
        assert len(cos) == 9 and cos.min() >= 0.999, cos


def test_ingest_backend_option(onnx_export, fresh_loaders, tmp_path, monkeypatch, model):
    from click.testing import CliRunner

    from aidlgraph.cli import cli
    from aidlgraph.library import Library
    from conftest import FIXTURES

    monkeypatch.setenv("AIDLGRAPH_CACHE", str(onnx_export.parents[1]))
    used = []
    for cls in (OnnxEmbedder, SentenceTransformerEmbedder):
        real = cls.encode
        monkeypatch.setattr(cls, "encode", lambda self, texts, progress=False, real=real, cls=cls:
                            (used.append(cls.__name__), real(self, texts, progress))[1])

    def run(lib, *args, env=None):
        return CliRunner().invoke(cli, ["--library", str(tmp_path / lib), *args], env=env)

    assert run("torch", "init", "--empty").exit_code == 0
    done = run("torch", "ingest", "--backend", "torch", str(FIXTURES / "mini"))
    assert done.exit_code == 0 and "9 new" in done.output, done.output
    assert set(used) == {"SentenceTransformerEmbedder"}
    with Library.open(tmp_path / "torch") as lib:
        assert _stored_against_sentence_transformers(lib, model).min() >= 0.99999  # they are its vectors

    used.clear()
    assert run("onnx", "init", "--empty").exit_code == 0
    done = run("onnx", "ingest", "--backend", "onnx", str(FIXTURES / "mini"))
    assert done.exit_code == 0 and set(used) == {"OnnxEmbedder"}, done.output

    assert run("off", "init", "--empty").exit_code == 0
    refused = run("off", "ingest", "--backend", "onnx", str(FIXTURES / "mini"), env={"AIDLGRAPH_ONNX": "0"})
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert refused.exit_code == 1 and len(lines) == 1 and "--backend torch" in lines[0], refused.output
    bad = run("onnx", "ingest", "--backend", "tensorflow", str(FIXTURES / "mini"))
    assert bad.exit_code == 2 and "tensorflow" in bad.output


def test_batches_are_cut_by_tokens_and_keep_every_text():
    lengths = [256, 3, 40, 12, 12, 256, 7, 100] * 30
    cut = onnx_embed.batches(lengths)
    assert sorted(i for b in cut for i in b) == list(range(len(lengths)))
    for batch in cut:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= onnx_embed.BATCH_ROWS
        assert len(batch) == 1 or len(batch) * width <= onnx_embed.BATCH_TOKENS
    assert [lengths[i] for b in cut for i in b] == sorted(lengths)  # shortest first: little padding
