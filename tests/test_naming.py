"""Which study a message is about: named by its first author, or by the conversation before it (real
corpus; the follow-up case with the real model)."""
from __future__ import annotations

import pytest

from ldnqa.naming import by_author

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("text, studies", [
    ("what did the parkitny study find?", {"parkitny-2017"}),  # in lower case: not an everyday word
    ("the Due Bruun trial", {"due-bruun-2024"}),  # not Bruun-Plesner: fewer parts of the name match
    ("the bruun-plesner study", {"bruun-plesner-2020"}),
    ("what did Younger's 2013 trial show?", {"younger-2013"}),  # the year picks one of four
    ("Is there a study by Younger?", {"younger-2009", "younger-2009b", "younger-2013", "younger-2014"}),
    ("What was Parkitny and Younger's small study looking at?", {"parkitny-2017"}),  # both wrote two
    ("the review by Younger, Parkitny and McLain", {"younger-2014"}),  # ... in this order, this one
    ("what did Younger and Mackey's trials find?", {"younger-2009", "younger-2013"}),  # Mackey wrote two of Younger's four
    ("Due to my pain I read about LDN", set()),  # an everyday word, capitalised only as a sentence starts
    ("does it help younger patients?", set()),
])
def test_a_study_is_named_by_its_first_author(assistant, text: str, studies: set[str]) -> None:
    assert by_author(assistant.index, text, assistant.speller.english) == studies


@pytest.mark.parametrize("text, studies", [
    ("the 31-woman Stanford crossover", {"younger-2013"}),  # not the 2009 Stanford pilot, whose card holds both words
    ("the eight-woman cytokine study", {"parkitny-2017"}),
    ("that trial of 58 patients", {"bested-2023"}),
    ("I was one of 31 in my support group", set()),  # a number, but not of people taking part
])
def test_a_study_is_named_by_its_size(assistant, text: str, studies: set[str]) -> None:
    from ldnqa.naming import by_size

    assert by_size(assistant.index, text) == studies


def test_the_size_of_a_study_outweighs_words_other_cards_hold(assistant) -> None:
    """Before: "the 31-woman Stanford crossover" named the 2009 Stanford pilot (ten women)."""
    answer = assistant.ask("In the 31-woman Stanford crossover, how many took part?")
    assert "Thirty-one women" in answer.answer and {c.doc_id for c in answer.citations} == {"younger-2013"}


def test_a_follow_up_is_about_the_study_the_conversation_named(assistant) -> None:
    """Before: the follow-up's own words ("pain", "improve") outweighed the name, no study was taken as
    named, and the answer quoted other trials' designs."""
    answer = assistant.ask("and by how much did their pain improve?", history=["what did the parkitny study measure?"])
    assert {c.doc_id for c in answer.citations} == {"parkitny-2017"}
    assert "pain fell by 15%" in answer.answer


def test_a_question_about_reviews_in_general_names_no_study_for_its_follow_up(assistant) -> None:
    """"review articles" points at no one study: the follow-up is answered from any review."""
    answer = assistant.ask("Do they call it experimental?",
                           history=["Are there review articles on low dose naltrexone for chronic pain?"])
    assert not answer.abstained and "experimental" in answer.answer


def test_one_part_of_a_two_part_question_can_name_the_study(assistant) -> None:
    """The whole message's words are too many for any card; its first part names the study with every
    word. A part that holds a word the study lacks ("how old") names nothing rather than a nearby study."""
    from ldnqa.coverage import plan_subjects
    from ldnqa.naming import by_part, by_words

    def subjects(question: str):  # noqa: ANN202
        return list(plan_subjects(question, assistant.index, assistant.synonyms).subjects)

    two = ("In the Danish up-and-down dose study, where did the women come from, and did everyone who started "
           "end up in the analysis?")
    assert by_words(assistant.index, subjects(two), two) == set()
    assert by_part(assistant.index, subjects(two), two) == {"bruun-plesner-2020"}
    older = "For the Danish up-and-down dose-finding study: how old were the women, and did anyone drop out?"
    assert by_part(assistant.index, subjects(older), older) == set()
