"""Stage 5: hybrid retrieval. Dense (meaning) and lexical (exact words) rankings fused by reciprocal rank.

Pure: it takes the query vector and the index; the model that made the vector is not imported here.

Reciprocal rank fusion scores a passage by its ranks, not by the incomparable raw scores:
score = sum over rankings of 1 / (k + rank), ranks starting at 1. With k = 60, a passage ranked 1st by
one retriever and 3rd by the other scores 1/61 + 1/63 = 0.0323, ahead of one ranked 1st by only one
(0.0164).
"""
from __future__ import annotations

import numpy as np

from .config import Settings
from .indexing import Index
from .query import Query
from .types import Hit


def rrf(rankings: list[list[int]], k: int, limit: int) -> list[tuple[int, float, list[int | None]]]:
    """Fuse ranked id lists; returns (id, score, rank in each list or None), best first.

    >>> [(i, round(s, 4)) for i, s, _ in rrf([[7, 3], [3, 9]], 60, 3)]
    [(3, 0.0325), (7, 0.0164), (9, 0.0161)]
    """
    scores: dict[int, float] = {}
    ranks: dict[int, list[int | None]] = {}
    for which, ranking in enumerate(rankings):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            ranks.setdefault(item, [None] * len(rankings))[which] = rank
    best = sorted(scores, key=lambda i: (-scores[i], i))[:limit]
    return [(i, scores[i], ranks[i]) for i in best]


def zscore(scores: np.ndarray, depth: int) -> np.ndarray:
    """Each row of scores centred and scaled by the mean and standard deviation of its top `depth`.

    >>> zscore(np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]]), 2).tolist()   # a flat row is only centred
    [[-3.0, -1.0, 1.0], [0.0, 0.0, 0.0]]
    """
    depth = max(1, min(depth, scores.shape[-1]))
    top_scores = np.partition(scores, scores.shape[-1] - depth, axis=-1)[..., -depth:]
    spread = top_scores.std(axis=-1, keepdims=True)
    return (scores - top_scores.mean(axis=-1, keepdims=True)) / np.where(spread > 0, spread, 1.0)


def fuse_scores(dense: np.ndarray, lexical: np.ndarray, dense_weight: float, depth: int) -> np.ndarray:
    """Hybrid score: dense_weight * z(dense) + (1 - dense_weight) * z(lexical).

    Unlike rank fusion it keeps margins: a passage BM25 scores far above the rest is not levelled with
    one that merely ranks first among near-ties. (Weights chosen on SciFact's training queries.)
    """
    z = zscore(np.vstack([dense, lexical]), depth)  # both lists in one pass (asked per question)
    return dense_weight * z[0] + (1.0 - dense_weight) * z[1]


Ranked = list[tuple[int, float]]  # (passage, score), best first


def zscore_fusion(dense_list: Ranked, lexical_list: Ranked, lexical_all: np.ndarray, settings: Settings
                  ) -> list[tuple[int, float, list[int | None]]]:
    """Fused (id, score, ranks) for the union of both retrievers' top lists, best first.

    A passage outside the dense top list gets the list's lowest score; BM25 scores are known for all."""
    rows = list(dict.fromkeys([i for i, _ in dense_list] + [i for i, _ in lexical_list]))
    if not rows:
        return []
    floor = min(s for _, s in dense_list) if dense_list else 0.0
    dense_of = dict(dense_list)
    dense = np.array([dense_of.get(r, floor) for r in rows], dtype=np.float32)
    lexical = lexical_all[rows].astype(np.float32)
    fused = fuse_scores(dense, lexical, settings.dense_weight, settings.dense_k)
    dense_rank = {i: n for n, (i, _) in enumerate(dense_list, 1)}
    lexical_rank = {i: n for n, (i, _) in enumerate(lexical_list, 1)}
    order = np.argsort(-fused, kind="stable")
    return [(rows[j], float(fused[j]), [dense_rank.get(rows[j]), lexical_rank.get(rows[j])]) for j in order]


def dense_search(index: Index, vector: np.ndarray, k: int) -> Ranked:
    scores, ids = index.dense.search(vector, k)
    return [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]


GUARANTEED = 2  # each retriever's own best passages always reach the answer step


def retrieve(index: Index, query: Query, vector: np.ndarray, settings: Settings, limit: int) -> list[Hit]:
    """The `limit` best passages for the query, by fused rank.

    Fusion rewards agreement, so a passage that only one retriever finds (an exact rare term such as
    "PTI-901", found by BM25 alone) can drop below passages both rank moderately. The top GUARANTEED
    passages of each ranking therefore always take a place, replacing the weakest fused ones.
    """
    # Each retriever runs once; fusion reuses their lists (and BM25's scores of every passage).
    dense_list = dense_search(index, vector, settings.dense_k)
    lexical_all = index.lexical.scores(query.terms, query.weights)
    lexical_list = index.lexical.top(lexical_all, settings.lexical_k)
    dense, lexical = [i for i, _ in dense_list], [i for i, _ in lexical_list]
    if settings.fusion == "zscore":
        fused = zscore_fusion(dense_list, lexical_list, lexical_all, settings)
    else:
        fused = rrf([dense, lexical], settings.rrf_k, len(dense) + len(lexical))
    must = list(dict.fromkeys(dense[:GUARANTEED] + lexical[:GUARANTEED]))
    chosen = [f for f in fused if f[0] in must]
    chosen += [f for f in fused if f[0] not in must][:max(0, limit - len(chosen))]
    chosen.sort(key=lambda f: (-f[1], f[0]))
    return [Hit(chunk=i, score=s, dense_rank=r[0], lexical_rank=r[1]) for i, s, r in chosen[:max(limit, len(must))]]
