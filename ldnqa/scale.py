"""`ldnqa bench --scale N`: the dense index at N passages, with synthetic but structured vectors.

The real corpus's passage and sentence vectors come first; the rest are generated around them, so the
synthetic passages live where real ones do: topics are real vectors blended with others, subtopics sit
around topics, passages around subtopics, with shared low-rank directions (real embeddings are far from
isotropic). Generation is deterministic block by block, so nothing larger than one block is held
besides the index itself, and the exact top 10 of every query is computed block by block too.

Reported: build time (training + adding), memory (the building process's peak, and the peak of a fresh
process that loads the saved index and searches it, as a replica does), search latency of single
queries (p50, p95), and recall@10 against exact search, for held-out synthetic queries and for the
bench's real questions. The index kind and parameters are the ones `DenseIndex.build` would choose,
nprobe tuned on question-like mixtures of real vectors (`vectors.mixtures`).
"""
from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .vectors import (TRAIN_PER_LIST, TUNING_QUERIES, DenseIndex, approx_threshold, merge_top, mixtures,
                      nlist_for, normalize, perturb, recall)

BLOCK = 50_000
EXACT_UP_TO = 500_000  # also time exact search up to this size, to show what the switch saves
Log = Callable[[str], None]


@dataclass
class Synthetic:
    """Deterministic clustered vectors around `anchors` (real unit vectors); row i is the same on
    every call with the same seed."""

    anchors: np.ndarray
    n: int
    seed: int = 7
    rank: int = 32

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        dim = self.anchors.shape[1]
        n_topics = max(8, self.n // 2000)
        n_sub = max(n_topics, self.n // 40)
        first = self.anchors[rng.integers(0, len(self.anchors), n_topics)]
        second = self.anchors[rng.integers(0, len(self.anchors), n_topics)]
        topics = normalize(first + 0.5 * second + 0.3 * gauss(rng, (n_topics, dim)))
        parent = rng.integers(0, n_topics, n_sub)
        self.subtopics = normalize(topics[parent] + 0.45 * gauss(rng, (n_sub, dim)))
        self.basis = gauss(rng, (self.rank, dim))  # shared directions, rows of length about 1

    @property
    def dim(self) -> int:
        return int(self.anchors.shape[1])

    def block(self, number: int, size: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, number))
        sub = self.subtopics[rng.integers(0, len(self.subtopics), size)]
        shared = 0.35 * gauss(rng, (size, self.rank)) @ self.basis
        return normalize(sub + shared + 0.4 * gauss(rng, (size, self.dim)))

    def blocks(self, real: np.ndarray) -> Iterator[np.ndarray]:
        """`real` first, then synthetic rows, in blocks, n rows in all."""
        real = real[:self.n]
        yield real
        left, number = self.n - len(real), 0
        while left > 0:
            size = min(BLOCK, left)
            yield self.block(number, size)
            left -= size
            number += 1


def gauss(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Normal noise with rows of expected length 1."""
    return (rng.standard_normal(shape) / math.sqrt(shape[1])).astype(np.float32)


def queries_near(data: Synthetic, count: int, seed: int, noise: float = 0.6) -> np.ndarray:
    """Held-out queries: fresh synthetic rows (never stored) moved off, like a question off a passage."""
    return perturb(data.block(10_000_000 + seed, count), seed, noise)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scale(n: int, real: np.ndarray, question_vectors: np.ndarray, log: Log, k: int = 10,
              threshold: int | None = None, repeats: int = 3) -> dict[str, Any]:
    """Build the index `DenseIndex.build` would choose for n vectors and measure it."""
    limit = approx_threshold() if threshold is None else threshold
    real = np.ascontiguousarray(real, dtype=np.float32)
    data = Synthetic(real, n)
    held_out = queries_near(data, 200, seed=1)
    tuning = mixtures(real, TUNING_QUERIES, seed=2)  # question-like, as DenseIndex.build tunes
    queries = np.vstack([held_out, tuning, question_vectors]).astype(np.float32)
    before, started, build_s = rss_mb(), time.perf_counter(), 0.0
    best_s = np.full((len(queries), k), -np.inf, np.float32)
    best_i = np.full((len(queries), k), -1, np.int64)
    if n > limit:  # like DenseIndex.build: train, assign, reserve the lists exactly, add
        want = nlist_for(n) * TRAIN_PER_LIST  # the stored rows: the real ones, then the first blocks
        train = np.vstack([real] + [data.block(b, BLOCK) for b in range(-(-want // BLOCK))])[:want]
        log(f"Training IVF ({nlist_for(n)} lists) on {len(train):,} vectors...")
        t0 = time.perf_counter()
        index = DenseIndex.ivf(data.dim, n, train)
        build_s += time.perf_counter() - t0
        del train
        lists = np.empty(n, np.int64)
    else:
        index = DenseIndex.flat(np.zeros((0, data.dim), np.float32))
    offset = 0
    for block in data.blocks(real):  # pass 1: exact top k of every query; IVF lists, or the flat index
        t0 = time.perf_counter()
        if index.kind == "ivf":
            lists[offset:offset + len(block)] = index.assign(block)
        else:
            index.add(block)
        build_s += time.perf_counter() - t0
        best_s, best_i = merge_top(best_s, best_i, queries @ block.T, offset, k)
        offset += len(block)
        if offset % 200_000 < BLOCK:
            log(f"  {offset:,} / {n:,} vectors scanned")
    if index.kind == "ivf":  # pass 2: the same blocks again, into lists reserved to their exact size
        t0 = time.perf_counter()
        index.reserve(np.bincount(lists, minlength=index.index.nlist))
        offset = 0
        for block in data.blocks(real):
            index.add(block, lists[offset:offset + len(block)])
            offset += len(block)
        build_s += time.perf_counter() - t0
        del lists
    truth_held, truth_tune = best_i[:200], best_i[200:200 + len(tuning)]
    truth_real = best_i[200 + len(tuning):]
    t0 = time.perf_counter()
    index.tune(tuning, truth_tune)
    build_s += time.perf_counter() - t0
    index_mb = rss_mb() - before
    latencies = []
    found = np.zeros_like(best_i)
    eval_rows = list(range(200)) + list(range(200 + len(tuning), len(queries)))
    for _ in range(repeats):
        for row in eval_rows:
            t0 = time.perf_counter()
            _, ids = index.search(queries[row:row + 1], k)
            latencies.append(time.perf_counter() - t0)
            found[row] = ids[0]
    latencies.sort()
    serving = serving_memory(index)
    exact = exact_latency(data, real, queries[eval_rows], k) if index.kind != "flat" and n <= EXACT_UP_TO else None
    return {
        "n": n, "dim": data.dim, "kind": index.kind, "params": index.params, "threshold": limit,
        "build_s": round(build_s, 2), "total_s": round(time.perf_counter() - started, 2),
        "index_mb": round(index_mb, 1), "peak_rss_mb": round(peak_mb(), 1), **serving,
        "search_ms_p50": round(1e3 * latencies[len(latencies) // 2], 3),
        "search_ms_p95": round(1e3 * latencies[int(0.95 * (len(latencies) - 1))], 3),
        "recall_at_10_synthetic": round(recall(found[:200], truth_held), 4),
        "recall_at_10_questions": round(recall(found[200 + len(tuning):], truth_real), 4)
        if len(truth_real) else None,
        "queries": {"synthetic": 200, "questions": int(len(truth_real))},
        "exact_search_ms_p50": exact,
    }


def serving_memory(index: DenseIndex) -> dict[str, float]:
    """Peak RSS of a fresh process that loads the saved index and searches it, as a replica does,
    and of one that only imports the same modules; their difference is the index's memory."""
    code = ("import sys, faiss, numpy as np; from ldnqa.vectors import DenseIndex\n"
            "if sys.argv[1] != '-':\n"
            "    d = DenseIndex.load(sys.argv[1], sys.argv[2], None); d.search(np.ones((1, d.index.d), 'f'), 10)\n"
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    with tempfile.TemporaryDirectory(prefix="ldnqa-scale-") as tmp:
        path = Path(tmp) / "dense.faiss"
        index.save(path)
        peaks = [int(subprocess.run([sys.executable, "-c", code, arg, index.kind], capture_output=True,
                                    text=True, check=True).stdout) / 1024 for arg in (str(path), "-")]
    return {"serving_rss_mb": round(peaks[0], 1), "serving_index_mb": round(peaks[0] - peaks[1], 1)}


def exact_latency(data: Synthetic, real: np.ndarray, queries: np.ndarray, k: int) -> float:
    """p50 ms of one query on an exact (flat) index of the same vectors: what the switch saves."""
    flat = DenseIndex.flat(np.zeros((0, data.dim), np.float32))
    for block in data.blocks(np.ascontiguousarray(real, dtype=np.float32)):
        flat.add(block)
    latencies = []
    for row in range(len(queries)):
        t0 = time.perf_counter()
        flat.search(queries[row:row + 1], k)
        latencies.append(time.perf_counter() - t0)
    return round(1e3 * sorted(latencies)[len(latencies) // 2], 3)


def run_scale_bench(corpus_dir: str | Path, index_dir: str | Path, n: int, log: Log = print) -> dict[str, Any]:
    """`ldnqa bench --scale N`: the real corpus's vectors mixed into N structured synthetic ones."""
    from .assistant import Assistant
    from .bench import QUESTIONS, machine

    assistant = Assistant.load(corpus_dir, index_dir, log=log)
    real = np.vstack([assistant.index.chunk_vectors, assistant.index.sentence_vectors])
    questions = assistant.embedder.embed([q for q, _ in QUESTIONS])
    del assistant
    log(f"Scale bench: {n:,} vectors ({len(real):,} real)...")
    return {"machine": machine(), "scale": run_scale(n, real, questions, log)}


def render_scale(r: dict[str, Any]) -> str:
    """The scale report as text."""
    s = r["scale"]
    return (f"Machine: {r['machine']['cpus']} CPUs, {r['machine']['cpu']}\n"
            f"N = {s['n']:,} vectors of {s['dim']} dimensions: {s['kind']} index {json.dumps(s['params'])}\n"
            f"build {s['build_s']:.1f} s (total with data generation {s['total_s']:.1f} s); build process peak "
            f"RSS {s['peak_rss_mb']:.0f} MB; serving process (loads the index, searches) peak RSS "
            f"{s['serving_rss_mb']:.0f} MB, of which the index {s['serving_index_mb']:.0f} MB\n"
            f"search p50 {s['search_ms_p50']:.3f} ms, p95 {s['search_ms_p95']:.3f} ms; recall@10 vs exact: "
            f"synthetic queries {s['recall_at_10_synthetic']}, real questions {s['recall_at_10_questions']}"
            + (f"\nexact search of the same vectors: p50 {s['exact_search_ms_p50']:.3f} ms"
               if s.get("exact_search_ms_p50") is not None else ""))
