"""Lexical index, synonyms, fusion (pure, hand-checked), and hybrid retrieval with the real model."""
from __future__ import annotations

import pytest

from ldnqa.lexical import BM25, tokenize
from ldnqa.query import Synonyms, build_query
from ldnqa.retrieval import rrf, retrieve


def test_tokenize_stems_and_keeps_doses() -> None:
    assert tokenize("Vivid dreams at 4.5 mg, Lyrica's") == ["vivid", "dream", "4.5", "mg", "lyrica"]


def test_bm25_prefers_the_rarer_matching_term() -> None:
    bm = BM25.build(["pain pain pain", "pain and pregabalin", "sleep"])
    assert [i for i, _ in bm.search(tokenize("pregabalin pain"), 3)] == [1, 0]
    restored = BM25.from_arrays(bm.arrays())
    assert restored.search(tokenize("pregabalin"), 1) == bm.search(tokenize("pregabalin"), 1)


def test_rrf_by_hand() -> None:
    fused = rrf([[1, 2, 3], [3, 1]], k=60, limit=3)
    assert [i for i, _, _ in fused] == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[0][2] == [1, 2]


def test_synonyms_are_data_and_expand_brand_and_everyday_names() -> None:
    syn = Synonyms.load("ldnqa/data/synonyms.txt")
    assert {"opioid", "opiate"} <= set(syn.expand("Can I take it with oxycodone?"))
    assert "pregabalin" in syn.expand("Is Lyrica better?")
    assert "low dose naltrexone" in syn.expand("What is LDN?")
    assert syn.expand("What is LDN?").count("low dose naltrexone") == 1
    assert {"randomized", "trial"} <= set(syn.expand("How many RCTs were pooled?"))  # research shorthand


def test_follow_up_borrows_the_subject_of_the_conversation() -> None:
    anchors = frozenset(tokenize("ldn naltrexone fibromyalgia"))
    q = build_query("What dose is it usually taken at?", ["What is LDN?"], Synonyms(()), anchors)
    assert q.context == "What is LDN?" and q.text.startswith("What is LDN?")
    own = build_query("Does naltrexone cause dreams?", ["What is LDN?"], Synonyms(()), anchors)
    assert own.context == ""


PARAPHRASES = [
    ("Which brand-name nerve pain pills do family doctors hand out for fibro?", "Pregabalin (Lyrica)"),
    ("Can my usual oxycodone be combined with it?", "opioid pain relievers"),
    ("Why is LDN made up specially by a pharmacist?", "compounding pharmacy"),
    ("Did the big Danish study show it relieves pain?", "clinically relevant pain relief"),
    ("what do the brain's immune cells give off when they get switched on", "inflammatory"),
    ("How many RCTs went into the 2024 pooled analysis, and how many people?", "222 patients"),
]


@pytest.mark.slow
@pytest.mark.parametrize("question,expected", PARAPHRASES)
def test_paraphrased_questions_are_answered_from_the_right_passage(assistant, question: str, expected: str) -> None:
    """Hybrid retrieval (passages by fused rank, plus the sentences closest in meaning) must bring the
    passage that answers a paraphrase into the answer's citations."""
    answer = assistant.ask(question)
    assert not answer.abstained
    assert any(expected in c.text for c in answer.citations), [c.text[:80] for c in answer.citations]


@pytest.mark.slow
def test_exact_terms_reach_their_passage_through_the_lexical_index(assistant) -> None:
    """A rare exact term ("PTI-901") is found by BM25 even where meaning alone would not rank it."""
    query = build_query("What is PTI-901?", [], assistant.synonyms, frozenset(tokenize("ldn naltrexone")))
    vector = assistant.embedder.embed([query.text])[0]
    hits = retrieve(assistant.index, query, vector, assistant.settings, assistant.settings.passages)
    found = [h for h in hits if "PTI-901" in assistant.index.chunks[h.chunk].text]
    assert found and found[0].lexical_rank == 1
