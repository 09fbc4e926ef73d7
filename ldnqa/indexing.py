"""Stage 4: build the index (passages, their vectors, the lexical index) in memory.

`store.py` keeps it in `index/` and loads it back (the layout and how writes stay atomic are there).
"""
from __future__ import annotations

import hashlib
import re
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .chunking import chunk_document, quotable
from .config import Settings
from .embedding import Embedder
from .lexical import BM25, STOPWORDS, TOKEN, tokenize
from .loading import Corpus
from .types import Chunk, Document, Sentence
from .tables import SentenceTables
from .vectors import DenseIndex

Log = Callable[[str], None]


@dataclass
class Index:
    """Everything retrieval and composition need, in memory."""

    documents: dict[str, Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    lexical: BM25
    manifest: dict
    doc_vectors: np.ndarray  # one row per document, in `documents` order: its card (see doc_card)
    words: list[str]  # the corpus's vocabulary as written (lower case), for "is a word like this there?"
    word_vectors: np.ndarray
    dense: DenseIndex | None = None

    def __post_init__(self) -> None:
        if self.dense is None:
            self.dense = DenseIndex.build(self.chunk_vectors)
        self.doc_row = {doc_id: i for i, doc_id in enumerate(self.documents)}
        # Stemmed words of every unit, computed once: composition compares them on every question.
        self.card_stems = {d.id: frozenset(tokenize(doc_card(d))) for d in self.documents.values()}
        self.card_words = frozenset().union(*self.card_stems.values())  # any card's: names of studies, authors
        self.heading_stems = [frozenset(tokenize(c.heading)) for c in self.chunks]
        self.chunk_stems = [frozenset(tokenize(c.text)) for c in self.chunks]
        self.sentence_stems = [frozenset(tokenize(s.text)) for s in self.sentences]
        words: dict[str, set[str]] = {d: set() for d in self.documents}
        for chunk, stems in zip(self.chunks, self.chunk_stems):
            words[chunk.doc_id] |= stems
        self.document_stems = {d: frozenset(w) for d, w in words.items()}
        self.study_stems = {d: self.card_stems[d] | self.document_stems[d]  # what names a study
                            for d, doc in self.documents.items() if doc.kind == "study-summary"}
        self.condition_stems = {d: frozenset(tokenize(str((doc.meta or {}).get("condition") or "")))
                                for d, doc in self.documents.items()}  # what each study was about
        self.first_authors = first_authors(self.documents)  # "the Parkitny study"
        self.chunk_sentences: list[list[int]] = [[] for _ in self.chunks]  # sentence ids, in order
        self.doc_sentences: dict[str, list[int]] = {d: [] for d in self.documents}
        for i, sentence in enumerate(self.sentences):
            self.chunk_sentences[sentence.chunk].append(i)
            self.doc_sentences[sentence.doc_id].append(i)
        self.stems_by_prefix: dict[str, list[str]] = {}
        for stem in self.lexical.vocab:
            if len(stem) >= 5:
                self.stems_by_prefix.setdefault(stem[:5], []).append(stem)
        mean = self.sentence_vectors.mean(axis=0) if len(self.sentence_vectors) else np.zeros(1, np.float32)
        self.centroid = mean / (np.linalg.norm(mean) or 1.0)  # what all sentences share
        # Per question, composition reads these for every candidate sentence; unions made once here.
        # context_stems: where a sentence stands (its passage, heading and what its document is).
        self.context_stems = [stems | self.heading_stems[i] | self.card_stems[c.doc_id]
                              for i, (c, stems) in enumerate(zip(self.chunks, self.chunk_stems))]
        self.focus_stems = [stems | self.heading_stems[s.chunk] for s, stems in zip(self.sentences, self.sentence_stems)]
        self.genericness = self.sentence_vectors @ self.centroid if len(self.sentences) else np.zeros(0)
        self.tables = SentenceTables.build([s.text for s in self.sentences], [s.chunk for s in self.sentences],
                                           [self.doc_row[s.doc_id] for s in self.sentences],
                                           self.focus_stems, self.context_stems)


def surname_parts(author: object) -> list[str]:
    """The parts of an author's surname, lower case, without the initials.

    >>> surname_parts("Parkitny L"), surname_parts("Due Bruun K")
    (['parkitny'], ['due', 'bruun'])
    """
    name = re.sub(r"\s+[A-Z]{1,3}$", "", str(author))
    return [part.lower() for part in re.findall(r"[^\W\d_]{2,}", name)]


def first_authors(documents: dict[str, Document]) -> dict[str, tuple[frozenset[str], bool]]:
    """Each study's first author's surname (lower case) -> the studies, and whether the name is also an
    everyday word of the corpus (as "due" and "younger" are), so that only a capital names the study.

    >>> doc = Document("due-2024", "T", "study-summary", "ref", "Pain fell, due to chance.", "d.md", "h",
    ...                meta={"authors": ["Due Bruun K"]})
    >>> first_authors({"due-2024": doc})
    {'due': (frozenset({'due-2024'}), True), 'bruun': (frozenset({'due-2024'}), False)}
    """
    table: dict[str, set[str]] = {}
    for doc in documents.values():
        authors = (doc.meta or {}).get("authors")
        if doc.kind != "study-summary" or not isinstance(authors, list) or not authors:
            continue
        for part in surname_parts(authors[0]):
            table.setdefault(part, set()).add(doc.id)
    if not table:
        return {}
    written = {w for d in documents.values() for w in re.findall(r"\w+", d.text)}  # as written: case kept
    return {name: (frozenset(docs), name in written) for name, docs in table.items()}


def embed_text(chunk: Chunk, doc: Document) -> str:
    """What a passage's vector is made from: its heading gives it context ("What is the typical dosage?")."""
    heading = chunk.heading if chunk.heading != doc.title else ""
    return f"{doc.title}. {heading}\n{chunk.text}" if heading else f"{doc.title}.\n{chunk.text}"


def doc_card(doc: Document) -> str:
    """What a document is, in one line: lets "the 2023 Danish trial" find Bested et al. 2023.

    Title, first heading, authors, year, journal, design, evidence type, condition, dose, participants.
    """
    meta = doc.meta
    heading = next((line.lstrip("#").strip() for line in doc.text.splitlines() if line.startswith("#")), "")
    authors = meta.get("authors")
    parts = [doc.title, heading if heading != doc.title else "",
             ", ".join(map(str, authors)) if isinstance(authors, list) else str(authors or ""),
             str(meta.get("year") or ""), str(meta.get("journal") or meta.get("publisher") or ""),
             str(meta.get("design") or ""), str(meta.get("evidence") or ""), str(meta.get("condition") or ""),
             str(meta.get("dose") or ""),
             f"{meta['participants']} participants" if meta.get("participants") else ""]
    return ". ".join(p for p in parts if p)


def vocabulary(docs: list[Document]) -> list[str]:
    """Distinct words of the corpus (lower case, letters only, 3+ characters, no stop words)."""
    words = {w for d in docs for w in TOKEN.findall(d.text.lower()) if len(w) > 2 and not w.isdigit()}
    return sorted(w for w in words - STOPWORDS if w.isalpha())


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_index(corpus: Corpus, embedder: Embedder, settings: Settings,
                reuse: dict[str, tuple[np.ndarray, np.ndarray]], log: Log = stderr_log,
                reuse_words: dict[str, np.ndarray] | None = None,
                reuse_cards: dict[str, np.ndarray] | None = None) -> Index:
    """Chunk every document; embed only documents whose vectors are not reusable."""
    docs = {d.id: d for d in corpus.documents}
    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    per_doc: dict[str, tuple[list[Chunk], list[Sentence]]] = {}
    for doc in corpus.documents:
        doc_chunks = chunk_document(doc, settings.chunk_chars)
        doc_sents = []
        for chunk in doc_chunks:
            for start, end in chunk.sentences:
                text = doc.text[start:end]
                if quotable(text):
                    doc_sents.append(Sentence(doc.id, len(chunks), start, end, text))
            chunks.append(chunk)
        per_doc[doc.id] = (doc_chunks, doc_sents)
        sentences.extend(doc_sents)
    todo = [d for d in corpus.documents if d.content_hash not in reuse]
    fresh = embed_documents(todo, per_doc, embedder, log) if todo else {}
    dim = next((v[0].shape[1] for v in list(fresh.values()) + list(reuse.values())), 0)
    cvecs, svecs = [], []
    for doc in corpus.documents:
        c, s = fresh.get(doc.id) or reuse[doc.content_hash]
        cvecs.append(c)
        svecs.append(s)
    if len(todo) < len(corpus.documents):
        log(f"Reused vectors of {len(corpus.documents) - len(todo)} unchanged documents; "
            f"embedded {len(todo)}.")
    empty = np.zeros((0, dim), dtype=np.float32)
    words = vocabulary(corpus.documents)
    known_words = reuse_words or {}
    new_words = [w for w in words if w not in known_words]
    if new_words:
        log(f"Embedding {len(new_words)} vocabulary words...")
        known_words = {**known_words, **dict(zip(new_words, embedder.embed(new_words)))}
    known_cards = dict(reuse_cards or {})  # by card_key: an unchanged card keeps its vector
    new_cards = list(dict.fromkeys(doc_card(d) for d in corpus.documents if card_key(d) not in known_cards))
    if new_cards:
        known_cards.update(zip(map(text_key, new_cards), embedder.embed(new_cards)))
    cards = np.array([known_cards[card_key(d)] for d in corpus.documents], np.float32) if docs else empty
    return Index(documents=docs, chunks=chunks, sentences=sentences,
                 chunk_vectors=np.vstack(cvecs) if cvecs else empty,
                 sentence_vectors=np.vstack(svecs) if svecs else empty,
                 lexical=BM25.build([lexical_text(c, docs[c.doc_id]) for c in chunks]),
                 manifest={"model": embedder.name, "dim": dim}, doc_vectors=np.asarray(cards, np.float32),
                 words=words, word_vectors=np.array([known_words[w] for w in words], np.float32).reshape(len(words), -1))


def lexical_text(chunk: Chunk, doc: Document) -> str:
    """What BM25 indexes for a passage: the passage, its heading, and what its document is."""
    return f"{doc_card(doc)}\n{chunk.heading}\n{chunk.text}"


def embed_documents(docs: list[Document], per_doc: dict[str, tuple[list[Chunk], list[Sentence]]],
                    embedder: Embedder, log: Log) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    texts: list[str] = []
    spans: dict[str, tuple[int, int, int]] = {}
    for doc in docs:
        chunks, sents = per_doc[doc.id]
        first = len(texts)
        texts += [embed_text(c, doc) for c in chunks]
        texts += [s.text for s in sents]
        spans[doc.id] = (first, first + len(chunks), first + len(chunks) + len(sents))
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 2 or done == total:
            last[0] = time.monotonic()
            log(f"Embedding passages and sentences: {done}/{total}")

    log(f"Indexing {len(docs)} documents ({len(texts)} passages and sentences) with {embedder.name}...")
    vectors = embedder.embed(texts, progress=progress)
    return {doc_id: (vectors[a:b], vectors[b:c]) for doc_id, (a, b, c) in spans.items()}


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def card_key(doc: Document) -> str:
    """What a document card's vector is cached by: the card's text (see doc_card)."""
    return text_key(doc_card(doc))
