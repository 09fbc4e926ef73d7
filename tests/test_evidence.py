"""Evidence labels and order, findings' direction, disagreement detection on written pairs, and
efficacy answers that bring the strongest studies forward (real model)."""
from __future__ import annotations

import pytest

from ldnqa.evidence import EVIDENCE_ORDER, Claim, contrast, direction, disagreements, evidence_label, evidence_rank
from ldnqa.studies import pick_findings


@pytest.mark.parametrize("meta,kind,rank", [
    ({"evidence": "meta-analysis"}, "study-summary", 0),
    ({"evidence": "systematic review"}, "study-summary", 0),
    ({"design": "randomized, double-blind, placebo-controlled trial"}, "study-summary", 1),
    ({"evidence": "randomized controlled trial"}, "study-summary", 1),
    ({"evidence": "pilot trial"}, "study-summary", 2),
    ({"evidence": "dose-finding trial"}, "study-summary", 2),
    ({"evidence": "observational study"}, "study-summary", 3),
    ({"evidence": "case report"}, "study-summary", 3),
    ({"evidence": "review", "design": "narrative review"}, "study-summary", 4),
    ({}, "web-article", 5),
    ({}, "document", 6),
])
def test_evidence_order(meta: dict, kind: str, rank: int) -> None:
    assert evidence_rank(meta, kind) == rank
    assert evidence_label(meta, kind) == (meta.get("evidence") or EVIDENCE_ORDER[rank])


@pytest.mark.parametrize("sentence,expected", [
    ("Results: there was no meaningful difference between low-dose naltrexone and placebo.", -1),
    ("The difference between the groups was not statistically significant.", -1),
    ("The authors concluded that the results did not show any clinically relevant pain relief.", -1),
    ("Pain had fallen 28.8% from baseline on low-dose naltrexone, against 18.0% on placebo.", 1),
    ("The authors concluded that low-dose naltrexone may reduce pain in fibromyalgia.", 1),
    ("Thirty-one women with fibromyalgia took part.", 0),
])
def test_direction_of_findings(sentence: str, expected: int) -> None:
    assert direction(sentence) == expected


def claims(*texts: str) -> list[Claim]:
    return [Claim(i + 1, f"doc{i}", f"Source {i + 1}", t) for i, t in enumerate(texts)]


DISAGREE = [
    ("Naltrexone is an opioid antagonist.", "Naltrexone is commonly referred to as an opiate agonist."),
    ("LDN increases the release of endorphins.", "LDN decreases the release of endorphins."),
    ("Low-dose naltrexone reduced pain more than placebo.",
     "Low-dose naltrexone was not shown to be better than placebo."),
    ("In one trial, LDN improved fatigue in women with fibromyalgia.",
     "LDN did not improve fatigue or sleep in women with fibromyalgia."),
]
AGREE = [
    ("Naltrexone is an opioid antagonist.", "Naltrexone and naloxone are classic opioid antagonists."),
    ("LDN reduced pain by 30%.", "Pain fell by nearly 30% on low-dose naltrexone."),
    ("Naltrexone is an opioid antagonist.", "Side effects were vivid dreams and headache."),  # other subjects
    ("Vivid dreams were more common with LDN.", "Headaches were less common in the other study of sleep."),
]


@pytest.mark.parametrize("a,b", DISAGREE)
def test_disagreement_found(a: str, b: str) -> None:
    assert len(disagreements(claims(a, b))) == 1


@pytest.mark.parametrize("a,b", AGREE)
def test_no_disagreement_where_sources_agree_or_speak_of_other_things(a: str, b: str) -> None:
    assert disagreements(claims(a, b)) == []


def test_one_source_never_disagrees_with_itself() -> None:
    same = [Claim(1, "doc", "A", DISAGREE[0][0]), Claim(2, "doc", "A", DISAGREE[0][1])]
    assert disagreements(same) == []
    assert contrast("an agonist", "an agonist, not an antagonist") == ""


def test_pick_findings_keeps_both_directions_strongest_first() -> None:
    studies = [("pilot", 2, 10, +1), ("rct-pos", 1, 31, +1), ("meta", 0, 222, +1), ("rct-neg", 1, 99, -1)]
    assert pick_findings(studies, 2) == ["meta", "rct-neg"]
    assert pick_findings([s for s in studies if s[3] > 0], 2) == ["meta", "rct-pos"]




@pytest.mark.slow
@pytest.mark.parametrize("question", ["Does LDN work for fibromyalgia?", "Is low-dose naltrexone effective for fibro pain?",
                                      "How well does LDN help fibromyalgia compared with placebo?"])
def test_efficacy_answers_bring_the_strongest_studies_and_both_findings(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.abstained
    assert "**What the studies found**" in answer.answer
    strong = [c for c in answer.citations if c.evidence in ("meta-analysis", "systematic review",
                                                            "randomized controlled trial")]
    assert strong, [c.evidence for c in answer.citations]
    directions = set()
    for c in answer.citations:
        doc = assistant.document(c.doc_id)
        directions |= {direction(doc.text[s:e]) for s, e in c.quotes}
    assert {1, -1} <= directions  # a positive and a negative finding, since both exist in the corpus
    assert "disagree" in answer.notice


@pytest.mark.slow
def test_contradicting_sources_are_named_in_the_notice(assistant) -> None:
    answer = assistant.ask("Is naltrexone an opioid agonist or antagonist?")
    assert "agonist" in answer.notice and "disagree" in answer.notice


@pytest.mark.slow
def test_other_conditions_are_named(assistant) -> None:
    answer = assistant.ask("Can LDN help people with Crohn's disease?")
    assert "Not about fibromyalgia" in answer.notice and "Crohn" in answer.notice
    assert all(c.condition for c in answer.citations if c.kind == "study-summary")


@pytest.mark.slow
def test_every_citation_is_labelled(assistant) -> None:
    data = assistant.ask("What side effects does LDN have?").to_dict()
    assert data["citations"] and all(c["evidence"] for c in data["citations"])
    assert {"evidence", "year", "participants"} <= set(data["citations"][0])
