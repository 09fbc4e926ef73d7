"""`ldnqa beir DIR`: the assistant's retriever on a BEIR-format dataset (nDCG@10, Recall@100, TREC run).

The dataset's files, the metrics and the TREC run file are in ldnqa.beir_data. Documents are indexed
as the assistant indexes its corpus: BM25 (ldnqa.lexical, same k1 and b) over title + text, and MiniLM vectors in FAISS
(ldnqa.vectors) of the whole document and of its passages (ldnqa.chunking, same packing).

  dense    (1 - w) * cosine with the whole document + w * cosine with its best passage: the model reads
           only the first 256 word pieces of a text, so the passages are what see the rest
  lexical  BM25 of the query's stemmed words
  hybrid   fuse_scores: a weighted sum of both after z-scoring each over its top documents; or, with
           fusion="rrf", the assistant's reciprocal rank fusion (ldnqa.retrieval.rrf)

Weights were chosen on SciFact's train qrels, never on test (docs/beir.md).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .beir_data import Dataset, evaluate, load_dataset, titled, write_run
from .chunking import chunk_document
from .embedding import Embedder
from .errors import InputError
from .lexical import BM25, tokenize
from .retrieval import fuse_scores, rrf
from .types import Document
from .vectors import DenseIndex

MODES = ("hybrid", "dense", "lexical")
CACHE_VERSION = 1
Log = Callable[[str], None]


@dataclass(frozen=True)
class BeirSettings:
    """The benchmark's knobs; the defaults are what docs/beir.md reports."""

    k1: float = 0.9  # BM25, as the assistant's index
    b: float = 0.4
    chunk_chars: int = 700  # passage size, as the assistant's index
    passage_weight: float = 0.7  # dense = (1 - w) * whole document + w * best passage
    fusion: str = "zscore"  # "zscore" or "rrf"
    dense_weight: float = 0.4  # zscore: weight of dense; lexical gets the rest
    norm_depth: int = 100  # zscore: mean and spread of each retriever's top N
    rrf_k: int = 60  # rrf: as the assistant
    depth: int = 100  # documents per query in the run

    def cache_fields(self) -> dict[str, Any]:
        """What shapes the cached index: a change makes a new cache folder."""
        return {"k1": self.k1, "b": self.b, "chunk_chars": self.chunk_chars, "version": CACHE_VERSION}


@dataclass
class BeirIndex:
    """BM25 and, unless lexical-only, the document and passage vectors."""

    lexical: BM25
    docs: DenseIndex | None = None  # one vector per document
    passages: DenseIndex | None = None  # one vector per passage
    passage_doc: np.ndarray | None = None  # passage row -> document row, ascending


def passages_of(dataset: Dataset, chunk_chars: int) -> tuple[list[str], np.ndarray]:
    """Every document cut into titled passages by the assistant's chunker, and each passage's doc row."""
    texts: list[str] = []
    owner: list[int] = []
    for row, (doc_id, title, text) in enumerate(zip(dataset.doc_ids, dataset.titles, dataset.texts)):
        doc = Document(id=doc_id, title=title, kind="beir", reference="", text=text, path="", content_hash="")
        for chunk in chunk_document(doc, chunk_chars):
            texts.append(titled(title, chunk.text))
            owner.append(row)
    return texts, np.array(owner, dtype=np.int64)


def default_cache_root() -> Path:
    """$LDNQA_CACHE_DIR/beir, else $XDG_CACHE_HOME/ldnqa/beir, else ~/.cache/ldnqa/beir."""
    base = os.environ.get("LDNQA_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ldnqa"
    return Path(base) / "beir"


def cache_folder(dataset: Dataset, model: str, settings: BeirSettings, root: Path) -> Path:
    """<root>/<dataset>-<hash of the corpus file, the model and the index settings>."""
    digest = hashlib.sha256(json.dumps({"model": model, **settings.cache_fields()}, sort_keys=True).encode())
    with dataset.corpus_file.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return root / f"{dataset.name}-{digest.hexdigest()[:16]}"


def progress_log(what: str, log: Log, every: float = 15.0) -> Callable[[int, int], None]:
    """A progress callback that logs at most every `every` seconds, and at the end."""
    start = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every or done >= total:
            last = now
            log(f"  {what}: {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%), {now - start:.0f} s, "
                f"about {(now - start) / max(done, 1) * (total - done):.0f} s left")
    return report


def load_or_build(dataset: Dataset, embedder: Embedder | None, settings: BeirSettings, folder: Path,
                  log: Log) -> BeirIndex:
    """The index cached in `folder`, else built and cached: written to a temporary folder that is then
    renamed into place, so a cache folder is always complete. Without an embedder: BM25 only, uncached."""
    if embedder is None:
        return BeirIndex(BM25.build(dataset.documents(), settings.k1, settings.b))
    damaged = folder.exists()
    if (folder / "manifest.json").is_file():
        try:
            return BeirIndex(BM25.from_arrays(dict(np.load(folder / "lexical.npz"))), DenseIndex.load(
                folder / "docs.faiss"), DenseIndex.load(folder / "passages.faiss"), np.load(folder / "passage_doc.npy"))
        except Exception as exc:  # noqa: BLE001 - any damage means the same: rebuild
            log(f"Cache {folder} unreadable ({exc}); rebuilding it.")
    log(f"Indexing {len(dataset.doc_ids):,} documents of {dataset.name} (once; cached in {folder})")
    docs = dataset.documents()
    passages, owner = passages_of(dataset, settings.chunk_chars)
    index = BeirIndex(BM25.build(docs, settings.k1, settings.b),
                      DenseIndex.build(embedder.embed(docs, progress_log("documents", log))),
                      DenseIndex.build(embedder.embed(passages, progress_log("passages", log))), owner)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    np.savez(tmp / "lexical.npz", **index.lexical.arrays())
    index.docs.save(tmp / "docs.faiss")  # type: ignore[union-attr]
    index.passages.save(tmp / "passages.faiss")  # type: ignore[union-attr]
    np.save(tmp / "passage_doc.npy", owner)
    (tmp / "manifest.json").write_text(json.dumps({"dataset": dataset.name, "model": embedder.name, "documents":
                                                   len(docs), "passages": len(passages),
                                                   **settings.cache_fields()}, indent=1))
    if damaged:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError:  # another run finished first (renaming onto a full folder fails): keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return index


def query_vectors(dataset: Dataset, embedder: Embedder, folder: Path, log: Log) -> np.ndarray:
    """The queries' vectors, cached in the index folder (keyed by the query texts)."""
    texts = list(dataset.queries.values())
    path = folder / f"queries-{hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedder.embed(texts, progress_log("queries", log))
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    with tmp.open("wb") as fh:
        np.save(fh, vectors)
    os.replace(tmp, path)
    return vectors


def _all_scores(index: DenseIndex, vectors: np.ndarray) -> np.ndarray:
    """(queries, rows): inner product of each query with every row of the index, in row order."""
    scores, ids = index.search(vectors, index.index.ntotal)
    out = np.full((len(vectors), index.index.ntotal), -1.0)
    np.put_along_axis(out, np.maximum(ids, 0), np.where(ids < 0, -1.0, scores), axis=1)
    return out


def best_passage(passage_scores: np.ndarray, passage_doc: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(queries, docs): each document's best passage score (passage_doc ascending); `fallback` if none.

    >>> best_passage(np.array([[.1, .7, .3]]), np.array([0, 0, 2]), np.zeros((1, 3))).tolist()
    [[0.7, 0.0, 0.3]]
    """
    out = np.array(fallback, dtype=np.float64)
    if len(passage_doc):
        has, starts = np.unique(passage_doc, return_index=True)
        out[:, has] = np.maximum.reduceat(passage_scores, starts, axis=1)
    return out


def dense_scores(index: BeirIndex, vectors: np.ndarray, passage_weight: float) -> np.ndarray:
    """(queries, docs): (1 - w) * cosine with the whole document + w * cosine with its best passage."""
    whole = _all_scores(index.docs, vectors)  # type: ignore[arg-type]
    best = best_passage(_all_scores(index.passages, vectors), index.passage_doc, whole)  # type: ignore[arg-type]
    return (1.0 - passage_weight) * whole + passage_weight * best


def top(scores: np.ndarray, k: int, positive: bool = False) -> list[int]:
    """Rows of the k highest scores, best first, ties by row; only scores > 0 if `positive`."""
    k = min(k, len(scores))
    rows = np.argpartition(-scores, k - 1)[:k]
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return [int(r) for r in rows if not positive or scores[r] > 0]


def hybrid_ranking(dense: np.ndarray, lexical: np.ndarray, settings: BeirSettings) -> list[tuple[int, float]]:
    """One query's fused ranking [(row, score)], best first."""
    if settings.fusion == "rrf":
        fused = rrf([top(dense, 1000), top(lexical, 1000, positive=True)], settings.rrf_k, settings.depth)
        return [(row, score) for row, score, _ in fused]
    scores = fuse_scores(dense, lexical, settings.dense_weight, settings.norm_depth)
    return [(row, float(scores[row])) for row in top(scores, settings.depth)]


@dataclass
class Report:
    """What `run_benchmark` measured."""

    dataset: str
    split: str
    mode: str
    figures: dict[str, dict[str, float]]  # mode -> {"ndcg@10", "recall@100", "queries"}
    seconds: float
    cache: Path | None = None
    run_file: Path | None = None


def run_benchmark(folder: str | Path, mode: str = "hybrid", embedder: Embedder | None = None,
                  split: str = "test", cache_root: str | Path | None = None, run_file: str | Path | None = None,
                  settings: BeirSettings = BeirSettings(),
                  log: Log = lambda m: print(m, file=sys.stderr, flush=True)) -> Report:
    """Index (or load the cached index of) a BEIR dataset, rank its judged queries, score, write the run.

    Figures are given for every mode the index allows: all three, or only lexical in lexical mode (which
    needs no model). The run file holds the chosen mode's ranking.
    """
    if mode not in MODES or settings.fusion not in ("zscore", "rrf"):
        raise InputError(f"unknown mode {mode!r} or fusion {settings.fusion!r}: modes are {', '.join(MODES)}; "
                         "fusions zscore, rrf")
    start = time.monotonic()
    dataset = load_dataset(folder, split)
    if mode == "lexical":
        embedder = None
    elif embedder is None:
        from .config import Settings
        from .embedding import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(Settings.from_env().model)
    cache = cache_folder(dataset, embedder.name, settings, Path(cache_root or default_cache_root())) if embedder else None
    index = load_or_build(dataset, embedder, settings, cache or Path(), log)
    qids, ids = list(dataset.queries), dataset.doc_ids
    lexical = [index.lexical.scores(tokenize(dataset.queries[q])) for q in qids]
    rankings = {"lexical": [[(r, float(s[r])) for r in top(s, settings.depth, positive=True)] for s in lexical]}
    if embedder is not None and cache is not None:
        dense = dense_scores(index, query_vectors(dataset, embedder, cache, log), settings.passage_weight)
        rankings["dense"] = [[(r, float(s[r])) for r in top(s, settings.depth)] for s in dense]
        rankings["hybrid"] = [hybrid_ranking(d, s, settings) for d, s in zip(dense, lexical)]
    runs = {m: {q: [(ids[r], s) for r, s in ranking] for q, ranking in zip(qids, rows)}
            for m, rows in rankings.items()}
    if run_file:
        write_run(Path(run_file), runs[mode], f"ldnqa-{mode}")
    return Report(dataset.name, split, mode, {m: evaluate(run, dataset.qrels) for m, run in runs.items()},
                  time.monotonic() - start, cache, Path(run_file) if run_file else None)


def render(report: Report) -> str:
    """The figures as a small table, the chosen mode marked with *."""
    lines = [f"{report.dataset} ({report.split}): {int(next(iter(report.figures.values()))['queries'])} "
             f"judged queries", f"   {'mode':10}{'nDCG@10':>9}{'Recall@100':>12}"]
    for mode in ("dense", "lexical", "hybrid"):
        if mode in report.figures:
            f = report.figures[mode]
            mark = "*" if mode == report.mode else ""
            lines.append(f"{mark:3}{mode:10}{f['ndcg@10']:9.4f}{f['recall@100']:12.4f}")
    if report.run_file:
        lines.append(f"Run ({report.mode}) written to {report.run_file}")
    return "\n".join(lines + [f"{report.seconds:.1f} s" + (f"; index cached in {report.cache}" if report.cache else "")])
