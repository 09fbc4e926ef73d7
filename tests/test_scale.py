"""The scale bench: deterministic, structured synthetic vectors, and honest measurements at small N."""
from __future__ import annotations

import numpy as np

from ldnqa.scale import Synthetic, queries_near, run_scale
from ldnqa.vectors import normalize


def anchors(n: int = 300, dim: int = 48, seed: int = 0) -> np.ndarray:
    return normalize(np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32))


def test_synthetic_vectors_are_deterministic_unit_and_clustered() -> None:
    data = Synthetic(anchors(), n=20_000)
    block = data.block(3, 2000)
    assert np.array_equal(block, Synthetic(anchors(), n=20_000).block(3, 2000))  # same seed, same rows
    assert not np.array_equal(block, data.block(4, 2000))
    assert np.allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-5)
    sims = block @ block.T
    np.fill_diagonal(sims, -1.0)
    uniform = normalize(np.random.default_rng(1).standard_normal(block.shape).astype(np.float32))
    noise = uniform @ uniform.T
    np.fill_diagonal(noise, -1.0)
    # structured: a vector's nearest neighbour is far closer than in uniform noise of the same size
    assert np.median(sims.max(axis=1)) > np.median(noise.max(axis=1)) + 0.3


def test_blocks_put_the_real_vectors_first_and_sum_to_n() -> None:
    real = anchors(50)
    data = Synthetic(anchors(), n=120_000)
    blocks = list(data.blocks(real))
    assert np.array_equal(blocks[0], real) and sum(len(b) for b in blocks) == 120_000
    assert np.array_equal(blocks[1], data.block(0, len(blocks[1])))


def test_small_scale_run_is_exact_and_a_large_one_switches_to_ivf() -> None:
    real, questions = anchors(300), anchors(5, seed=9)
    small = run_scale(3000, real, questions, log=lambda m: None, threshold=5000, repeats=1)
    assert small["kind"] == "flat" and small["recall_at_10_synthetic"] == 1.0
    assert small["recall_at_10_questions"] == 1.0 and small["queries"] == {"synthetic": 200, "questions": 5}
    large = run_scale(20_000, real, questions, log=lambda m: None, threshold=10_000, repeats=1)
    assert large["kind"] == "ivf" and large["params"]["nprobe"] >= 1
    assert large["recall_at_10_synthetic"] >= 0.9 and large["search_ms_p50"] > 0
    assert large["peak_rss_mb"] > 0 and large["build_s"] > 0


def test_held_out_queries_are_not_stored_vectors() -> None:
    data = Synthetic(anchors(), n=5000)
    queries = queries_near(data, 50, seed=1)
    stored = np.vstack(list(data.blocks(anchors(10))))
    assert float(np.max(queries @ stored.T)) < 0.999
