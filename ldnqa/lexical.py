"""Stage 4a: the lexical (BM25) index. Pure numpy; stems with Snowball so "dreams" finds "dream".

Scores are precomputed per (term, passage) at build time, so a query is a sum of a few posting lists.

    >>> bm = BM25.build(["LDN causes vivid dreams", "Lyrica is pregabalin", "dreams and sleep"])
    >>> [doc for doc, _ in bm.search(tokenize("vivid dream"), 2)]
    [0, 2]
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")
WORD = re.compile(r"[^\W\d_]+")  # a word of letters only: no numbers
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just me
more most my myself no nor not of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your yours
yourself yourselves s t don doesn didn isn aren wasn weren won wouldn shouldn couldn can't i'm it's""".split())


@lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Lower-cased, stemmed word and number tokens ("4.5" stays one token); stop words dropped."""
    words = [w for w in TOKEN.findall(text.lower()) if keep_stopwords or w not in STOPWORDS]
    return _stemmer().stemWords(words)


class BM25:
    """Okapi BM25 over a fixed set of texts, stored term-major (CSC-like) for fast queries."""

    def __init__(self, vocab: dict[str, int], ptr: np.ndarray, docs: np.ndarray, weights: np.ndarray,
                 n_docs: int) -> None:
        self.vocab, self.ptr, self.docs, self.weights, self.n_docs = vocab, ptr, docs, weights, n_docs

    @classmethod
    def build(cls, texts: Sequence[str], k1: float = 0.9, b: float = 0.4) -> "BM25":
        token_lists = [tokenize(t) for t in texts]
        vocab: dict[str, int] = {}
        rows: list[tuple[int, int, int]] = []  # (term, doc, tf)
        for doc, tokens in enumerate(token_lists):
            counts: dict[int, int] = {}
            for tok in tokens:
                term = vocab.setdefault(tok, len(vocab))
                counts[term] = counts.get(term, 0) + 1
            rows.extend((term, doc, tf) for term, tf in counts.items())
        n_docs = len(texts)
        lengths = np.array([len(t) for t in token_lists], dtype=np.float32)
        avg = float(lengths.mean()) if n_docs and lengths.mean() > 0 else 1.0
        if not rows:
            return cls(vocab, np.zeros(len(vocab) + 1, np.int64), np.zeros(0, np.int32),
                       np.zeros(0, np.float32), n_docs)
        arr = np.array(rows, dtype=np.int64)
        arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
        terms, docs, tf = arr[:, 0], arr[:, 1], arr[:, 2].astype(np.float32)
        df = np.bincount(terms, minlength=len(vocab)).astype(np.float32)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1.0 - b + b * lengths[docs] / avg)
        weights = idf[terms] * tf * (k1 + 1.0) / (tf + norm)
        ptr = np.concatenate([[0], np.cumsum(df.astype(np.int64))])
        return cls(vocab, ptr, docs.astype(np.int32), weights.astype(np.float32), n_docs)

    def scores(self, tokens: Sequence[str], weights: Sequence[float] | None = None) -> np.ndarray:
        """BM25 score of every text for the query tokens (optionally weighted, e.g. synonyms < 1)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for i, tok in enumerate(tokens):
            term = self.vocab.get(tok)
            if term is None:
                continue
            lo, hi = self.ptr[term], self.ptr[term + 1]
            out[self.docs[lo:hi]] += self.weights[lo:hi] * (weights[i] if weights else 1.0)
        return out

    def search(self, tokens: Sequence[str], k: int, weights: Sequence[float] | None = None
               ) -> list[tuple[int, float]]:
        return self.top(self.scores(tokens, weights), k)

    @staticmethod
    def top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k highest non-zero scores of a `scores` array, best first."""
        k = min(k, int(np.count_nonzero(scores)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top]

    def arrays(self) -> dict[str, np.ndarray]:
        terms = sorted(self.vocab, key=self.vocab.get)
        return {"ptr": self.ptr, "docs": self.docs, "weights": self.weights,
                "terms": np.array(terms, dtype=object).astype(str), "n_docs": np.array([self.n_docs])}

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> "BM25":
        vocab = {str(t): i for i, t in enumerate(data["terms"].tolist())}
        return cls(vocab, data["ptr"], data["docs"], data["weights"], int(data["n_docs"][0]))
