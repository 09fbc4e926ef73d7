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


def dense_ranking(index: Index, vector: np.ndarray, k: int) -> list[int]:
    _, ids = index.dense.search(vector, k)
    return [int(i) for i in ids[0] if i >= 0]


def lexical_ranking(index: Index, query: Query, k: int) -> list[int]:
    return [i for i, _ in index.lexical.search(query.terms, k, query.weights)]


GUARANTEED = 2  # each retriever's own best passages always reach the answer step


def retrieve(index: Index, query: Query, vector: np.ndarray, settings: Settings, limit: int) -> list[Hit]:
    """The `limit` best passages for the query, by fused rank.

    Fusion rewards agreement, so a passage that only one retriever finds (an exact rare term such as
    "PTI-901", found by BM25 alone) can drop below passages both rank moderately. The top GUARANTEED
    passages of each ranking therefore always take a place, replacing the weakest fused ones.
    """
    dense = dense_ranking(index, vector, settings.dense_k)
    lexical = lexical_ranking(index, query, settings.lexical_k)
    fused = rrf([dense, lexical], settings.rrf_k, len(dense) + len(lexical))
    must = list(dict.fromkeys(dense[:GUARANTEED] + lexical[:GUARANTEED]))
    chosen = [f for f in fused if f[0] in must]
    chosen += [f for f in fused if f[0] not in must][:max(0, limit - len(chosen))]
    chosen.sort(key=lambda f: (-f[1], f[0]))
    return [Hit(chunk=i, score=s, dense_rank=r[0], lexical_rank=r[1]) for i, s, r in chosen[:max(limit, len(must))]]
