"""`ldnqa beir`: metrics against hand-computed values, the TREC run file, the cache, and errors.

Plumbing runs on tests/fixtures/beir_tiny (6 documents, 3 judged queries, q4 unjudged) with the fake
HashEmbedder; nothing here loads the real model. Hand computations use 1/log2(3) = 0.63093 and
1/log2(5) = 0.43068.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ldnqa import beir, beir_data
from ldnqa.cli import main
from ldnqa.errors import CorpusError, InputError
from support import HashEmbedder

TINY = Path(__file__).parent / "fixtures" / "beir_tiny"
QRELS = {"q1": {"d1": 2, "d5": 1}, "q2": {"d4": 1}, "q3": {"d3": 1}}


def test_dataset_is_read_with_graded_qrels_and_only_judged_queries() -> None:
    data = beir_data.load_dataset(TINY)
    assert data.doc_ids == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert data.qrels == QRELS
    assert list(data.queries) == ["q1", "q2", "q3"]  # q4 has no judgements


def test_metrics_of_a_fixed_run_match_hand_computation() -> None:
    run = {"q1": [("d5", 3.0), ("d1", 2.0), ("d6", 1.0)],  # DCG 1 + 2/log2(3); ideal 2 + 1/log2(3)
           "q2": [("d6", 4.0), ("d2", 3.0), ("d3", 2.0), ("d4", 1.0)],  # relevant at rank 4: 1/log2(5)
           "q3": [("d1", 1.0)]}  # relevant document not retrieved
    assert beir_data.ndcg_at(["d5", "d1", "d6"], QRELS["q1"]) == pytest.approx(2.26186 / 2.63093, abs=1e-5)
    assert beir_data.ndcg_at(["d6", "d2", "d3", "d4"], QRELS["q2"]) == pytest.approx(0.43068, abs=1e-5)
    assert beir_data.ndcg_at(["d6", "d2", "d3", "d4"], QRELS["q2"], k=3) == 0.0
    assert beir_data.recall_at(["d6", "d2", "d3", "d4"], QRELS["q2"], k=3) == 0.0
    assert beir_data.recall_at(["d1"], QRELS["q1"]) == 0.5
    figures = beir_data.evaluate(run, QRELS)
    assert figures["ndcg@10"] == pytest.approx((0.85972 + 0.43068 + 0.0) / 3, abs=1e-5)
    assert figures["recall@100"] == pytest.approx(2 / 3)
    assert figures["queries"] == 3
    # A judged query missing from the run counts as zero, not as absent.
    assert beir_data.evaluate({"q1": run["q1"]}, QRELS)["ndcg@10"] == pytest.approx(0.85972 / 3, abs=1e-5)


def test_ndcg_cuts_at_ten() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert beir_data.ndcg_at(ranked, {"a": 1}) == 0.0
    assert beir_data.ndcg_at(ranked, {"a": 1}, k=11) == pytest.approx(1 / np.log2(12))


def read_run(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


def test_benchmark_writes_a_trec_run_and_scores_it(tmp_path: Path) -> None:
    run_file = tmp_path / "run.txt"
    report = beir.run_benchmark(TINY, embedder=HashEmbedder(), cache_root=tmp_path / "cache",
                                run_file=run_file, log=lambda m: None)
    rows = read_run(run_file)
    assert {r[0] for r in rows} == {"q1", "q2", "q3"}
    assert all(len(r) == 6 and r[1] == "Q0" and r[5] == "ldnqa-hybrid" for r in rows)
    for qid in ("q1", "q2", "q3"):
        mine = [r for r in rows if r[0] == qid]
        assert [int(r[3]) for r in mine] == list(range(1, 7))  # every document, ranks 1..6
        assert sorted(r[2] for r in mine) == ["d1", "d2", "d3", "d4", "d5", "d6"]
        scores = [float(r[4]) for r in mine]
        assert scores == sorted(scores, reverse=True)
    # The printed figures are those of the run file, re-scored independently.
    run = {q: [(r[2], float(r[4])) for r in rows if r[0] == q] for q in ("q1", "q2", "q3")}
    assert beir_data.evaluate(run, QRELS)["ndcg@10"] == pytest.approx(report.figures["hybrid"]["ndcg@10"])
    assert set(report.figures) == {"dense", "lexical", "hybrid"}
    # BM25 ranks d1 (all query words) over d5 for q1, the only match for q3, and for q2 d2 (fibromyalgia
    # twice) over the relevant d4: nDCG 1, 1 and 1/log2(3).
    assert report.figures["lexical"]["ndcg@10"] == pytest.approx((1 + 0.63093 + 1) / 3, abs=1e-5)


def test_second_run_uses_the_cache_and_gives_the_same_run(tmp_path: Path) -> None:
    first, second = HashEmbedder(), HashEmbedder()
    beir.run_benchmark(TINY, embedder=first, cache_root=tmp_path, run_file=tmp_path / "a", log=lambda m: None)
    assert first.calls[0] == 6 and first.calls[-1] == 3  # documents, passages, queries
    beir.run_benchmark(TINY, embedder=second, cache_root=tmp_path, run_file=tmp_path / "b", log=lambda m: None)
    assert second.calls == []
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text()
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1  # no temporary folders left over


def test_changed_corpus_or_damaged_cache_is_reindexed(tmp_path: Path) -> None:
    data = tmp_path / "tiny"
    shutil.copytree(TINY, data)
    beir.run_benchmark(data, embedder=HashEmbedder(), cache_root=tmp_path / "c", log=lambda m: None)
    with (data / "corpus.jsonl").open("a") as fh:
        fh.write('{"_id": "d7", "title": "Tea", "text": "Green tea and sleep."}\n')
    again = HashEmbedder()
    report = beir.run_benchmark(data, embedder=again, cache_root=tmp_path / "c", log=lambda m: None)
    assert again.calls[0] == 7
    (report.cache / "docs.faiss").write_bytes(b"damaged")
    third = HashEmbedder()
    beir.run_benchmark(data, embedder=third, cache_root=tmp_path / "c", log=lambda m: None)
    assert third.calls[0] == 7


def test_plain_rrf_fusion_and_lexical_mode_without_a_model(tmp_path: Path) -> None:
    report = beir.run_benchmark(TINY, embedder=HashEmbedder(), cache_root=tmp_path, log=lambda m: None,
                                settings=beir.BeirSettings(fusion="rrf"), run_file=tmp_path / "rrf")
    top = read_run(tmp_path / "rrf")[0]
    assert top[:3] == ["q1", "Q0", "d1"] and float(top[4]) == pytest.approx(2 / 61, rel=1e-6)  # first in both
    lexical = beir.run_benchmark(TINY, mode="lexical", cache_root=tmp_path / "none", log=lambda m: None)
    assert set(lexical.figures) == {"lexical"} and lexical.cache is None
    assert lexical.figures["lexical"] == report.figures["lexical"]


def test_best_passage_and_zscore_fusion() -> None:
    scores = np.array([[0.1, 0.7, 0.3, 0.2]])
    assert beir.best_passage(scores, np.array([0, 0, 2, 2]), np.full((1, 3), -1.0)).tolist() == [[0.7, -1.0, 0.3]]
    dense = np.array([0.9, 0.8, 0.1])
    lexical = np.array([0.0, 10.0, 9.0])
    assert beir.top(beir.fuse_scores(dense, lexical, 1.0, 3), 3) == [0, 1, 2]
    assert beir.top(beir.fuse_scores(dense, lexical, 0.0, 3), 3) == [1, 2, 0]
    assert beir.top(beir.fuse_scores(dense, lexical, 0.5, 3), 3) == [1, 0, 2]  # strong in both wins


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "corpus.jsonl").unlink(), "corpus.jsonl not found"),
    (lambda d: (d / "corpus.jsonl").write_text('{"_id": "d1"}\nnot json\n'), "corpus.jsonl, line 2: not JSON"),
    (lambda d: (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n"), "line 2: expected"),
    (lambda d: (d / "qrels" / "test.tsv").write_text("q9\td1\t1\n"), "not in queries.jsonl"),
])
def test_malformed_dataset_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               damage: object, message: str) -> None:
    data = tmp_path / "tiny"
    shutil.copytree(TINY, data)
    damage(data)  # type: ignore[operator]
    with pytest.raises(CorpusError, match=message):
        beir_data.load_dataset(data)
    assert main(["beir", str(data), "--mode", "lexical"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and message in err and "\n" not in err


def test_cli_lexical_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["beir", str(TINY), "--mode", "lexical", "--run", str(tmp_path / "run.trec")]) == 0
    out = capsys.readouterr().out
    assert "lexical" in out and "0.8770" in out and "Recall@100" in out
    assert read_run(tmp_path / "run.trec")[0] == ["q1", "Q0", "d1", "1", read_run(tmp_path / "run.trec")[0][4],
                                                  "ldnqa-lexical"]
    with pytest.raises(InputError):
        beir.run_benchmark(TINY, mode="sparse")
    assert main(["beir", str(tmp_path / "missing")]) == 1


def test_tied_scores_are_written_strictly_decreasing(tmp_path: Path) -> None:
    """trec_eval sorts by score and then by document id (descending): ties must not reorder the run."""
    beir_data.write_run(tmp_path / "run", {"q": [("a", 0.5), ("b", 0.5), ("c", 0.25)]}, "t")
    rows = read_run(tmp_path / "run")
    assert [r[2] for r in rows] == ["a", "b", "c"]
    scores = [float(r[4]) for r in rows]
    assert scores[0] == 0.5 and 0.5 - 1e-5 < scores[1] < 0.5 and scores[2] == 0.25
    assert [r[2] for r in sorted(rows, key=lambda r: (-float(r[4]), r[2]), reverse=False)] == ["a", "b", "c"]


def test_dense_score_mixes_the_whole_document_with_its_best_passage() -> None:
    from ldnqa.lexical import BM25
    from ldnqa.vectors import DenseIndex

    unit = np.eye(3, dtype=np.float32)
    index = beir.BeirIndex(BM25.build(["a", "b"]), DenseIndex.build(unit[[0, 1]]),
                           DenseIndex.build(unit[[1, 2, 2]]), np.array([0, 0, 1]))
    query = np.array([[0.6, 0.8, 0.0]], dtype=np.float32)
    # doc 0: whole 0.6, passages 0.8 and 0 -> 0.3 * 0.6 + 0.7 * 0.8; doc 1: whole 0.8, passage 0 -> 0.3 * 0.8
    assert beir.dense_scores(index, query, 0.7).tolist() == [pytest.approx([0.74, 0.24])]
    assert beir.dense_scores(index, query, 0.0).tolist() == [pytest.approx([0.6, 0.8])]
