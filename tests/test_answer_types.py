"""What kind of sentence answers: the strength of the evidence, a result, a dose; judged by what the
message asks, not by the story around it (real corpus, real model)."""
from __future__ import annotations

import re

import pytest

from ldnqa.evaluate import marked_sentences

pytestmark = pytest.mark.slow
ON_EVIDENCE = re.compile(r"limited|experimental|preliminary|few and small|more large-scale|more research|"
                         r"little evidence|not all studies")


@pytest.mark.parametrize("question", ["How good is the evidence for low dose naltrexone in fibromyalgia?",
                                      "How strong is the evidence that LDN works for fibromyalgia?"])
def test_how_good_is_the_evidence_gets_what_the_sources_say_of_it(assistant, question: str) -> None:
    """Mostly what the sources say of the evidence's strength (small, preliminary, more trials needed),
    not hopeful summaries or advice to see a doctor. (Before: two of five sentences.)"""
    sentences = [s for s, _ in marked_sentences(assistant.ask(question).answer)]
    assert sum(bool(ON_EVIDENCE.search(s)) for s in sentences) >= 3, sentences


def test_a_drug_helping_asks_for_the_result(assistant) -> None:
    """"Have X been helping?" wants the finding (no benefit), not how many stopped the drugs."""
    answer = assistant.ask("Did the newer drugs end up helping fibromyalgia patients over 11 years?")
    assert "no evidence that the newer drugs brought clinical benefit" in marked_sentences(answer.answer)[0][0]


def test_the_story_before_the_question_does_not_decide_what_is_asked(assistant) -> None:
    """"None of them really helped" is the user's story; the question asks for a dose."""
    answer = assistant.ask("hi, i was diagnosed with fibro years ago and tried lyrica, cymbalta and "
                           "amitriptyline, none of them really helped and the side effects were bad. my doctor "
                           "wants to try LDN and start me low. what dose do fibromyalgia patients end up on?")
    assert "1.5 mg to 4.5 mg" in marked_sentences(answer.answer)[0][0], answer.answer


def test_a_medicine_in_the_story_need_not_be_in_the_answer(assistant) -> None:
    """The question asks where to get LDN; duloxetine is the user's story, not part of the question."""
    answer = assistant.ask("Duloxetine worked at first but not anymore. Where can I get LDN?")
    assert not answer.abstained and "compounding pharmacy" in answer.answer


def test_who_mentioned_it_need_not_be_in_the_sources(assistant) -> None:
    """"My acupuncturist mentioned...": the sources never speak of one, but do of Crohn's disease."""
    answer = assistant.ask("My acupuncturist mentioned LDN for Crohn's. Has it been studied for that?")
    assert not answer.abstained and "Crohn" in answer.answer


def test_an_everyday_word_for_the_bowel(assistant) -> None:
    """"Gut" reaches the sources' "bowel" (data/synonyms.txt)."""
    answer = assistant.ask("my gut is awful, could LDN help with irritable bowel?")
    assert not answer.abstained and "kariv-2006" in {c.doc_id for c in answer.citations}


@pytest.mark.parametrize("question", ["Has the best dose of LDN been worked out in a study?",
                                      "What is the optimal dose of low-dose naltrexone for fibromyalgia pain?"])
def test_which_dose_works_best_gets_what_a_study_estimated(assistant, question: str) -> None:
    """The dose-finding study's estimate (or its advice on which dose to test), not only the usual range."""
    answer = assistant.ask(question)
    assert re.search(r"ED50|sensible dose", answer.answer), answer.answer


@pytest.mark.parametrize("question", ["Why are drugs like Lyrica and gabapentin only partly effective for fibro?",
                                      "I take gabapentin. Why doesn't it fully work for fibromyalgia pain?"])
def test_why_gets_a_sentence_that_gives_the_reason(assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert "only partly effective" in answer.answer, answer.answer


@pytest.mark.parametrize("question", ["How is LDN thought to act in the body?",
                                      "By what mechanism could low dose naltrexone reduce fibromyalgia pain?"])
def test_how_does_it_work_gets_what_it_acts_on(assistant, question: str) -> None:
    """What the drug acts on (glial cells, receptors), and never a sentence that only announces a list
    ("...involves several potential pathways:"), which says nothing quoted alone."""
    sentences = [s for s, _ in marked_sentences(assistant.ask(question).answer)]
    assert any(re.search(r"\bglia|microglia|receptors?\b", s) for s in sentences[:2]), sentences
    assert not any(s.rstrip().endswith(":") for s in sentences), sentences
