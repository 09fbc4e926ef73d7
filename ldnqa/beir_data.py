"""BEIR datasets on disk: reading a split, scoring a run (nDCG@10, Recall@100), writing a TREC run.

A dataset folder holds corpus.jsonl (`{"_id", "title", "text"}`), queries.jsonl (`{"_id", "text"}`) and
qrels/<split>.tsv (`query-id corpus-id score`, header optional). Metrics follow BEIR and trec_eval:
nDCG@10 with graded gains (rel / log2(rank + 1), ideal order from the qrels), Recall@100, averaged over
the judged queries. `ldnqa.beir` indexes and ranks; this module only reads, scores and writes.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .errors import CorpusError

Run = dict[str, list[tuple[str, float]]]  # query id -> [(doc id, score)], best first


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
