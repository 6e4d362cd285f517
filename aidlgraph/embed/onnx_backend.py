"""Embeddings without torch: the model exported once to ONNX and run by onnxruntime.

``import sentence_transformers`` costs seconds. So the model's transformer is exported to ONNX
once (``ensure_export``, from a loaded sentence-transformers model: the only time torch is
needed), and every later embedding, of queries and of ingested items, runs on onnxruntime and
the ``tokenizers`` library only, giving the same vectors as sentence-transformers (mean pooling
over the attention mask, L2 normalisation, truncation at the model's ``max_seq_length``).
``aidlgraph.embed.load`` decides which backend a command gets.

An export lives in ``<cache>/onnx/<key>/``, where ``<cache>`` is ``$AIDLGRAPH_CACHE`` or the
user cache dir and ``<key>`` is the model's name plus a hash of its files' sizes and mtimes and of
the onnxruntime version (a changed model on disk gets a new export). It holds ``model.onnx`` (the
graph as onnxruntime optimised it) with its weights in ``model.onnx.data`` (mapped, not parsed,
so a session starts fast), a copy of the tokenizer (``tokenizer.json``) and of the model's
``sentence_bert_config.json``, and ``export.json`` (what the export is). It is written to a
temporary directory, checked against sentence-transformers, then renamed into place.
``AIDLGRAPH_ONNX=0`` turns the whole thing off (queries then use sentence-transformers).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..config import settings
from .models import model_path

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export's layout or graph changes: old exports are then ignored
OPSET = 14
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.onnx.data"  # beside the graph, so onnxruntime maps it instead of parsing it
RAW_FILE = "raw.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "sentence_bert_config.json"
META_FILE = "export.json"
UNSUPPORTED_SUFFIX = ".unsupported"
# Batches are cut by tokens, not texts: texts are sorted by their token count (so a batch pads
# little) and a batch holds at most BATCH_TOKENS tokens, padding included, and at most BATCH_ROWS
# texts. Small batches keep each matrix multiplication's operands in the CPU cache: on 2 cores,
# 512 tokens ran 10-15% more texts per CPU second than 2048, and sorting by tokens rather than
# characters halves the padding of short titles.
BATCH_TOKENS = 512
BATCH_ROWS = 64
# A command embeds one or a few texts. A session that skips prepacking the weights for the
# matrix multiplications starts ~0.1 s sooner but runs each text ~20 ms slower, so a process
# starts with one and switches to a prepacked session once it has embedded more than this.
QUICK_TEXTS = 8
AGREEMENT_MIN = 0.999
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
# Texts an export must embed like sentence-transformers before it is installed: batches whose
# shapes differ from the traced one, padding, truncation and non-ASCII text.
PROBES = ["semantic segmentation", "", "How do I start learning CUDA? " * 60,
          "Ünïcödé, 日本語のテキスト and an emoji 🚀", "a b"]


class ExportUnsupported(Exception):
    """The model is not a plain transformer + mean pooling (+ normalize) pipeline."""


def enabled() -> bool:
    """False when ``AIDLGRAPH_ONNX=0`` or onnxruntime/tokenizers are missing."""
    return settings().onnx and _have("onnxruntime", "tokenizers")


def can_export() -> bool:
    """True when an export can be made here (torch, sentence-transformers and onnx installed)."""
    return enabled() and _have("onnx", "torch", "sentence_transformers")


def model_key(name: str, path: str | os.PathLike) -> str:
    """``<name>-<hash>``: the hash covers every model file's size and mtime, the export format and
    the onnxruntime version (the stored graph is optimised by, and for, that version)."""
    root = Path(path)
    digest = hashlib.sha1(f"aidlgraph-onnx-v{EXPORT_VERSION}-ort{ort_version()}".encode())
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        st = file.stat()
        digest.update(f"\0{file.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name.rstrip("/")).name or name).strip("-.") or "model"
    return f"{slug}-{digest.hexdigest()[:16]}"


def export_dir(name: str) -> Path:
    """Where the export of model ``name`` lives (whether or not it exists yet)."""
    return settings().cache_dir() / "onnx" / model_key(name, model_path(name))


def is_exported(directory: Path) -> bool:
    return all((directory / f).is_file() for f in (MODEL_FILE, WEIGHTS_FILE, TOKENIZER_FILE, META_FILE))


# -- exporting (needs torch; runs where the model is loaded anyway) -----------------------------
def ensure_export(name: str, st_model) -> Path | None:
    """The export of ``name``, made from the loaded SentenceTransformer ``st_model`` if missing.

    Returns None when ONNX is turned off, onnx/onnxruntime/tokenizers are missing, or the model
    cannot be exported faithfully (remembered, so it is not retried on every load).
    """
    if not enabled() or not _have("onnx"):
        return None
    final = export_dir(name)
    if is_exported(final):
        return final
    marker = final.with_name(final.name + UNSUPPORTED_SUFFIX)
    if marker.exists():
        return None
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        try:
            _export(name, st_model, tmp)
            _check_agreement(st_model, tmp)
        except ExportUnsupported as exc:
            log.info("model %s is not exported to ONNX: %s", name, exc)
            with open(marker, "w") as fh:
                fh.write(f"{exc}\n")
            return None
        try:
            os.rename(tmp, final)
        except OSError:  # another process installed it first
            if not is_exported(final):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def _pipeline(st_model):
    """(transformer module, its tokenizer) if ``st_model`` is transformer + mean pooling
    (+ normalize), else ExportUnsupported."""
    modules = list(st_model)
    kinds = [type(m).__name__ for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportUnsupported(f"modules {kinds}; only Transformer, mean Pooling, Normalize are exported")
    pooling = modules[1].get_config_dict()
    mode = pooling.get("pooling_mode")
    if mode is None:  # older sentence-transformers spell it as flags
        flags = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        mode = "mean" if flags == ["pooling_mode_mean_tokens"] else ",".join(flags)
    if mode != "mean":
        raise ExportUnsupported(f"pooling {mode!r}; only mean pooling is exported")
    if getattr(st_model, "default_prompt_name", None):
        raise ExportUnsupported("the model adds a default prompt")
    transformer = modules[0]
    tokenizer = getattr(transformer, "tokenizer", None)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        raise ExportUnsupported("the model has no fast (tokenizers) tokenizer")
    return transformer, tokenizer


def _export(name: str, st_model, out: Path) -> None:
    import inspect

    import torch

    transformer, tokenizer = _pipeline(st_model)
    model = transformer.auto_model
    takes_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class Wrapped(torch.nn.Module):
        """The transformer with keyword inputs, returning the token embeddings."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if takes_types:
                kwargs["token_type_ids"] = token_type_ids
            return self.inner(**kwargs, return_dict=False)[0]

    # Traced with padding in the batch, so the attention mask's path is part of the graph.
    ids = torch.full((2, 16), int(tokenizer.pad_token_id or 0) + 1, dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 9:] = 0
    types = torch.zeros((2, 16), dtype=torch.long)
    axes = {n: {0: "batch", 1: "sequence"} for n in (*INPUT_NAMES, "token_embeddings")}
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(Wrapped(model), (ids, mask, types), str(out / RAW_FILE),
                              input_names=list(INPUT_NAMES), output_names=["token_embeddings"],
                              dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True,
                              dynamo=False)
    finally:
        model.train(was_training)
    _optimise(out / RAW_FILE, out / MODEL_FILE)
    (out / RAW_FILE).unlink()

    tokenizer.backend_tokenizer.save(str(out / TOKENIZER_FILE))  # exactly what sentence-transformers uses
    config = {"max_seq_length": int(transformer.max_seq_length),
              "do_lower_case": bool(getattr(transformer, "do_lower_case", False))}
    source = Path(model_path(name)) / CONFIG_FILE
    if source.is_file():
        shutil.copyfile(source, out / CONFIG_FILE)
    else:
        (out / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    get_dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
    meta = {"name": name, "version": EXPORT_VERSION, "opset": OPSET, "dim": int(get_dim()),
            "max_seq_length": config["max_seq_length"], "do_lower_case": config["do_lower_case"],
            "pad_token": tokenizer.pad_token or "[PAD]", "pad_id": int(tokenizer.pad_token_id or 0),
            "pooling": "mean", "normalize": True,
            "onnxruntime": ort_version(), "optimised": "extended"}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))


def _optimise(raw: Path, target: Path) -> None:
    """Save the graph as onnxruntime optimises it (fusions done once, not per query) with its
    weights in a separate file that a session maps: a query's session then starts in ~0.1 s."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # portable across CPUs
    options.optimized_model_filepath = str(target)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", WEIGHTS_FILE)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    options.log_severity_level = 3
    ort.InferenceSession(str(raw), options, providers=["CPUExecutionProvider"])
    if not (target.is_file() and (target.parent / WEIGHTS_FILE).is_file()):
        raise OSError(f"onnxruntime did not write {target}")


def _check_agreement(st_model, directory: Path) -> None:
    """Refuse an export whose vectors differ from sentence-transformers' (a bad trace)."""
    ours = OnnxEmbedder(directory).encode(PROBES)
    theirs = st_model.encode(PROBES, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
    cosine = (ours * np.asarray(theirs, dtype=np.float32)).sum(axis=1)
    if float(cosine.min()) < AGREEMENT_MIN:
        raise ExportUnsupported(f"the ONNX export disagrees with sentence-transformers (cosine {cosine.min():.4f})")


# -- querying (onnxruntime + tokenizers only) --------------------------------------------------
def ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def open_export(name: str) -> "OnnxEmbedder | None":
    """The torch-free embedder of an existing export of ``name``, or None when there is none or it
    cannot be used (a broken export must not break a command: the caller falls back)."""
    if not enabled():
        return None
    try:
        directory = export_dir(name)
        return OnnxEmbedder(directory) if is_exported(directory) else None
    except Exception as exc:
        log.warning("cannot use the ONNX export of %s (%s); using sentence-transformers", name, exc)
        return None


class OnnxEmbedder:
    """The model's vectors from an ONNX export, without torch, with a quick-start session that is
    swapped for a prepacked one once the process embeds more than QUICK_TEXTS texts."""

    def __init__(self, directory: str | os.PathLike):
        from tokenizers import Tokenizer

        self.directory = Path(directory)
        meta = json.loads((self.directory / META_FILE).read_text())
        self.name: str = meta["name"]
        self.dim: int = int(meta["dim"])
        try:
            config = json.loads((self.directory / CONFIG_FILE).read_text())
        except (OSError, ValueError):
            config = {}
        self.max_seq_length = int(config.get("max_seq_length") or meta["max_seq_length"])
        self.do_lower_case = bool(config.get("do_lower_case", meta.get("do_lower_case", False)))
        self.tokenizer = Tokenizer.from_file(str(self.directory / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        self.tokenizer.no_padding()  # each batch is padded by hand, to its own longest text
        self.pad_id = int(meta["pad_id"])
        self.encoded = 0
        self.quick = True
        self.session = self._session(quick=True)  # cheap, and a broken export fails here, in load()
        self.inputs = [i.name for i in self.session.get_inputs()]

    def _session(self, quick: bool):
        """A session on every core. The quick one (a command's first few texts) spins its threads
        between operators, as onnxruntime does by default; the bulk one lets them sleep: on a
        shared 2-core machine, spinning threads burned half the CPU time of a batch run."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # done at export
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if quick:
            options.add_session_config_entry("session.disable_prepacking", "1")
        else:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(self.directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, as sentence-transformers gives."""
        texts = [str(t).strip() for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.encoded += len(texts)
        if self.quick and self.encoded > QUICK_TEXTS:
            self.session = None  # free the quick one first
            self.session, self.quick = self._session(quick=False), False
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = [e.ids for e in self.tokenizer.encode_batch(texts)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        bar = _progress(len(texts)) if progress else None
        for rows in batches([len(ids) for ids in encodings]):
            out[rows] = self._run([encodings[i] for i in rows])
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def _run(self, encodings: list[list[int]]) -> np.ndarray:
        """Mean-pooled, normalised vectors of one batch of token id lists."""
        width = max(len(ids) for ids in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, tokens in enumerate(encodings):
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        tokens = self.session.run(None, {n: arrays[n] for n in self.inputs})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


def batches(lengths: list[int], tokens: int = BATCH_TOKENS, rows: int = BATCH_ROWS) -> list[list[int]]:
    """Indices of texts grouped into batches: shortest first, each batch at most ``tokens`` tokens
    once padded to its longest text, and at most ``rows`` texts.

    >>> batches([3, 100, 2, 50, 3], tokens=120, rows=64)
    [[2, 0, 4], [3], [1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and ((len(current) + 1) * lengths[i] > tokens or len(current) >= rows):
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    return out


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="embedding", unit="text")
