"""`ldnqa beir DIR`: the assistant's retriever on a BEIR-format dataset (nDCG@10, Recall@100, TREC run).

A dataset folder holds corpus.jsonl (`{"_id", "title", "text"}`), queries.jsonl (`{"_id", "text"}`) and
qrels/<split>.tsv (`query-id corpus-id score`, header optional). Documents are indexed as the assistant
indexes its corpus: BM25 (ldnqa.lexical, same k1 and b) over title + text, and MiniLM vectors in FAISS
(ldnqa.vectors) of the whole document and of its passages (ldnqa.chunking, same packing).

  dense    (1 - w) * cosine with the whole document + w * cosine with its best passage: the model reads
           only the first 256 word pieces of a text, so the passages are what see the rest
  lexical  BM25 of the query's stemmed words
  hybrid   fuse_scores: a weighted sum of both after z-scoring each over its top documents; or, with
           fusion="rrf", the assistant's reciprocal rank fusion (ldnqa.retrieval.rrf)

Weights were chosen on SciFact's train qrels, never on test (docs/beir.md). Metrics follow BEIR and
trec_eval: nDCG@10 with graded gains (rel / log2(rank + 1), ideal order from the qrels), Recall@100,
averaged over the judged queries.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .chunking import chunk_document
from .embedding import Embedder
from .errors import CorpusError, InputError
from .lexical import BM25, tokenize
from .retrieval import fuse_scores, rrf
from .types import Document
from .vectors import DenseIndex

MODES = ("hybrid", "dense", "lexical")
CACHE_VERSION = 1
Log = Callable[[str], None]
Run = dict[str, list[tuple[str, float]]]  # query id -> [(doc id, score)], best first


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
class Dataset:
    """A BEIR dataset split in memory: documents in file order, judged queries, graded qrels."""

    name: str
    corpus_file: Path
    doc_ids: list[str]
    titles: list[str]
    texts: list[str]
    queries: dict[str, str]  # the judged queries only, in file order
    qrels: dict[str, dict[str, int]]

    def documents(self) -> list[str]:
        """Each document's title + text, as indexed."""
        return [titled(t, x) for t, x in zip(self.titles, self.texts)]


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-lines file, each with an "_id"; blank lines skipped."""
    if not path.is_file():
        raise CorpusError(f"{path} not found (a BEIR folder has corpus.jsonl, queries.jsonl, qrels/)")
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                row = json.loads(line) if line.strip() else {"_id": None}
            except ValueError as exc:
                raise CorpusError(f"{path}, line {number}: not JSON ({exc})") from None
            if not isinstance(row, dict) or "_id" not in row:
                raise CorpusError(f'{path}, line {number}: expected an object with an "_id"')
            if row["_id"] is not None:
                yield row


def load_dataset(folder: str | Path, split: str = "test") -> Dataset:
    """Read a BEIR dataset folder; a missing file or a malformed line raises CorpusError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"dataset folder {folder} not found")
    rows = list(_jsonl(folder / "corpus.jsonl"))
    if not rows:
        raise CorpusError(f"{folder / 'corpus.jsonl'} has no documents")
    qrels_file = folder / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        raise CorpusError(f"{qrels_file} not found (is --split right?)")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(qrels_file.read_text(encoding="utf-8").splitlines(), 1):
        cells = line.split()
        if not cells or (number == 1 and cells[0] == "query-id"):
            continue
        try:
            qrels.setdefault(cells[0], {})[cells[1]] = int(cells[2])
        except (IndexError, ValueError):
            raise CorpusError(f"{qrels_file}, line {number}: expected `query-id corpus-id score`") from None
    queries = {str(q["_id"]): str(q.get("text") or "") for q in _jsonl(folder / "queries.jsonl")}
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise CorpusError(f"{qrels_file}: {len(missing)} judged queries not in queries.jsonl (first: {missing[0]})")
    return Dataset(folder.resolve().name, folder / "corpus.jsonl", [str(r["_id"]) for r in rows],
                   [str(r.get("title") or "") for r in rows], [str(r.get("text") or "") for r in rows],
                   {q: text for q, text in queries.items() if q in qrels}, qrels)


def titled(title: str, text: str) -> str:
    """Title and text as one string, without a doubled full stop."""
    title = title.strip()
    return text if not title else f"{title} {text}" if title.endswith((".", "?", "!")) else f"{title}. {text}"


def ndcg_at(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k: sum of rel / log2(rank + 1) over the top k, over the same for the ideal order.

    >>> round(ndcg_at(["x", "a"], {"a": 1}), 4)  # the only relevant document at rank 2
    0.6309
    """
    dcg = sum(rels.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(rank + 1) for rank, r in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], rels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant (rel > 0) documents found in the top k."""
    relevant = {doc for doc, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def evaluate(run: Run, qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10 and Recall@100 over the judged queries (one missing from the run scores 0)."""
    judged = [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]
    ranked = {q: [doc for doc, _ in run.get(q, [])] for q in judged}
    n = max(len(judged), 1)
    return {"ndcg@10": sum(ndcg_at(ranked[q], qrels[q], 10) for q in judged) / n,
            "recall@100": sum(recall_at(ranked[q], qrels[q], 100) for q in judged) / n,
            "queries": float(len(judged))}


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


def write_run(path: Path, run: Run, tag: str) -> None:
    """TREC run file, `query-id Q0 doc-id rank score tag` a line, written atomically.

    trec_eval orders by score, not rank, breaking ties (even near-ties) by document id; so a score tied
    with the one before (common in rank fusion) is written a hair (1e-6, relative: trec_eval reads
    scores as single-precision floats) below it.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for qid, docs in run.items():
            prev = math.inf
            for rank, (doc, score) in enumerate(docs, 1):
                prev = min(float(score), prev - 1e-6 * max(abs(prev), 1e-3)) if rank > 1 else float(score)
                fh.write(f"{qid} Q0 {doc} {rank} {prev:.10g} {tag}\n")
    os.replace(tmp, path)


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
