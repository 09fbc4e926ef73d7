"""The Python API: `Assistant.load(...)` once, then `assistant.ask(question, history)` per question.

    >>> from ldnqa import Assistant                                   # doctest: +SKIP
    >>> a = Assistant.load(corpus_dir="corpus", index_dir="index")    # doctest: +SKIP
    >>> a.ask("What dose is used?").to_dict()["citations"][0]["title"]  # doctest: +SKIP

The stages run in the order of the data flow: triage (urgent?), query (synonyms, conversation),
embedding, retrieval, composition, and the notice.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .combinations import unsupported_combinations
from .compose import DISCLAIMER, Composition, compose
from .config import Settings
from .coverage import SubjectPlan, idf, judge_subjects, near_subjects, plan_subjects
from .embedding import Embedder, SentenceTransformerEmbedder, single_threaded_blas
from .errors import InputError
from .indexing import Index, Log, stderr_log
from .lexical import tokenize
from .loading import Corpus, load_corpus
from .phrases import unwritten_phrases
from .query import Query, Synonyms, build_query, synonyms_from
from .retrieval import retrieve
from .spelling import Speller, load_english, stem
from .store import load_or_build
from .triage import load_examples, sentences_of, triage, with_earlier_turn
from .triage_model import load_model
from .types import Answer, Document

# Words that name what a conversation is about; a follow-up without any borrows them from earlier turns.
ANCHORS = frozenset(tokenize(
    "ldn naltrexone fibromyalgia fibro pregabalin lyrica gabapentin neurontin opioid opiate "
    "crohn sclerosis irritable bowel crps regional trial study studies review meta-analysis glia glial "
    "microglia astrocytes endorphins cytokines"))
FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|ive|me|my|myself|we|our)\b", re.I)
WORD_CACHE = 4096  # vectors of subject words kept (about 1.5 MB at 384 dimensions)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]")


class Library:
    """The corpus and its index without the model: what the web pages read (documents, passage
    counts, skipped files). The web process holds one when engine processes answer (`engines.py`)."""

    def __init__(self, index: Index, corpus: Corpus) -> None:
        self.index = index
        self.corpus = corpus

    @classmethod
    def load(cls, corpus_dir: str | Path = "corpus", index_dir: str | Path = "index",
             settings: Settings | None = None, log: Log = stderr_log) -> "Library":
        """Load the corpus and its index; the model is loaded only if the index must be (re)built."""
        settings = settings or Settings.from_env()
        corpus, index = load_parts(corpus_dir, index_dir, SentenceTransformerEmbedder(settings.model),
                                   settings, log)
        return cls(index, corpus)

    @property
    def documents(self) -> tuple[Document, ...]:
        return tuple(self.corpus.documents)

    def document(self, doc_id: str) -> Document | None:
        return self.index.documents.get(doc_id)

    @property
    def passage_counts(self) -> dict[str, int]:
        counts = {d.id: 0 for d in self.corpus.documents}
        for chunk in self.index.chunks:
            counts[chunk.doc_id] += 1
        return counts

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return list(self.corpus.skipped)


def load_parts(corpus_dir: str | Path, index_dir: str | Path, embedder: Embedder, settings: Settings,
               log: Log) -> tuple[Corpus, Index]:
    """The corpus and its index, building or refreshing the index when the corpus changed."""
    single_threaded_blas()
    corpus = load_corpus(corpus_dir)
    for path, reason in corpus.skipped:
        log(f"Skipped {path}: {reason}")
    return corpus, load_or_build(corpus, Path(index_dir), embedder, settings, log)


class Assistant(Library):
    def __init__(self, index: Index, embedder: Embedder, settings: Settings, corpus: Corpus) -> None:
        super().__init__(index, corpus)
        self.embedder = embedder
        self.settings = settings
        self.synonyms = synonyms_from(settings.synonyms)
        examples = load_examples(settings.urgent_examples)
        self.urgent_examples = {c: embedder.embed(lines) for c, lines in examples.items()}
        self.urgency_model = load_model(settings.urgent_model, embedder.name, embedder.dim)
        # Corpus words, the commoner preferred when a typo is one edit from two ("efects": effects).
        self.speller = Speller.from_words({w: -idf(index, stem(w)) for w in index.words},
                                          load_english(settings.english_words))
        self._words: dict[str, np.ndarray] = {}  # subject word -> vector (see `_embed_once`); not questions
        self._words_lock = threading.Lock()

    @classmethod
    def load(cls, corpus_dir: str | Path = "corpus", index_dir: str | Path = "index",
             embedder: Embedder | None = None, settings: Settings | None = None,
             log: Log = stderr_log) -> "Assistant":
        """Load the corpus and its index, building or refreshing the index when the corpus changed."""
        settings = settings or Settings.from_env()
        embedder = embedder or SentenceTransformerEmbedder(settings.model)
        corpus, index = load_parts(corpus_dir, index_dir, embedder, settings, log)
        return cls(index, embedder, settings, corpus)

    # --- answering -----------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer one question; `history` holds the user's earlier questions, oldest first."""
        typed = self.clean(question)
        question, misspelt = self.speller.correct(typed)  # "side efects": the corpus's "side effects"
        history = [self.speller.correct(h)[0] for h in
                   (self.clean(h, strict=False) for h in self._history(history)) if h]
        query = build_query(question, history, self.synonyms, ANCHORS)
        plan = plan_subjects(question, self.index, self.synonyms)
        earlier = plan_subjects(query.context, self.index, self.synonyms) if query.context else None
        sentences = sentences_of(question)
        vectors = self._embed_once(question, query, plan, earlier, sentences)
        vector, plain = vectors[query.text], vectors.get(question)  # search text; question as written
        parts = [vectors[s] for s in sentences]
        urgency = triage(question, self.settings.urgent_patterns, vectors[judged_text(question, query)],
                         self.urgent_examples, np.array(parts) if parts else None, self.urgency_model)
        if not urgency.urgent and history:
            urgency = with_earlier_turn(question, history[-1], self.settings.urgent_patterns)
        if "self-harm" in urgency.categories:  # nothing from a drug leaflet helps here: the message alone
            return Answer(typed, "", True, True, f"{urgency.message}\n\n{DISCLAIMER}")
        hits = retrieve(self.index, query, vector, self.settings, self.settings.passages)
        check = judge_subjects(plan, self.index, vectors, plain, self.embedder.embed)
        if earlier:  # what the conversation was about counts too, at half weight
            check = check.with_context(near_subjects(earlier, self.index, vectors)[0])
        phrases = [p for p in unwritten_phrases(question, self.index)  # "drug testing"; not "heart" twice
                   if not set(p.split()) & set(check.missing)]
        check = check.with_missing(unsupported_combinations(question, check.subjects, self.index) + phrases)
        result = compose(self.index, query, vector, hits, check, self.settings, self.embedder.embed, plain)
        return Answer(typed, result.text, result.abstained, urgency.urgent,
                      notice(urgency.message, result, misspelt), result.citations, result.notes)

    def _embed_once(self, question: str, query: Query, plan: SubjectPlan,
                    earlier: SubjectPlan | None, sentences: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Every text a question needs from the model, by text, in one call (a call costs ~2 ms itself).

        Always the search text (the question plus synonyms and context); the `sentences` of a message
        of several, for triage; the question as written when it differs and is needed (a first-person
        statement for triage, unknown words to judge); the words the corpus lacks, here and in the
        earlier turns, unless an earlier question already embedded them (kept: see WORD_CACHE).
        """
        words = list(dict.fromkeys([*plan.unknown, *(earlier.unknown if earlier else ())]))
        with self._words_lock:  # the same few words ("pregnancy", "alcohol") come back question after question
            known = {w: self._words[w] for w in words if w in self._words}
        texts = [query.text, *sentences, *([question] if statement(question) or plan.unknown else [])]
        texts = list(dict.fromkeys(texts + [w for w in words if w not in known]))
        vectors = dict(zip(texts, self.embedder.embed(texts)))
        with self._words_lock:
            for word in words:
                if word not in known and WORD_CACHE > 0:
                    if len(self._words) >= WORD_CACHE:  # oldest out
                        del self._words[next(iter(self._words))]
                    self._words[word] = vectors[word]
        return {**known, **vectors}

    def clean(self, text: object, strict: bool = True) -> str:
        """Normalise a question; InputError (a message for the user) when it cannot be answered."""
        if not isinstance(text, str):
            raise InputError("A question must be text.")
        text = unicodedata.normalize("NFC", text.replace("\t", " ").replace("\r", " ").replace("\n", " "))
        text = re.sub(r"\s+", " ", CONTROL.sub("", text)).strip()
        limit = self.settings.max_question_chars
        if strict and not text:
            raise InputError("Please type a question.")
        if len(text) > limit:
            if strict:
                raise InputError(f"Questions are limited to {limit} characters; please shorten yours.")
            text = text[:limit]
        return text

    def _history(self, history: Sequence[str]) -> list[str]:
        if isinstance(history, str) or not isinstance(history, (list, tuple)):
            raise InputError("history must be a list of earlier questions.")
        return [h for h in history[-self.settings.max_history:] if isinstance(h, str)]


def judged_text(question: str, query: Query) -> str:
    """The text whose vector triage judges: a statement ("I took...") as written, else the search text."""
    return question if statement(question) else query.text


def triage_texts(synonyms: Synonyms) -> Callable[[str], list[str]]:
    """For fitting the urgency model: the texts `ask` judges a new message by (see triage_model)."""
    def texts(message: str) -> list[str]:
        return [judged_text(message, build_query(message, [], synonyms, ANCHORS)), *sentences_of(message)]
    return texts


def statement(question: str) -> bool:
    """A first-person statement ("I took two doses"), not a question."""
    return bool(FIRST_PERSON.search(question)) and not question.rstrip().endswith("?")


def notice(urgent_message: str, result: Composition, misspelt: Sequence[tuple[str, str]] = ()) -> str:
    """The urgent-care message first, then why we abstained, how a misspelt word was read, and what
    this information is."""
    parts = [urgent_message] if urgent_message else []
    if result.abstained:
        parts.append(f"{result.reason} The passages below are the closest the sources come; "
                     "please check them, or ask your doctor or pharmacist.")
    if misspelt:
        parts.append("Read " + ", ".join(f"“{typed}” as “{meant}”" for typed, meant in misspelt) + ".")
    parts += list(result.notes)
    parts.append(DISCLAIMER)
    return "\n\n".join(parts)
