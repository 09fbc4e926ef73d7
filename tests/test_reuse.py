"""What ldnqa computes once and reuses (to keep the work per question small, issue #5) gives what
computing it afresh gives: word vectors kept between questions, per-index lookups, one product for all
urgency categories."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ldnqa import assistant as assistant_module
from ldnqa import triage_model as tm
from ldnqa.config import Settings

from support import HashEmbedder


class Recording(HashEmbedder):
    """A HashEmbedder that keeps the texts of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[list[str]] = []

    def embed(self, texts: Sequence[str], progress=None) -> np.ndarray:  # noqa: ANN001
        self.texts.append(list(texts))
        return super().embed(texts, progress)


def load(small_corpus: Path, tmp_path: Path, embedder: HashEmbedder):  # noqa: ANN201
    from ldnqa import Assistant

    return Assistant.load(small_corpus, tmp_path / "index", embedder=embedder,
                          settings=Settings(model="test-hash-embedder"), log=lambda m: None)


def test_a_word_the_corpus_lacks_is_embedded_once_and_the_answer_is_the_same(small_corpus: Path,
                                                                              tmp_path: Path) -> None:
    embedder = Recording()
    assistant = load(small_corpus, tmp_path, embedder)
    embedder.texts.clear()
    first = assistant.ask("Is LDN safe in epilepsy?").to_dict()
    assert any("epilepsy" in texts for texts in embedder.texts)  # the corpus lacks it: judged by meaning
    embedder.texts.clear()
    again = assistant.ask("Is LDN safe in epilepsy?").to_dict()
    assert not any("epilepsy" in texts for texts in embedder.texts)
    assert again == first
    fresh = load(small_corpus, tmp_path, HashEmbedder()).ask("Is LDN safe in epilepsy?").to_dict()
    assert fresh == first


def test_the_kept_words_are_bounded(small_corpus: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(assistant_module, "WORD_CACHE", 2)
    assistant = load(small_corpus, tmp_path, HashEmbedder())
    for word in ("epilepsy", "pregnancy", "alcohol", "tattoos"):
        assistant.ask(f"Is LDN safe with {word}?")
    assert len(assistant._words) == 2 and "tattoos" in assistant._words and "epilepsy" not in assistant._words


def test_the_index_lookups_list_each_passage_and_document_sentences_in_order(small_corpus: Path,
                                                                              tmp_path: Path) -> None:
    index = load(small_corpus, tmp_path, HashEmbedder()).index
    for c in range(len(index.chunks)):
        assert index.chunk_sentences[c] == [i for i, s in enumerate(index.sentences) if s.chunk == c]
    for d in index.documents:
        assert index.doc_sentences[d] == [i for i, s in enumerate(index.sentences) if s.doc_id == d]
    assert sum(map(len, index.chunk_sentences)) == len(index.sentences)


def test_all_categories_in_one_product_give_each_category_s_own_highest_probability() -> None:
    rng = np.random.default_rng(7)
    weights = {c: rng.normal(size=16) for c in tm.CATEGORIES}
    bias = {c: float(rng.normal()) for c in tm.CATEGORIES}
    model = tm.UrgencyModel("m", weights, bias, {c: 0.5 for c in tm.CATEGORIES})
    rows = rng.normal(size=(3, 16))
    got = model.probabilities(rows)
    assert list(got) == list(tm.CATEGORIES)
    for c in tm.CATEGORIES:
        assert abs(got[c] - tm.highest(rows, weights[c], bias[c])) < 1e-12
    assert tm.UrgencyModel("m", {}, {}, {}).probabilities(rows) == {}
