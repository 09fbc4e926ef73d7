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


def test_each_part_gets_its_best_sentence_not_yet_taken() -> None:
    """The whole message's one sentence is also the first part's best: that part then gets its second
    best, not nothing (before, the Ludwig chart review's "where, and which drug?" lost the drug)."""
    from types import SimpleNamespace

    import numpy as np

    from ldnqa.compose import Candidate, with_each_part

    index = SimpleNamespace(sentence_vectors=np.eye(4, dtype=np.float32))  # no two sentences alike
    where, drug, other, groups = (Candidate(i, 0, 0.5, 1.0, 1.0 - i / 10) for i in range(4))
    out = with_each_part(index, [where], [[where, groups], [where, drug, other]], limit=5)
    assert [c.sentence for c in out] == [where.sentence, groups.sentence, drug.sentence]
