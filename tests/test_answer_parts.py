"""A message that asks two things gets an answer to each (real corpus, real model)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("question,first,second", [
    ("How many women were in the 2013 Stanford trial, and did their sleep improve?", "Thirty-one women",
     "did not improve fatigue or sleep"),
])
def test_each_question_of_a_message_is_answered(assistant, question: str, first: str, second: str) -> None:
    answer = assistant.ask(question)
    assert first in answer.answer and second in answer.answer, answer.answer
