"""Stage 5b: does the corpus speak of what the question is about?

A question's subject words are its words minus stop words and generic question words ("usually",
"tell"; ldnqa.question_words). Each must be present in the corpus: as itself, through a synonym, as
another form of the same word ("sleepy" / "sleep"), or as a corpus word close in meaning (embedding
similarity >= 0.80).

A word the corpus lacks is judged by what it adds to the question. It is *light* when dropping it
barely changes the question's meaning and the word alone carries little of it ("Will LDN make it go
*away*?"): such a word is ignored. Otherwise it names the subject ("Is LDN safe in *epilepsy*?") and the
assistant abstains, naming the word, because any answer would be about something nearby. Words listed
in data/subject_words.txt ("forget", as in a missed dose) always name the subject. A word only in the
story around a question that stands on its own is not judged at all (see `told_only`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .indexing import Index
from .lexical import STOPWORDS, TOKEN, WORD, tokenize
from .phrases import unknown_compounds
from .query import Synonyms
from .question_words import asked, drop_words, introduction, reported_by, runs, subject_words, subject_words_always

# The subject of the whole corpus: present in almost every question, so they never decide coverage.
ANCHOR_STEMS = frozenset(tokenize("ldn naltrexone fibromyalgia"))
# Words that tie a question to the story told before it: "Is it safe *for me*?" after "I have
# epilepsy." asks about the epilepsy; "Is *it* safe to combine with LDN?" about what was named before.
TELLER = r"i|i'm|im|i've|ive|i'd|me|my|mine|we|our|us"
FIRST_PERSON = re.compile(rf"\b({TELLER})\b", re.I)
POINTS_BACK = re.compile(rf"\b({TELLER}|you|your|he|she|him|her|his|hers|it|its|it's|this|that|these|those|"
                         r"they|them|their)\b", re.I)
MIN_ASKED_SUBJECTS = 2  # corpus subject words the asking sentence needs to stand on its own
NEAR_WORD = 0.80  # a corpus word this close in meaning stands in for a missing word
LIGHT_ABLATION = 0.90  # dropping a light word keeps the question at least this similar to itself
LIGHT_WORD = 0.30  # ... and the word alone is less similar than this to the question

Embed = Callable[[Sequence[str]], np.ndarray]

@dataclass(frozen=True)
class Subject:
    word: str  # as the user wrote it
    weight: float  # rarity in the corpus (IDF): rare words say more about what is asked
    forms: frozenset[str]  # corpus stems that stand for it
    matching: frozenset[str] = frozenset()  # every corpus stem that `matches` its forms, precomputed


Subjects = list[Subject]


# "in the morning or at night", "nerve pain or joint pain": up to three words either side of "or",
# within one clause; the words before an alternative ("as", "at") are not part of it.
ALTERNATIVE = re.compile(r"\b((?:[^\W\d_]+[ -]){0,2}[^\W\d_]+) or (?:(?:as|the|a|an|at|in|on|by|with|for|to|"
                         r"during|before|after)\s+)*((?:[^\W\d_]+[ -]){0,2}[^\W\d_]+)")
COUNTS = frozenset("one two three four five six seven eight nine ten".split())


MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-z0-9,;:)] )[A-Z][a-z]+\b")


def names_in(question: str, index: Index) -> frozenset[str]:
    """Capitalised words inside a sentence that a document's card (title, authors, journal) holds:
    names of studies and their authors, such as "Bested"."""
    out = set()
    for word in MID_SENTENCE_CAPITAL.findall(question):
        stem = tokenize(word, keep_stopwords=True)
        if stem and stem[0] in index.card_words:
            out.add(word.lower())
    return frozenset(out)


def idf(index: Index, stem: str) -> float:
    term = index.lexical.vocab.get(stem)
    df = int(index.lexical.ptr[term + 1] - index.lexical.ptr[term]) if term is not None else 0
    return math.log(1 + (index.lexical.n_docs + 1) / (df + 0.5))


def matches(alts: set[str] | frozenset[str], stems: set[str] | frozenset[str]) -> bool:
    """A subject word is present when a stem equals one of its forms or shares its start.

    Snowball leaves "reduced" as "reduc" but "reduction" as "reduct"; both mean the same here. A long
    start may take a longer ending: "inflammation" ("inflamm") and "inflammatory" ("inflammatori").
    >>> matches({"reduc"}, {"reduct", "pain"}), matches({"pain"}, {"painkil"})
    (True, False)
    >>> matches({"inflamm"}, {"inflammatori"}), matches({"child"}, {"childhood"})
    (True, False)
    """
    if alts & stems:
        return True
    return any(len(a) >= 5 and len(s) >= 5 and (s.startswith(a) or a.startswith(s))
               and abs(len(s) - len(a)) <= (5 if min(len(a), len(s)) >= 7 else 3) for a in alts for s in stems)


def coverage(subjects: Subjects, stems: set[str] | frozenset[str]) -> float:
    """IDF-weighted share of the subject words found among `stems` (1.0 when there are none)."""
    total = sum(s.weight for s in subjects)
    return sum(s.weight for s in subjects if not s.matching.isdisjoint(stems)) / total if total else 1.0


def subject(index: Index, word: str, weight: float, forms: set[str] | frozenset[str]) -> Subject:
    """A Subject with its matching corpus stems found once (via a prefix table), not per sentence."""
    found = set(forms)
    for form in forms:
        if len(form) >= 5:
            found |= {t for t in index.stems_by_prefix.get(form[:5], ()) if matches(frozenset([form]), {t})}
    return Subject(word, weight, frozenset(forms), frozenset(found))


def important(question: str, words: Sequence[str], embed: Embed, qvec: np.ndarray | None = None) -> list[str]:
    """The words (or runs of adjacent words) whose removal changes the question's meaning.

    `qvec`, the question's own vector when the caller has it, saves embedding the question again.
    """
    groups = runs(question, words)
    if not groups:
        return []
    vectors = embed([drop_words(question, g) for g in groups] + ([question] if qvec is None else []))
    qvec = vectors[-1] if qvec is None else qvec.reshape(-1)
    return [" ".join(g) for i, g in enumerate(groups) if float(qvec @ vectors[i]) < LIGHT_ABLATION]


def corpus_forms(word: str, stem: str, index: Index, synonyms: Synonyms,
                 phrase_hits: dict[str, set[str]]) -> set[str]:
    """Corpus stems that stand for the word: itself, synonyms, or another form of it."""
    vocab = index.lexical.vocab
    forms = {t for phrase in synonyms.expand(word) for t in tokenize(phrase) if t in vocab}
    if stem in vocab:
        forms.add(stem)
    forms |= {t for t in phrase_hits.get(stem, ()) if t in vocab}
    if not forms and len(stem) >= 5:
        root = stem[:max(5, len(stem) - 3)]
        forms = {t for t in vocab if t.startswith(root) and abs(len(t) - len(stem)) <= 4}
    return forms


@dataclass(frozen=True)
class SubjectCheck:
    subjects: Subjects  # what the answer should be about, weighted by rarity
    missing: tuple[str, ...]  # subject words no source mentions: abstain
    context: Subjects = ()  # what the earlier questions were about (half weight; never required)

    def with_context(self, earlier: Subjects) -> "SubjectCheck":
        own = {s.forms for s in self.subjects}
        extra = tuple(Subject(s.word, s.weight / 2, s.forms, s.matching) for s in earlier if s.forms not in own)
        return SubjectCheck(self.subjects, self.missing, extra)

    def with_missing(self, words: Sequence[str]) -> "SubjectCheck":
        return SubjectCheck(self.subjects, (*self.missing, *words), self.context) if words else self


@dataclass(frozen=True)
class SubjectPlan:
    """A question's subject words the corpus knows, and the words it lacks, still to be judged.

    Planning needs no model, so the caller can embed the unknown words in the same call as the
    question; the question without a word (`ablated`) is embedded only when that word needs it.
    >>> plan.unknown, plan.ablated                                   # doctest: +SKIP
    (('epilepsy',), ('Is LDN safe in  ?',))
    """
    question: str
    subjects: tuple[Subject, ...]
    unknown: tuple[str, ...] = ()  # words (or runs of adjacent words) the corpus lacks, as written
    ablated: tuple[str, ...] = ()  # the question without each of them


def told_only(question: str, subjects: Subjects, unknown: Sequence[str]) -> set[str]:
    """The unknown words only in the story around a question that stands on its own: it names two or
    more of the corpus's subjects and points at no one ("did people on LDN get more headaches or dizziness
    than on placebo?" after "I've had migraines since my teens"). The story says why it is asked;
    what is asked is covered. Not when the question points back at the story: "Is it safe for me?"

    >>> told_only("I have epilepsy. Is LDN safe for me?", [], ["epilepsy"])
    set()
    """
    intro = introduction(question)
    if intro:  # "Neurology registrar: ...": no story that "they" could point back to, only no "I"
        asking, pointing = question[len(intro):], FIRST_PERSON
    else:
        asking, pointing = asked(question), POINTS_BACK
        if len(asking.strip()) >= len(question.strip()):
            return set()
    if not asking or pointing.search(asking):
        return set()
    words = set(TOKEN.findall(asking.lower()))
    if sum(1 for s in subjects if s.word in words and not s.forms & ANCHOR_STEMS) < MIN_ASKED_SUBJECTS:
        return set()
    return {w for w in unknown if w not in words}


def one_alternative(question: str, subjects: Subjects, unknown: Sequence[str]) -> set[str]:
    """Unknown words of one alternative when the other holds a word the sources know: one is enough to
    answer ("Is CRPS nerve pain or joint pain?" is answered by a sentence calling it nerve pain).

    >>> nerve = Subject("nerve", 3.0, frozenset({"nerv"}))
    >>> sorted(one_alternative("Is CRPS counted as nerve pain or as joint pain?", [nerve], ["joint"]))
    ['joint']
    >>> sorted(one_alternative("Is it safe with wine or beer?", [], ["wine", "beer"]))
    []
    """
    known = {s.word for s in subjects} - COUNTS  # "a glass of wine or two": not an alternative
    out: set[str] = set()
    for left, right in ALTERNATIVE.findall(question.lower()):
        a, b = WORD.findall(left), WORD.findall(right)
        # One word each ("at night or in the morning"), or phrases alike but for one part ("nerve pain or
        # joint pain"); not "pregnancy tests or the pill", which asks about both.
        a, b = ({a[-1]}, {b[0]}) if set(a).isdisjoint(set(b) - STOPWORDS) else (set(a), set(b))
        for side, other in ((a - b, b - a), (b - a, a - b)):
            if other & known and not other & set(unknown):
                out |= side & set(unknown)
    return out


def plan_subjects(question: str, index: Index, synonyms: Synonyms) -> SubjectPlan:
    words = subject_words(question, names_in(question, index))
    phrase_hits = synonyms.phrase_stems(question)
    compounds = unknown_compounds(question, index) if "-" in question else set()
    reporters = reported_by(question)  # "my dermatologist mentioned...": need not be in the sources
    subjects: Subjects = []
    unknown: list[str] = []
    for word, stem in words:
        forms = set() if word in compounds else corpus_forms(word, stem, index, synonyms, phrase_hits)
        if forms:
            subjects.append(subject(index, word, max(idf(index, f) for f in forms), forms))
        elif word not in reporters:
            unknown.append(word)
    unknown = [w for w in unknown if w not in one_alternative(question, subjects, unknown)]
    story = told_only(question, subjects, unknown) if unknown else set()
    unknown = [w for w in unknown if w not in story]
    groups = runs(question, unknown) if unknown else []
    return SubjectPlan(question, tuple(subjects), tuple(" ".join(g) for g in groups),
                       tuple(drop_words(question, g) for g in groups))


def near_subjects(plan: SubjectPlan, index: Index, vectors: dict[str, np.ndarray]) -> tuple[Subjects, list[int]]:
    """The known subjects plus unknown words close in meaning to a corpus word ("sleepy" for "sleep");
    and the positions in `plan.unknown` of the words that remain unknown."""
    subjects, rest = list(plan.subjects), []
    for i, word in enumerate(plan.unknown):
        wvec = vectors[word]
        near = int(np.argmax(index.word_vectors @ wvec)) if len(index.words) else -1
        if near >= 0 and " " not in word and float(index.word_vectors[near] @ wvec) >= NEAR_WORD:
            stem = tokenize(index.words[near], keep_stopwords=True)
            subjects.append(subject(index, word, idf(index, stem[0]) if stem else 1.0, set(stem)))
        else:
            rest.append(i)
    return subjects, rest


def judge_subjects(plan: SubjectPlan, index: Index, vectors: dict[str, np.ndarray],
                   qvec: np.ndarray | None, embed: Embed) -> SubjectCheck:
    """Decide each unknown word from its vector (in `vectors`) and `qvec`, the question's own.

    A word close in meaning to a corpus word stands for it. One close to the question as a whole
    (>= LIGHT_WORD) names its subject: `missing`. Any other is light, and ignored, when dropping it
    barely changes the question; only those words need the question without them embedded (`embed`),
    and only when no word is missing yet (one missing word is enough to abstain).
    """
    subjects, rest = near_subjects(plan, index, vectors)
    if not rest:
        return SubjectCheck(subjects, ())
    if qvec is None:
        raise ValueError("judging an unknown word needs the question's vector")
    qvec = qvec.reshape(-1)
    always = subject_words_always()
    missing = [plan.unknown[i] for i in rest if float(vectors[plan.unknown[i]] @ qvec) >= LIGHT_WORD
               or not always.isdisjoint(plan.unknown[i].split())]
    undecided = [i for i in rest if plan.unknown[i] not in missing]
    if undecided and not missing:
        ablated = embed([plan.ablated[i] for i in undecided])
        missing = [plan.unknown[i] for i, vec in zip(undecided, ablated) if float(vec @ qvec) < LIGHT_ABLATION]
    return SubjectCheck(subjects, tuple(missing))


def check_subjects(question: str, index: Index, synonyms: Synonyms, embed: Embed,
                   qvec: np.ndarray | None = None) -> SubjectCheck:
    """`plan_subjects` and `judge_subjects` with model calls of their own (none if nothing is unknown)."""
    plan = plan_subjects(question, index, synonyms)
    if not plan.unknown:
        return SubjectCheck(list(plan.subjects), ())
    texts = list(dict.fromkeys([*plan.unknown, *([question] if qvec is None else [])]))
    vectors = dict(zip(texts, embed(texts)))
    return judge_subjects(plan, index, vectors, vectors[question] if qvec is None else qvec, embed)
