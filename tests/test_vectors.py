"""The dense index: exact search while small, IVF above the threshold with nprobe tuned by measured
recall, the kind and parameters recorded in the manifest; and a refresh that re-embeds only the
changed document (vectors cached by content hash, document cards by their text)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ldnqa.config import Settings
from ldnqa.store import load_or_build, read_manifest
from ldnqa.loading import load_corpus
from ldnqa.vectors import DenseIndex, exact_top, merge_top, nlist_for, normalize, perturb, recall
from support import HashEmbedder

SETTINGS = Settings(model="test-hash-embedder")


def clustered(n: int, dim: int = 64, clusters: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = normalize(rng.standard_normal((clusters, dim)).astype(np.float32))
    rows = centres[rng.integers(0, clusters, n)]
    return normalize(rows + 0.5 * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim))


def test_small_index_is_exact() -> None:
    data = clustered(3000)
    index = DenseIndex.build(data, threshold=5000)
    queries = perturb(data[:20], seed=1)
    scores, ids = index.search(queries, 10)
    assert index.kind == "flat" and index.params == {}
    assert np.array_equal(ids, exact_top(data, queries, 10))
    assert np.allclose(scores[:, 0], np.max(queries @ data.T, axis=1), atol=1e-5)


def test_large_index_switches_to_ivf_with_tuned_nprobe(tmp_path: Path) -> None:
    everything = clustered(20_200)
    data, unseen = everything[:20_000], everything[20_000:]  # same distribution, never stored
    index = DenseIndex.build(data, threshold=10_000)
    assert index.kind == "ivf"
    params = index.params
    assert params["nlist"] == nlist_for(20_000) and 1 <= params["nprobe"] <= params["nlist"]
    assert params["tuned_recall"] >= params["target_recall"] == 0.97
    held_out = perturb(unseen, seed=6)  # queries never used for tuning
    _, found = index.search(held_out, 10)
    assert recall(found, exact_top(data, held_out, 10)) >= 0.95
    index.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss", "ivf", json.loads(json.dumps(params)))
    assert loaded.kind == "ivf" and loaded.params == params
    assert np.array_equal(loaded.search(held_out, 10)[1], found)


def test_threshold_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    data = clustered(2000)
    monkeypatch.setenv("LDNQA_APPROX_THRESHOLD", "1000")
    assert DenseIndex.build(data).kind == "ivf"
    monkeypatch.setenv("LDNQA_APPROX_THRESHOLD", "5000")
    assert DenseIndex.build(data).kind == "flat"


def test_exact_top_in_blocks_matches_a_full_sort() -> None:
    data, queries = clustered(5000, seed=2), clustered(7, seed=3)
    full = np.argsort(-(queries @ data.T), axis=1, kind="stable")[:, :10]
    blocked = exact_top(data, queries, 10, block=777)
    assert np.array_equal(np.sort(blocked, axis=1), np.sort(full, axis=1))
    empty_s, empty_i = np.full((1, 3), -np.inf, np.float32), np.full((1, 3), -1)
    _, best_i = merge_top(empty_s, empty_i, np.array([[0.5, 0.9]]), 10, 3)
    assert best_i[0, :2].tolist() == [11, 10] and best_i[0, 2] == -1  # fewer than k so far: -1 pads
    assert recall(best_i, np.array([[10, 11, -1]])) == 1.0  # -1 in the truth is not a neighbour to find


def test_index_kind_and_parameters_are_recorded_in_the_manifest(small_corpus: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDNQA_APPROX_THRESHOLD", "2")  # the tiny corpus above the threshold
    built = load_or_build(load_corpus(small_corpus), tmp_path / "index", HashEmbedder(), SETTINGS, log=lambda m: None)
    manifest = read_manifest(tmp_path / "index")
    assert manifest["dense_kind"] == "ivf" == built.dense.kind
    assert manifest["dense_params"]["nprobe"] >= 1 and manifest["dense_params"]["tuned_recall"] >= 0.97
    again = load_or_build(load_corpus(small_corpus), tmp_path / "index", HashEmbedder(), SETTINGS, log=lambda m: None)
    assert again.dense.kind == "ivf" and again.dense.params == manifest["dense_params"]
    query = built.chunk_vectors[:1]
    assert np.array_equal(again.dense.search(query, 3)[1], built.dense.search(query, 3)[1])
    monkeypatch.delenv("LDNQA_APPROX_THRESHOLD")
    (small_corpus / "notes.txt").write_text("Another note about LDN.\n")
    assert load_or_build(load_corpus(small_corpus), tmp_path / "index", HashEmbedder(), SETTINGS,
                         log=lambda m: None).dense.kind == "flat"
    assert read_manifest(tmp_path / "index")["dense_kind"] == "flat"


def test_refresh_re_embeds_only_the_changed_document(small_corpus: Path, tmp_path: Path) -> None:
    before = load_or_build(load_corpus(small_corpus), tmp_path / "index", HashEmbedder(), SETTINGS, log=lambda m: None)
    notes = small_corpus / "notes.txt"
    notes.write_text(notes.read_text() + "\nMicroglia are glial cells too.\n")
    counted = HashEmbedder()
    after = load_or_build(load_corpus(small_corpus), tmp_path / "index", counted, SETTINGS, log=lambda m: None)
    changed = [c for c in after.chunks if c.doc_id == "notes"]
    changed_sentences = [s for s in after.sentences if s.doc_id == "notes"]
    new_words = sorted(set(after.words) - set(before.words))
    card_changed = after.documents["notes"].meta != before.documents["notes"].meta
    # the edited document's passages and sentences, its new words, and its card only if the card changed
    assert counted.calls[0] == len(changed) + len(changed_sentences)
    assert counted.embedded == len(changed) + len(changed_sentences) + len(new_words) + int(card_changed)
    for doc_id in ("ldn-basics", "trial-2020"):  # unchanged documents keep their vectors, bit for bit
        rows_before = [i for i, c in enumerate(before.chunks) if c.doc_id == doc_id]
        rows_after = [i for i, c in enumerate(after.chunks) if c.doc_id == doc_id]
        assert np.array_equal(before.chunk_vectors[rows_before], after.chunk_vectors[rows_after])
        assert np.array_equal(before.doc_vectors[before.doc_row[doc_id]], after.doc_vectors[after.doc_row[doc_id]])


def test_adding_a_document_embeds_it_and_its_card_only(small_corpus: Path, tmp_path: Path) -> None:
    load_or_build(load_corpus(small_corpus), tmp_path / "index", HashEmbedder(), SETTINGS, log=lambda m: None)
    (small_corpus / "new.md").write_text("---\nid: new-doc\ntitle: New\n---\nLDN dosing starts at 1.5 mg.\n")
    counted = HashEmbedder()
    after = load_or_build(load_corpus(small_corpus), tmp_path / "index", counted, SETTINGS, log=lambda m: None)
    own = [c for c in after.chunks if c.doc_id == "new-doc"] + [s for s in after.sentences if s.doc_id == "new-doc"]
    assert counted.calls[0] == len(own)
    assert counted.calls[-1] == 1  # one card: the new document's
    assert counted.embedded <= len(own) + 1 + len(after.words)
