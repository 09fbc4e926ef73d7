"""Stage 6, first step: which study, if any, a message is about.

A message names a study by its first author ("the Parkitny study"), or by words of its card ("the 2023
Danish crossover trial" is Bested et al.). A follow-up ("and how much did their pain improve?") is about
the study the conversation named, unless it names another itself. The named study's sentences then
compete for the answer whatever their wording (see compose).
"""
from __future__ import annotations

import re

from .coverage import Subjects, coverage
from .indexing import Index, surname_parts
from .lexical import TOKEN, WORD
from .query import ONE_STUDY
from .question_words import question_parts

STUDY_REFERENCE = re.compile(r"\b(trials?|stud(y|ies)|reviews?|meta-?analys[ie]s|analysis|papers?|pilot|"
                             r"research(ers)?|authors?|experiments?|cohort)\b", re.I)
NAMED_DOCUMENT = 0.75  # share of subject words a document's card must hold to count as named
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
# A capital inside a sentence: "Due" in "the Due Bruun trial", not in "Due to my pain, ...".
MID_SENTENCE = re.compile(r"(?<=[\w,;:)'’] )[A-Z]")


def by_author(index: Index, text: str, everyday: frozenset[str]) -> set[str]:
    """Studies whose first author the text names (those matching most parts of a double name: "Due
    Bruun" is not "Bruun-Plesner"); with a year in the text, that year's.

    A name that is also an everyday word ("due", "younger": written so in the corpus, or in `everyday`,
    the English word list) counts only when written with a capital inside a sentence: "younger patients"
    names no study, "the Younger trial" does.
    """
    parts: dict[str, float] = {}
    first: dict[str, int] = {}  # where the text first names each study's first author
    for match in WORD.finditer(text):
        name = match.group(0).lower()
        entry = index.first_authors.get(name)
        if entry and (not (entry[1] or name in everyday) or MID_SENTENCE.match(text, match.start())):
            for doc_id in entry[0]:
                parts[doc_id] = parts.get(doc_id, 0) + 1
                first.setdefault(doc_id, match.start())
    words = {w.lower() for w in WORD.findall(text)}
    for doc_id in parts:  # "Parkitny and Younger": the study by both, first the one they wrote in that order
        parts[doc_id] += 0.5 * len(co_authors(index, doc_id) & words) - 1e-6 * first[doc_id]
    found = {d for d, n in parts.items() if n == max(parts.values())}
    years = set(YEAR.findall(text))
    dated = {d for d in found if str((index.documents[d].meta or {}).get("year")) in years}
    return dated or found


SIZES = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                    "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
# "the 31-woman Stanford crossover", "the eight-woman cytokine study", "that trial of 58 patients"
SIZE = re.compile(r"\b(\d+|" + "|".join(SIZES) + r")[- ](women|woman|men|man|patients?|people|participants?|"
                  r"persons?|adults?|children|kids|volunteers)\b", re.I)


def by_size(index: Index, text: str) -> set[str]:
    """Studies whose number of participants the text gives, next to whom it counts.

    A size says more than the words around it: "the 31-woman Stanford crossover" is Younger 2013, though
    the 2009 Stanford pilot's card holds "Stanford" and "crossover" too.
    """
    sizes = {str(int(m.group(1)) if m.group(1).isdigit() else SIZES[m.group(1).lower()]) for m in SIZE.finditer(text)}
    if not sizes:
        return set()
    return {d for d, doc in index.documents.items()
            if doc.kind == "study-summary" and str((doc.meta or {}).get("participants")) in sizes}


def co_authors(index: Index, doc_id: str) -> set[str]:
    """The surnames (lower case) of a study's other authors: "Younger J" of ["Parkitny L", "Younger J"]."""
    authors = (index.documents[doc_id].meta or {}).get("authors")
    return {part for a in (authors[1:] if isinstance(authors, list) else []) for part in surname_parts(a)}


def by_words(index: Index, subjects: Subjects, question: str, share: float = NAMED_DOCUMENT) -> set[str]:
    """Documents the question names: it refers to a study, and their card alone holds most of its
    subject words.

    "What did the 2023 Danish crossover trial find?" names Bested et al. (a Danish crossover trial);
    all of its sentences then compete, since "no clinically relevant pain relief" says nothing of Denmark.
    """
    if len(subjects) < 2 and not STUDY_REFERENCE.search(question):
        return set()
    scores = {d: coverage(subjects, stems) for d, stems in index.study_stems.items()}
    best = max(scores.values(), default=0.0)
    return {d for d, v in scores.items() if v == best} if best >= share else set()


def by_part(index: Index, own: Subjects, question: str) -> set[str]:
    """Documents named by one question of several, when the whole message's words are too many for its
    card: "In the Danish up-and-down dose study, where did the women come from, and was everyone who
    started included in the analysis?" names the study in its first part."""
    parts = question_parts(question)
    for part in parts if len(parts) > 1 else []:
        if STUDY_REFERENCE.search(part):
            words = set(TOKEN.findall(part.lower()))
            named = by_words(index, [s for s in own if s.word in words or set(s.word.split()) <= words], part,
                             share=1.0)  # one part has few words: every one of them, or a nearby study wins
            if named:
                return named
    return set()


def named_documents(index: Index, own: Subjects, earlier: Subjects, question: str, context: str,
                    everyday: frozenset[str]) -> set[str]:
    """The studies a message is about: named in it by author, or by its own words when it speaks of a
    study; else, in a follow-up, the one study the earlier turns named; else by all the words together.

    After "What was the FINAL trial?", "what dose did they test?" is about the FINAL trial: its own words
    (dose, test) would name whichever study's card holds "dose".
    """
    named = by_author(index, question, everyday)
    if not named and STUDY_REFERENCE.search(question):
        named = by_words(index, own, question) or by_part(index, own, question)
    sized = by_size(index, question)
    if sized:
        return (named & sized) or sized
    if not named and context:
        named = by_author(index, context, everyday) or (by_words(index, earlier, context) if ONE_STUDY.search(context) else set())
    return named or by_words(index, own + earlier, f"{context} {question}")
