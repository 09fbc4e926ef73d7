"""The query and passage encoder on ONNX Runtime: the bundled model, exported locally, without torch.

The sentence-transformers model (a BERT encoder, mean pooling, normalisation) is exported once with
torch's ONNX exporter into a cache folder (`LDNQA_CACHE_DIR`, else `~/.cache/ldnqa`), and from then on
runs on onnxruntime with the `tokenizers` library: no torch, no transformers, no sentence-transformers
are imported when answering. The exported graph includes pooling and normalisation, so its vectors are
the model's (cosine >= 0.99999 to the PyTorch backend, checked at export), and an index built with
either backend serves the other.

Nothing is downloaded: export reads the model folder and needs `torch` and `onnx` (the latter only for
the export). A model that is not "transformer + mean pooling + normalize" is not exported; the caller
falls back to PyTorch.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ModelError

EXPORT_VERSION = 1  # bump when the exported graph changes: old cache entries are then ignored
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = ("What dose of low-dose naltrexone is used for fibromyalgia?", "vivid dreams",
          "Participants took 4.5 mg nightly for twelve weeks; pain fell by 28.8% versus 18.0% on placebo.")
MIN_COSINE = 0.99999
Progress = Callable[[int, int], None]
Log = Callable[[str], None]


def cache_dir() -> Path:
    """Where exported models live: $LDNQA_CACHE_DIR, else $XDG_CACHE_HOME/ldnqa, else ~/.cache/ldnqa."""
    if os.environ.get("LDNQA_CACHE_DIR"):
        return Path(os.environ["LDNQA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ldnqa"


def read_layout(model_dir: Path) -> tuple[int, int]:
    """(max_seq_length, dim) of a sentence-transformers folder this module can export, else ModelError."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((model_dir / "modules.json").read_text())]
        pooling_path = next(m["path"] for m in json.loads((model_dir / "modules.json").read_text())
                            if m["type"].endswith("Pooling"))
        pooling = json.loads((model_dir / pooling_path / "config.json").read_text())
        seq = json.loads((model_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise ModelError(f"{model_dir} is not a sentence-transformers folder ONNX export supports") from exc
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    if modules != ["Transformer", "Pooling", "Normalize"] or not mean_only:
        raise ModelError(f"{model_dir}: only transformer + mean pooling + normalize is exported ({modules})")
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelError(f"{model_dir} has no tokenizer.json")
    return int(seq), int(pooling["word_embedding_dimension"])


def cached_path(model_dir: Path) -> Path:
    """The cache file for this model folder; the key changes when its weights or this exporter change."""
    weights = sorted(p for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin"))
    stamp = [EXPORT_VERSION, OPSET, str(model_dir.resolve())] + [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:16]
    return cache_dir() / "onnx" / f"{model_dir.name}-{key}" / "model.onnx"


def load_tokenizer(model_dir: Path, max_length: int) -> Any:
    """The model's fast tokenizer, truncating to `max_length`; `pad` pads each batch itself."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()  # tokenizer.json asks for a fixed length (128); batches are padded by `pad`
    return tokenizer


def export(model_dir: Path, target: Path, log: Log = lambda m: None) -> Path:
    """Export the model (encoder + mean pooling + normalisation) to `target`, checked against torch."""
    import torch
    from transformers import AutoModel

    max_length, _ = read_layout(model_dir)

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    log(f"Exporting {model_dir.name} to ONNX (once; cached in {target.parent})...")
    model = Pooled(AutoModel.from_pretrained(str(model_dir)).eval())
    tokenizer = load_tokenizer(model_dir, max_length)
    feeds = encode_batch(tokenizer, list(PROBES))
    tensors = tuple(torch.from_numpy(feeds[name]) for name in INPUTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shapes that are constant for this model
            expected = model(*tensors).numpy()
            torch.onnx.export(model, tensors, str(tmp), dynamo=False, input_names=list(INPUTS),
                              output_names=["embedding"], dynamic_axes={**axes, "embedding": {0: "batch"}},
                              opset_version=OPSET, do_constant_folding=True)
        got = session(tmp, 1).run(None, feeds)[0]
        worst = float(np.min(np.sum(expected * got, axis=1)))
        if worst < MIN_COSINE:
            raise ModelError(f"the ONNX export differs from the model (cosine {worst:.6f})")
        os.replace(tmp, target)
    except ModelError:
        raise
    except Exception as exc:  # exporter errors come in many types; all mean "use torch"
        raise ModelError(f"cannot export {model_dir.name} to ONNX: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def pad(rows: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """The model's inputs for token id rows, padded with 0 ([PAD]) to the longest and masked."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def encode_batch(tokenizer: Any, texts: list[str]) -> dict[str, np.ndarray]:
    return pad([e.ids for e in tokenizer.encode_batch(texts)])


# What one model call costs beyond its tokens, in tokens: measured on 2 cores, a call costs about
# 2.2 ms plus 0.22 ms per token it computes (padding included), so about 10 tokens.
CALL_TOKENS = 10


def length_groups(lengths: Sequence[int], max_batch: int, call_tokens: int = CALL_TOKENS) -> list[list[int]]:
    """Split texts (by token count) into model calls that compute the fewest tokens, padding included.

    A batch computes `size x longest` tokens, so a short text padded to a long one's length is wasted
    work; each extra call costs `call_tokens`. Texts are sorted by length and cut where that is
    cheapest (dynamic programming over the cut points, at most `max_batch` texts a call).
    >>> length_groups([4, 16, 3, 15, 4, 16], max_batch=32)   # three words and three sentences
    [[2, 0, 4], [3, 1, 5]]
    >>> length_groups([12, 14, 13], max_batch=32)            # similar lengths: one call
    [[0, 2, 1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    best = [0.0] + [float("inf")] * len(order)  # best[j]: cheapest cost of the first j texts
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        longest = lengths[order[j - 1]]
        for k in range(max(0, j - max_batch), j):
            cost = best[k] + call_tokens + (j - k) * longest
            if cost < best[j]:
                best[j], cut[j] = cost, k
    groups, j = [], len(order)
    while j > 0:
        groups.append(order[cut[j]:j])
        j = cut[j]
    return groups[::-1]


def session(path: Path, threads: int) -> Any:
    """An onnxruntime session with `threads` intra-op threads that sleep, not spin, when idle.

    Spinning threads burn a core between calls, which costs more than it saves when other requests
    or processes share two cores (measured: see docs/performance.md).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def default_threads() -> int:
    """Intra-op threads per model call: LDNQA_THREADS, else 2 (capped by the CPUs this process may use).

    Measured on 2 cores (docs/performance.md): with a core free, 2 threads answer a query faster (6.3 vs
    7.9 ms); with the other core busy they are even (9.2 vs 8.9 ms) at the same CPU cost, as long as
    idle threads do not spin. The web app answers one question at a time per process, so 2; set 1 for
    two replicas on two cores.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        wanted = int(os.environ.get("LDNQA_THREADS", "2"))
    except ValueError:
        wanted = 2
    return max(1, min(wanted, cpus))


class OnnxEncoder:
    """`embed(texts)` for a sentence-transformers folder, on onnxruntime. Thread-safe."""

    def __init__(self, model_dir: Path | str, threads: int | None = None, batch_size: int = 32,
                 log: Log = lambda m: None) -> None:
        self.model_dir = Path(model_dir)
        self.max_length, self.dim = read_layout(self.model_dir)
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.path = cached_path(self.model_dir)
        if not self.path.is_file():
            export(self.model_dir, self.path, log)
        self.tokenizer = load_tokenizer(self.model_dir, self.max_length)
        try:
            self.session = session(self.path, self.threads)
        except Exception as exc:  # a damaged cache file: export again once
            log(f"Re-exporting the ONNX model ({exc})")
            export(self.model_dir, self.path, log)
            self.session = session(self.path, self.threads)
        self._lock = threading.Lock()  # one tokenizer for all threads; tokenizing is quick

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 rows. Texts are batched by length (`length_groups`), so little padding
        is computed: "pregnancy" is not padded to the length of the question it came from."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            rows = [e.ids for e in self.tokenizer.encode_batch(texts)]
        done = 0
        for group in length_groups([len(r) for r in rows], self.batch_size):
            out[group] = self.session.run(None, pad([rows[i] for i in group]))[0]
            done += len(group)
            if progress:
                progress(done, len(texts))
        return out
