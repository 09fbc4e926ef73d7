"""Stage 4b: the dense vector index, an adapter over FAISS (imported only here, and only when used).

Vectors are unit length, so inner product is cosine similarity. Up to `approx_threshold()` vectors
(30,000 unless LDNQA_APPROX_THRESHOLD says otherwise) search is exact (IndexFlatIP). Exact search costs
a scan of every vector: measured on 2 cores, 1.3 ms at 25,000 vectors, 6.4 ms at 100,000, 13 ms at
200,000, against about 8 ms for the query embedding; so above the threshold the index is IVF-Flat:
vectors are grouped around `nlist` k-means centroids and a query scans the `nprobe` nearest groups
only (0.9 ms at 100,000, 7 ms at 1,000,000). `nprobe` is chosen at build time by measurement: the
smallest that finds, for question-like sample queries, at least `TARGET_RECALL` of the exact top 10.
The kind and the parameters (with the measured recall) go into the manifest. Figures and method:
docs/performance.md (`ldnqa bench --scale N`).
"""
from __future__ import annotations

import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

APPROX_THRESHOLD = 30_000
TARGET_RECALL = 0.97  # tuned on sample queries, so that unseen queries reach 0.95 with room to spare
NPROBES = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
TUNING_QUERIES = 200
TRAIN_PER_LIST = 40  # k-means training sample: this many vectors per list (FAISS warns below 39)


def approx_threshold() -> int:
    """Vectors above which the index is approximate: LDNQA_APPROX_THRESHOLD, else APPROX_THRESHOLD."""
    try:
        return int(os.environ.get("LDNQA_APPROX_THRESHOLD", APPROX_THRESHOLD))
    except ValueError:
        return APPROX_THRESHOLD


def nlist_for(n: int) -> int:
    """Number of IVF lists: about 2 sqrt(n), a power of two (1,000,000 -> 2048; 20,000 -> 256)."""
    return max(16, 2 ** round(math.log2(2 * math.sqrt(max(n, 1)))))


class DenseIndex:
    """search(query_vectors, k) -> (scores, ids), ids -1 where fewer than k vectors exist."""

    def __init__(self, index: Any, kind: str = "flat", params: dict[str, Any] | None = None) -> None:
        self.index = index
        self.kind = kind
        self.params: dict[str, Any] = dict(params or {})
        self._quantizer: Any = None  # an IVF index built here keeps its quantizer alive through this

    @classmethod
    def build(cls, vectors: np.ndarray, threshold: int | None = None, seed: int = 0) -> "DenseIndex":
        """Exact up to `threshold` vectors (default: approx_threshold()), IVF above it."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        limit = approx_threshold() if threshold is None else threshold
        if vectors.ndim == 2 and len(vectors) > limit:
            index = cls.ivf(vectors.shape[1], len(vectors), sample(vectors, nlist_for(len(vectors)) *
                                                                       TRAIN_PER_LIST, seed))
            lists = index.assign(vectors)
            index.reserve(np.bincount(lists, minlength=index.index.nlist))
            index.add(vectors, lists)
            index.tune(*tuning_queries(vectors, seed))
            return index
        return cls.flat(vectors)

    @classmethod
    def flat(cls, vectors: np.ndarray) -> "DenseIndex":
        import faiss

        index = faiss.IndexFlatIP(int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else 1)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, "flat")

    @classmethod
    def ivf(cls, dim: int, expected: int, train: np.ndarray) -> "DenseIndex":
        """An empty IVF-Flat index for about `expected` vectors, its centroids trained on `train`."""
        import faiss

        nlist = min(nlist_for(expected), max(1, len(train) // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.spherical = True  # centroids on the unit sphere, like the vectors
        index.cp.niter = 12
        with threads(0):
            index.train(np.ascontiguousarray(train, dtype=np.float32))
        index.nprobe = min(16, nlist)
        out = cls(index, "ivf", {"nlist": nlist, "nprobe": index.nprobe})
        out._quantizer = quantizer  # keep the quantizer alive as long as the index
        return out

    def add(self, vectors: np.ndarray, lists: np.ndarray | None = None) -> None:
        """Append vectors (ids follow on); for IVF, `lists` may give their lists (see `assign`)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with threads(0):
            if self.kind != "ivf" or lists is None:
                self.index.add(vectors)
            else:
                from faiss.contrib.ivf_tools import add_preassigned

                add_preassigned(self.index, vectors, np.ascontiguousarray(lists, dtype=np.int64))

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The IVF list of each vector (its nearest centroid)."""
        with threads(0):
            _, lists = self.index.quantizer.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
        return lists.reshape(-1)

    def reserve(self, counts: np.ndarray) -> None:
        """Allocate each empty IVF list for exactly `counts[list]` vectors. Lists grown by appending
        double their capacity, which costs up to 2x the vectors' memory (measured at 1M: 2.0 GB
        instead of 1.5 GB); reserving first leaves no slack."""
        lists = self.index.invlists
        for number in np.flatnonzero(counts):
            if lists.list_size(int(number)) == 0:
                lists.resize(int(number), int(counts[number]))  # allocates exactly this many...
                lists.resize(int(number), 0)  # ...and keeps the capacity while empty

    def tune(self, queries: np.ndarray, truth: np.ndarray, target: float = TARGET_RECALL) -> float:
        """Set the smallest nprobe whose recall@k (k = truth's width) reaches `target`; return it."""
        if self.kind != "ivf":
            return 1.0
        nlist = self.index.nlist
        recall_found = 0.0
        for nprobe in [p for p in NPROBES if p < nlist] + [nlist]:
            self.index.nprobe = nprobe
            _, ids = self.search(queries, truth.shape[1])
            recall_found = recall(ids, truth)
            if recall_found >= target:
                break
        self.params.update(nprobe=int(self.index.nprobe), tuned_recall=round(recall_found, 4),
                           target_recall=target, k=int(truth.shape[1]))
        return recall_found

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top k by inner product. A few queries run on one thread (see `search_threads`)."""
        queries = np.ascontiguousarray(queries.reshape(-1, queries.shape[-1]), dtype=np.float32)
        k = max(1, min(k, self.index.ntotal))
        if self.index.ntotal == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        with threads(1 if len(queries) < 20 else 0):
            return self.index.search(queries, k)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, kind: str = "flat", params: dict[str, Any] | None = None) -> "DenseIndex":
        import faiss

        index = faiss.read_index(str(path))
        if kind == "ivf" and params and "nprobe" in params:
            faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
        return cls(index, kind, params)


_OMP = threading.local()  # OpenMP's thread count is a per-thread setting: remember each thread's


@contextmanager
def threads(count: int) -> Iterator[None]:
    """FAISS's OpenMP threads for one call: `count`, or all CPUs for 0; one thread otherwise.

    One query on two OpenMP threads is ~30x slower than on one when the other core is busy (measured,
    docs/performance.md: 32 ms instead of 0.9 ms for 20,000 vectors), and idle OpenMP threads spin
    against the encoder; so searches of a few queries use one thread, and bulk work uses all CPUs.
    The setting is changed only when it differs (a search under load then sets nothing).
    """
    import faiss

    wanted = count or os.cpu_count() or 1
    if getattr(_OMP, "count", None) != wanted:
        faiss.omp_set_num_threads(wanted)
        _OMP.count = wanted
    try:
        yield
    finally:
        if wanted != 1:
            faiss.omp_set_num_threads(1)
            _OMP.count = 1


def sample(vectors: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Up to `n` rows, drawn without replacement."""
    if len(vectors) <= n:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), n, replace=False))
    return vectors[rows]


def tuning_queries(vectors: np.ndarray, seed: int = 0, n: int = TUNING_QUERIES, k: int = 10
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Question-like queries made from stored vectors (see `mixtures`) and their exact top k."""
    queries = mixtures(vectors, n, seed)
    return queries, exact_top(vectors, queries, min(k, len(vectors)))


def mixtures(vectors: np.ndarray, n: int, seed: int = 0, parts: int = 3, noise: float = 0.8) -> np.ndarray:
    """Each query the normalised sum of `parts` random stored vectors, moved off by noise.

    A question sits between passages, with flat similarities: measured at 300,000 vectors, the recall
    of real questions follows these queries closely (0.984 vs 0.970 at nprobe 96), while queries near a
    single stored vector are far easier (0.991) and would leave nprobe too low (docs/performance.md).
    """
    rows = np.random.default_rng(seed).integers(0, len(vectors), (n, parts))
    return perturb(normalize(vectors[rows].sum(axis=1)), seed + 1, noise)


def perturb(vectors: np.ndarray, seed: int, noise: float = 0.6) -> np.ndarray:
    """Unit vectors moved off `vectors` by Gaussian noise of length about `noise` (cosine ~0.85)."""
    rng = np.random.default_rng(seed)
    moved = vectors + noise * rng.standard_normal(vectors.shape).astype(np.float32) / math.sqrt(vectors.shape[1])
    return normalize(moved)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, block: int = 65536) -> np.ndarray:
    """Ids of the exact top k by inner product, scanning `vectors` in blocks (little extra memory)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = queries @ vectors[start:start + block].T
        best_s, best_i = merge_top(best_s, best_i, scores, start, k)
    return best_i


def merge_top(best_s: np.ndarray, best_i: np.ndarray, scores: np.ndarray, offset: int, k: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Fold a block of scores (ids from `offset`) into running top-k lists, best first."""
    if scores.shape[1] > k:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores, ids = np.take_along_axis(scores, part, 1), part + offset
    else:
        ids = np.broadcast_to(np.arange(offset, offset + scores.shape[1]), scores.shape)
    all_s = np.concatenate([best_s, scores], axis=1)
    all_i = np.concatenate([best_i, ids], axis=1)
    top = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(all_s, top, 1), np.take_along_axis(all_i, top, 1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the ids in `truth` (-1: none) found in the same row of `found`."""
    wanted = int(np.count_nonzero(truth >= 0))
    hits = sum(len(set(f.tolist()) & set(t[t >= 0].tolist())) for f, t in zip(found, truth))
    return hits / wanted if wanted else 1.0


def normalize(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)
