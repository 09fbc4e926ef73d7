"""Stage 5c: do the sources speak of taking LDN together with the medicine a question names?

"Can I take LDN with sertraline?" names a medicine the corpus knows (sertraline reaches "antidepressant",
a fibromyalgia treatment) but asks about taking the two together, which the sources discuss only for
opioids. Sentences about antidepressants would answer something nearby, so the assistant says the
sources do not mention taking LDN with sertraline, and lists the nearest passages.

A question asks about a combination when it names a medicine or other substance (data/medicines.txt,
directly or through a synonym) with a combination cue: "with (my) sertraline", "sertraline and LDN
together", "interact", "combine", "mix", "alongside", "on top of", "at the same time", "while taking".
The sources speak of it when one sentence names the medicine, LDN or naltrexone, and taking or
interacting ("taking", "interact", "contraindicated", "combined", "withdrawal"; not "used", as in
"naltrexone is used to treat alcohol dependence").
"""
from __future__ import annotations

import re
from functools import lru_cache

from .coverage import Subject
from .indexing import Index
from .lexical import tokenize
from .question_words import word_list

# Cues anywhere in a question; "with" only counts right before the medicine (see `asks_to_combine`).
COMBINING = re.compile(r"\b(interact\w*|together|combin\w*|mix\w*|alongside|along with|on top of|in addition to"
                       r"|at the same time|same time as|while (?:on|taking|using|i'?m on))\b", re.I)
DETERMINERS = r"(?:(?:my|his|her|your|their|the|a|an|some|any|daily|regular|usual|current|normal)\s+)*"
# The user already takes the medicine, and asks about starting LDN: a combination without a cue word.
ON_IT = r"\b(?:(?:i'?m|i am|im|i've been|ive been|currently|already|still)\s+(?:on|taking|using)|i (?:take|use))\s+"
STARTING = re.compile(r"\b(?:start|begin|take|add|try|go on)\w*\s+(?:(?:on|taking|using)\s+)?(?:the\s+)?(?:ldn|naltrexone|"
                      r"low[- ]dose naltrexone)\b", re.I)
DRUG_STEMS = frozenset(tokenize("ldn naltrexone"))
EVIDENCE = frozenset(tokenize("interact interaction contraindicated taking combined combination together "
                              "alongside withdrawal"))


@lru_cache(maxsize=1)
def medicine_stems() -> frozenset[str]:
    """Stems of the medicines and substances listed in data/medicines.txt."""
    return frozenset(tokenize(" ".join(word_list("medicines.txt"))))


def asks_to_combine(question: str, word: str) -> bool:
    """Whether the question asks about taking `word` (a medicine it names) together with LDN.

    >>> asks_to_combine("Can I take LDN with my sertraline?", "sertraline")
    True
    >>> asks_to_combine("Is LDN better than pregabalin for people with fibromyalgia?", "pregabalin")
    False
    >>> asks_to_combine("I'm on sertraline 50 mg. Can I start LDN as well?", "sertraline")
    True
    >>> asks_to_combine("I'm on sertraline. Did the trials find LDN helps sleep?", "sertraline")
    False
    """
    if COMBINING.search(question):
        return True
    if STARTING.search(question) and re.search(rf"{ON_IT}{DETERMINERS}{re.escape(word)}\b", question, re.I):
        return True  # "I'm on sertraline 50 mg. Can I start LDN as well?"
    return re.search(rf"\bwith\s+{DETERMINERS}{re.escape(word)}\b", question, re.I) is not None


def spoken_of(index: Index, forms: frozenset[str]) -> bool:
    """Whether a sentence names one of `forms`, LDN or naltrexone, and taking or interacting."""
    return any(not forms.isdisjoint(stems) and not stems.isdisjoint(DRUG_STEMS) and not stems.isdisjoint(EVIDENCE)
               for stems in index.sentence_stems)


def unsupported_combinations(question: str, subjects: tuple[Subject, ...] | list[Subject], index: Index) -> list[str]:
    """"taking LDN with X" for each medicine X the question asks to combine with LDN, where no source
    sentence speaks of taking the two together; empty when the question asks no such thing."""
    medicines = medicine_stems()
    out = []
    for s in subjects:
        named = tokenize(s.word)
        if not DRUG_STEMS.isdisjoint(named) or (medicines.isdisjoint(named) and medicines.isdisjoint(s.forms)):
            continue
        if asks_to_combine(question, s.word) and not spoken_of(index, s.matching or s.forms):
            out.append(f"taking LDN with {s.word}")
    return out
