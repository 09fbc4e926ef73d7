"""Misspelt words are read as the corpus word meant, and real words are never "corrected"."""
from __future__ import annotations

import re

import pytest

from ldnqa.config import Settings
from ldnqa.evaluate import marked_sentences
from ldnqa.spelling import Speller, doubling, inflection_of, load_english

CORPUS = {"effects": 3.0, "inflammation": 2.0, "withdrawal": 1.0, "randomized": 1.0, "approved": 1.0,
          "reflex": 1.0, "ovid": 1.0, "lives": 2.0, "painkillers": 1.0, "points": 1.0, "difference": 1.0}
NAMED_EFFECT = re.compile(r"vivid dreams|nausea|headache|insomnia|dry mouth", re.I)
ENGLISH = frozenset({"reflux", "hive", "point", "dream"})


@pytest.fixture
def speller() -> Speller:
    return Speller.from_words(CORPUS, ENGLISH)


@pytest.mark.parametrize("typed, meant", [
    ("efects", "effects"),  # a doubled letter typed once: corrected even in a short word
    ("aproved", "approved"),
    ("inflamation", "inflammation"),  # 7+ letters: any single edit
    ("withdrawl", "withdrawal"),
    ("randomised", "randomized"),  # British spelling of the corpus's American one
    ("differnce", "difference"),
])
def test_a_misspelt_word_is_read_as_the_corpus_word(speller: Speller, typed: str, meant: str) -> None:
    assert speller.word(typed) == meant


@pytest.mark.parametrize("typed", [
    "reflux",  # an English word, one letter from the corpus's "reflex"
    "hives",  # an inflection of the English "hive", one letter from "lives"
    "covid",  # a word of 5 letters whose edit ("ovid") drops the first letter
    "pints",  # short, and the edit ("points") is not a doubled letter
    "painkiller",  # the same stem as the corpus's "painkillers": nothing to correct
    "effects",  # a corpus word
    "dreamt",  # short, not a doubled letter
    "fixes",  # nothing one edit away
])
def test_real_words_and_unsure_cases_are_left_alone(speller: Speller, typed: str) -> None:
    assert speller.word(typed) is None


def test_correct_keeps_the_text_and_a_capital_and_reports_each_word_once(speller: Speller) -> None:
    text, done = speller.correct("Efects? The efects of (inflamation), reflux.")
    assert text == "Effects? The effects of (inflammation), reflux."
    assert done == (("efects", "effects"), ("inflamation", "inflammation"))


def test_doubling_and_inflections() -> None:
    assert doubling("efects", "effects") and doubling("effects", "efects")
    assert not doubling("ultram", "ultra") and not doubling("affects", "effects")
    assert inflection_of("rashes", frozenset({"rash"})) and inflection_of("dosed", frozenset({"dose"}))
    assert inflection_of("stopped", frozenset({"stop"})) and not inflection_of("usualy", frozenset({"usual"}))


def test_the_english_word_list_holds_everyday_words_and_not_typos() -> None:
    english = load_english(Settings().english_words)
    assert {"pregnancy", "seizure", "depression", "budget"} <= english
    assert not {"efects", "inflamation", "withdrawl"} & english


@pytest.mark.slow
def test_a_typo_in_the_subject_gets_the_answer_and_says_how_it_was_read(assistant) -> None:
    """Before: "efects" matched nothing, and the answer opened with an IBS study's background and a
    line on tolerability, neither naming a side effect."""
    answer = assistant.ask("what side efects can low dose naltrexone give you?")
    sentences = [s for s, _ in marked_sentences(answer.answer)]
    assert all(NAMED_EFFECT.search(s) for s in sentences[:2]), sentences
    assert "Read “efects” as “effects”." in answer.notice
    assert answer.question == "what side efects can low dose naltrexone give you?"  # as typed


@pytest.mark.slow
def test_a_word_the_sources_lack_is_not_corrected_into_one_they_have(assistant) -> None:
    answer = assistant.ask("Can I take LDN if I have covid?")
    assert answer.abstained and "covid" in answer.notice and "Read" not in answer.notice
