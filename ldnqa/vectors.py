"""Stage 4b: the dense vector index, an adapter over FAISS (imported only here, and only when used).

Vectors are unit length, so inner product is cosine similarity. Small indexes use exact search
(IndexFlatIP); `kind` is recorded in the manifest so a larger deployment can switch to an approximate
index without the rest of ldnqa noticing.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class DenseIndex:
    """search(query_vectors, k) -> (scores, ids), ids -1 where fewer than k vectors exist."""

    def __init__(self, index: object, kind: str = "flat") -> None:
        self.index = index
        self.kind = kind

    @classmethod
    def build(cls, vectors: np.ndarray) -> "DenseIndex":
        import faiss

        index = faiss.IndexFlatIP(int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else 1)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, "flat")

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries.reshape(-1, queries.shape[-1]), dtype=np.float32)
        k = max(1, min(k, self.index.ntotal))
        if self.index.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(queries, k)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str = "flat") -> "DenseIndex":
        import faiss

        return cls(faiss.read_index(str(path)), kind)
