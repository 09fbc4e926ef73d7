"""The ONNX Runtime encoder: same vectors as PyTorch, exported once and cached, no torch at run time,
and a fallback to PyTorch for models it cannot export."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ldnqa import onnx_encoder
from ldnqa.embedding import SentenceTransformerEmbedder, resolve_model
from ldnqa.errors import ModelError

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
pytest.importorskip("onnx", reason="the onnx package (needed to export the model) is not installed")
MODEL = "all-MiniLM-L6-v2"
LONG = " ".join(["Low-dose naltrexone was given at 4.5 mg nightly to women with fibromyalgia."] * 40)
TEXTS = ["What dose of LDN is used?", "", "x", "Ünïcödé — “quotes” and émojis 🙂", LONG,
         "Does low-dose naltrexone cause vivid dreams?", "Pain fell by 28.8% on LDN versus 18.0% on placebo."]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return Path(resolve_model(MODEL))


@pytest.mark.slow
def test_onnx_vectors_equal_pytorch_vectors(model_dir: Path) -> None:
    onnx = SentenceTransformerEmbedder(MODEL, backend="onnx")
    torch = SentenceTransformerEmbedder(MODEL, backend="torch")
    many = TEXTS * 6  # more than one batch: the ONNX encoder batches long inputs by length
    got, expected = onnx.embed(many), torch.embed(many)
    assert onnx.backend == "onnx" and torch.backend == "torch"
    assert got.shape == expected.shape == (len(many), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(got * expected, axis=1))) > 0.99999
    assert onnx.name == torch.name == MODEL  # same vectors, same name: one index serves both
    assert onnx.embed([]).shape == (0, 384)


@pytest.mark.slow
def test_export_is_cached_and_checked(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDNQA_CACHE_DIR", str(tmp_path / "cache"))
    exports: list[Path] = []
    real_export = onnx_encoder.export

    def counting_export(source: Path, target: Path, log=lambda m: None) -> Path:  # noqa: ANN001
        exports.append(target)
        return real_export(source, target, log)

    monkeypatch.setattr(onnx_encoder, "export", counting_export)
    first = onnx_encoder.OnnxEncoder(model_dir, threads=1)
    assert first.path.is_file() and first.path.is_relative_to(tmp_path / "cache") and len(exports) == 1
    second = onnx_encoder.OnnxEncoder(model_dir, threads=1)  # a new process would find the same file
    assert second.path == first.path and len(exports) == 1
    assert np.array_equal(first.embed(TEXTS), second.embed(TEXTS))
    first.path.write_bytes(b"not an onnx model")  # a damaged cache file is exported again
    third = onnx_encoder.OnnxEncoder(model_dir, threads=1)
    assert len(exports) == 2 and np.allclose(third.embed(TEXTS), second.embed(TEXTS), atol=1e-6)
    assert not list(first.path.parent.glob("*.tmp"))


def test_cache_key_follows_the_weights_and_the_exporter(model_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDNQA_CACHE_DIR", str(tmp_path))
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    (copy / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    key, bundled = onnx_encoder.cached_path(copy), onnx_encoder.cached_path(model_dir)
    assert onnx_encoder.cached_path(copy) == key != bundled
    (copy / "model.safetensors").unlink()
    (copy / "model.safetensors").write_bytes(b"other weights")
    assert onnx_encoder.cached_path(copy) != key
    monkeypatch.setattr(onnx_encoder, "EXPORT_VERSION", onnx_encoder.EXPORT_VERSION + 1)
    assert onnx_encoder.cached_path(model_dir) != bundled


@pytest.mark.slow
def test_unsupported_model_falls_back_to_pytorch(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "cls-model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    (copy / "model.safetensors").symlink_to(model_dir / "model.safetensors")
    pooling = json.loads((copy / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(ModelError, match="mean pooling"):
        onnx_encoder.read_layout(copy)
    messages: list[str] = []
    auto = SentenceTransformerEmbedder(str(copy), backend="auto", log=messages.append)
    assert auto.embed(["a question"]).shape == (1, 384) and auto.backend == "torch"
    assert any("ONNX encoder unavailable" in m for m in messages)
    with pytest.raises(ModelError, match="ONNX"):
        SentenceTransformerEmbedder(str(copy), backend="onnx", log=messages.append).load()


def test_backend_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDNQA_ENCODER", "torch")
    assert SentenceTransformerEmbedder(MODEL).requested == "torch"
    monkeypatch.setenv("LDNQA_ENCODER", "tensorflow")
    with pytest.raises(ModelError, match="LDNQA_ENCODER"):
        SentenceTransformerEmbedder(MODEL)
    monkeypatch.delenv("LDNQA_ENCODER")
    assert SentenceTransformerEmbedder(MODEL).requested == "auto"


def test_thread_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    cpus = len(os.sched_getaffinity(0))
    monkeypatch.setenv("LDNQA_THREADS", "1")
    assert onnx_encoder.default_threads() == 1
    monkeypatch.setenv("LDNQA_THREADS", "64")
    assert onnx_encoder.default_threads() == cpus
    monkeypatch.setenv("LDNQA_THREADS", "many")
    assert onnx_encoder.default_threads() == min(2, cpus)


@pytest.mark.slow
def test_answering_with_onnx_imports_no_torch(model_dir: Path) -> None:
    """The point of the ONNX backend for start-up time and memory: torch is never imported."""
    onnx_encoder.OnnxEncoder(model_dir, threads=1)  # make sure the export is cached
    code = ("import sys; from ldnqa.embedding import SentenceTransformerEmbedder as E; "
            f"e = E({MODEL!r}, backend='auto'); v = e.embed(['What is LDN?']); "
            "print(e.backend, v.shape[1], 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.split()
    assert out == ["onnx", "384", "False", "False"]


def test_length_groups_split_where_padding_would_cost_more_than_a_call() -> None:
    groups = onnx_encoder.length_groups
    # Three single words and three question-length texts: two calls, not one padded to 16 tokens.
    assert groups([4, 16, 3, 15, 4, 16], max_batch=32) == [[2, 0, 4], [3, 1, 5]]
    assert groups([12, 14, 13], max_batch=32) == [[0, 2, 1]]  # similar lengths: one call
    assert groups([5] * 5, max_batch=2) == [[0], [1, 2], [3, 4]]  # never more than max_batch a call
    assert groups([], max_batch=32) == []
    for lengths in ([3, 40, 7, 7, 90, 12, 12, 12, 2], list(range(1, 60, 3))):  # every text once, cheapest
        got = groups(lengths, max_batch=4)
        assert sorted(i for g in got for i in g) == list(range(len(lengths)))
        assert all(len(g) <= 4 for g in got)
        cost = sum(onnx_encoder.CALL_TOKENS + len(g) * max(lengths[i] for i in g) for g in got)
        one_each = sum(onnx_encoder.CALL_TOKENS + n for n in lengths)
        assert cost <= one_each


def test_pad_masks_the_padding() -> None:
    feeds = onnx_encoder.pad([[101, 7, 102], [101, 102]])
    assert feeds["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert feeds["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert feeds["token_type_ids"].tolist() == [[0, 0, 0], [0, 0, 0]]
