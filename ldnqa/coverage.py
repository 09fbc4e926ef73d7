"""Stage 5b: does the corpus speak of what the question is about?

A question's subject words are its words minus stop words and generic question words ("usually",
"tell"). Each must be present in the corpus: as itself, through a synonym, as another form of the same
word ("sleepy" / "sleep"), or as a corpus word close in meaning (embedding similarity >= 0.80).

A word the corpus lacks is judged by what it adds to the question. It is *light* when dropping it
barely changes the question's meaning and the word alone carries little of it ("Will LDN make it go
*away*?"): such a word is ignored. Otherwise it names the subject ("Is LDN safe in *epilepsy*?") and the
assistant abstains, naming the word, because any answer would be about something nearby.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from .config import DATA_DIR
from .indexing import Index
from .lexical import STOPWORDS, TOKEN, tokenize
from .query import Synonyms

NEAR_WORD = 0.80  # a corpus word this close in meaning stands in for a missing word
LIGHT_ABLATION = 0.90  # dropping a light word keeps the question at least this similar to itself
LIGHT_WORD = 0.30  # ... and the word alone is less similar than this to the question

Embed = Callable[[Sequence[str]], np.ndarray]

@dataclass(frozen=True)
class Subject:
    word: str  # as the user wrote it
    weight: float  # rarity in the corpus (IDF): rare words say more about what is asked
    forms: frozenset[str]  # corpus stems that stand for it


Subjects = list[Subject]


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    text = (DATA_DIR / "generic_words.txt").read_text(encoding="utf-8")
    words = [w for line in text.splitlines() if not line.startswith("#") for w in line.split()]
    return frozenset(tokenize(" ".join(words), keep_stopwords=True)) | frozenset(words)


def subject_words(question: str) -> list[tuple[str, str]]:
    """(word, stem) for each word of the question that may name its subject."""
    generic = generic_words()
    out = []
    for word in TOKEN.findall(question.lower().replace("\u2019", "'")):
        if word in STOPWORDS or word in generic or len(word) < 2 or word.isdigit():
            continue
        stem = tokenize(word, keep_stopwords=True)
        if stem and stem[0] not in generic:
            out.append((word, stem[0]))
    return out


def idf(index: Index, stem: str) -> float:
    term = index.lexical.vocab.get(stem)
    df = int(index.lexical.ptr[term + 1] - index.lexical.ptr[term]) if term is not None else 0
    return math.log(1 + (index.lexical.n_docs + 1) / (df + 0.5))


def matches(alts: set[str] | frozenset[str], stems: set[str] | frozenset[str]) -> bool:
    """A subject word is present when a stem equals one of its forms or shares its start.

    Snowball leaves "reduced" as "reduc" but "reduction" as "reduct"; both mean the same here.
    >>> matches({"reduc"}, {"reduct", "pain"}), matches({"pain"}, {"painkil"})
    (True, False)
    """
    if alts & stems:
        return True
    return any(len(a) >= 5 and len(s) >= 5 and (s.startswith(a) or a.startswith(s))
               and abs(len(s) - len(a)) <= 3 for a in alts for s in stems)


def coverage(subjects: Subjects, stems: set[str] | frozenset[str]) -> float:
    """IDF-weighted share of the subject words found among `stems` (1.0 when there are none)."""
    total = sum(s.weight for s in subjects)
    return sum(s.weight for s in subjects if matches(s.forms, stems)) / total if total else 1.0


def important(question: str, words: Sequence[str], embed: Embed) -> list[str]:
    """The words whose removal changes the question's meaning (similarity to itself < 0.90)."""
    if not words:
        return []
    vectors = embed([question] + [drop_word(question, w) for w in words])
    return [w for i, w in enumerate(words) if float(vectors[0] @ vectors[1 + i]) < LIGHT_ABLATION]


def corpus_forms(word: str, stem: str, index: Index, synonyms: Synonyms, phrase_hits: set[str]) -> set[str]:
    """Corpus stems that stand for the word: itself, synonyms, or another form of it."""
    vocab = index.lexical.vocab
    forms = {t for phrase in synonyms.expand(word) for t in tokenize(phrase) if t in vocab}
    if stem in vocab:
        forms.add(stem)
    if stem in phrase_hits:
        forms |= {t for t in phrase_hits if t in vocab}
    if not forms and len(stem) >= 5:
        root = stem[:max(5, len(stem) - 3)]
        forms = {t for t in vocab if t.startswith(root) and abs(len(t) - len(stem)) <= 4}
    return forms


@dataclass(frozen=True)
class SubjectCheck:
    subjects: Subjects  # what the answer should be about, weighted by rarity
    missing: tuple[str, ...]  # subject words no source mentions: abstain


def check_subjects(question: str, index: Index, synonyms: Synonyms, embed: Embed) -> SubjectCheck:
    words = subject_words(question)
    phrase_hits = synonyms.phrase_stems(question)
    subjects: Subjects = []
    unknown: list[str] = []
    for word, stem in words:
        forms = corpus_forms(word, stem, index, synonyms, phrase_hits)
        if forms:
            subjects.append(Subject(word, max(idf(index, f) for f in forms), frozenset(forms)))
        else:
            unknown.append(word)
    if not unknown:
        return SubjectCheck(subjects, ())
    missing = []
    # The plain question, each unknown word alone, and the question without it, in one model call.
    vectors = embed([question] + unknown + [drop_word(question, w) for w in unknown])
    qvec = vectors[0]
    for i, word in enumerate(unknown):
        wvec, ablated = vectors[1 + i], vectors[1 + len(unknown) + i]
        near = int(np.argmax(index.word_vectors @ wvec)) if len(index.words) else -1
        if near >= 0 and float(index.word_vectors[near] @ wvec) >= NEAR_WORD:
            stem = tokenize(index.words[near], keep_stopwords=True)
            subjects.append(Subject(word, idf(index, stem[0]) if stem else 1.0, frozenset(stem)))
            continue
        light = float(ablated @ qvec) >= LIGHT_ABLATION and float(wvec @ qvec) < LIGHT_WORD
        if not light:
            missing.append(word)
    return SubjectCheck(subjects, tuple(missing))


def drop_word(question: str, word: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", " ", question, flags=re.I)
