"""Stage 6: compose a cited, extractive answer from the retrieved passages, or abstain.

Every sentence of an answer is a verbatim span of a document, followed by the marker of the citation
whose passage contains it. Nothing else is written into `answer`; all wording of our own goes into
`notice`, which says why we abstained and that this is not medical advice.

Two checks decide whether to answer at all:
1. Coverage: each subject word of the question (not a generic word like "usually") must occur in the
   corpus, directly, through a synonym, or as a close word form. "Is LDN safe in epilepsy?" fails:
   no source mentions epilepsy, so any answer would be about something nearby.
2. Support: some candidate sentence must be close in meaning to the question and contain most of its
   subject words. This catches subjects the corpus mentions only in passing.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import DATA_DIR, Settings
from .indexing import Index
from .lexical import STOPWORDS, TOKEN, tokenize
from .query import Query, Synonyms
from .types import Citation, Hit, Sentence

DISCLAIMER = ("This is information from the listed sources, not medical advice; "
              "talk to your doctor or pharmacist about your own treatment.")
MIN_SUPPORT = 0.42  # best sentence similarity below this: the sources do not answer the question
MIN_FOCUS = 0.5  # share of subject words a supporting sentence must contain
NEAR_DUPLICATE = 0.86  # sentence-vector cosine above which two sentences say the same thing


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    text = (DATA_DIR / "generic_words.txt").read_text(encoding="utf-8")
    words = [w for line in text.splitlines() if not line.startswith("#") for w in line.split()]
    return frozenset(tokenize(" ".join(words), keep_stopwords=True)) | frozenset(words)


@dataclass(frozen=True)
class Candidate:
    sentence: int  # index into Index.sentences
    hit: int  # rank of its passage among the hits
    similarity: float  # cosine(question, sentence)
    focus: float  # share of the question's subject words it contains (IDF-weighted)
    score: float


@dataclass(frozen=True)
class Composition:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    reason: str  # why it abstained, for the notice ("" when it answered)


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


def known(word: str, stem: str, index: Index, synonyms: Synonyms) -> list[str]:
    """The corpus stems that stand for this word: itself, its synonyms, or a close word form."""
    vocab = index.lexical.vocab
    if stem in vocab:
        return [stem]
    via = [t for phrase in synonyms.expand(word) for t in tokenize(phrase) if t in vocab]
    if via:
        return via
    if len(stem) >= 5:  # "sleepy" ~ "sleep", "nauseous" ~ "nausea": same root, other ending
        root = stem[:max(5, len(stem) - 3)]
        return [t for t in vocab if t.startswith(root) and abs(len(t) - len(stem)) <= 4][:5]
    return []


def idf(index: Index, stem: str) -> float:
    term = index.lexical.vocab.get(stem)
    df = int(index.lexical.ptr[term + 1] - index.lexical.ptr[term]) if term is not None else 0
    return math.log(1 + (index.lexical.n_docs + 1) / (df + 0.5))


def candidates(index: Index, hits: Sequence[Hit], qvec: np.ndarray,
               subjects: list[tuple[float, set[str]]]) -> list[Candidate]:
    """Score every quotable sentence of the retrieved passages."""
    by_chunk: dict[int, list[int]] = {}
    for i, s in enumerate(index.sentences):
        by_chunk.setdefault(s.chunk, []).append(i)
    rank = {h.chunk: r for r, h in enumerate(hits)}
    ids = [i for h in hits for i in by_chunk.get(h.chunk, [])]
    if not ids:
        return []
    sims = index.sentence_vectors[ids] @ qvec.reshape(-1)
    ctx = {h.chunk: float(index.chunk_vectors[h.chunk] @ qvec.reshape(-1)) for h in hits}
    total = sum(w for w, _ in subjects) or 1.0
    out = []
    for i, sim in zip(ids, sims):
        sent = index.sentences[i]
        heading = index.chunks[sent.chunk].heading
        stems = set(tokenize(sent.text)) | set(tokenize(heading))
        focus = sum(w for w, alts in subjects if alts & stems) / total if subjects else 1.0
        r = rank[sent.chunk]
        score = float(sim) + 0.3 * ctx[sent.chunk] + 0.25 * focus - 0.01 * r
        out.append(Candidate(i, r, float(sim), focus, score))
    return sorted(out, key=lambda c: -c.score)


def select(index: Index, ranked: list[Candidate], settings: Settings) -> list[Candidate]:
    """The best sentences: close to the best score, no near-duplicates, at most `max_sentences`."""
    if not ranked:
        return []
    best = ranked[0].score
    chosen: list[Candidate] = []
    for cand in ranked:
        if len(chosen) >= settings.max_sentences or cand.score < best - 0.18:
            break
        if cand.focus < min(MIN_FOCUS, ranked[0].focus):
            continue
        vec = index.sentence_vectors[cand.sentence]
        if any(float(vec @ index.sentence_vectors[c.sentence]) > NEAR_DUPLICATE for c in chosen):
            continue
        chosen.append(cand)
    return chosen


def compose(index: Index, query: Query, qvec: np.ndarray, hits: Sequence[Hit], synonyms: Synonyms,
            settings: Settings) -> Composition:
    words = subject_words(query.question)
    subjects, missing = [], []
    for word, stem in words:
        alts = known(word, stem, index, synonyms)
        if not alts:
            missing.append(word)
        else:
            subjects.append((max(idf(index, a) for a in alts), set(alts)))
    ranked = candidates(index, hits, qvec, subjects)
    if missing:
        return abstain(index, hits, "The sources do not mention " + _quote_list(missing) + ".")
    supported = [c for c in ranked if c.similarity >= MIN_SUPPORT and c.focus >= MIN_FOCUS]
    if not supported:
        return abstain(index, hits, "The sources do not answer this question.")
    chosen = select(index, supported, settings)
    return cite(index, chosen)


def _quote_list(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in dict.fromkeys(words)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def cite(index: Index, chosen: list[Candidate]) -> Composition:
    """Number the passages in order of first use and write each sentence with its marker."""
    numbers: dict[int, int] = {}
    quotes: dict[int, list[Sentence]] = {}
    lines = []
    for cand in chosen:
        sent = index.sentences[cand.sentence]
        n = numbers.setdefault(sent.chunk, len(numbers) + 1)
        quotes.setdefault(sent.chunk, []).append(sent)
        lines.append(f"{sent.text} [{n}]")
    scores = {index.sentences[c.sentence].chunk: c.score for c in chosen}
    citations = tuple(citation(index, chunk, n, scores[chunk], quotes[chunk]) for chunk, n in numbers.items())
    return Composition("\n\n".join(lines), citations, False, "")


def abstain(index: Index, hits: Sequence[Hit], reason: str, nearest: int = 3) -> Composition:
    """No answer; the nearest passages are still cited so the user can look for themselves."""
    citations = tuple(citation(index, h.chunk, n, h.score, []) for n, h in enumerate(hits[:nearest], 1))
    return Composition("", citations, True, reason)


def citation(index: Index, chunk_id: int, number: int, score: float, quoted: list[Sentence]) -> Citation:
    chunk = index.chunks[chunk_id]
    doc = index.documents[chunk.doc_id]
    meta = doc.meta
    return Citation(id=number, doc_id=doc.id, title=doc.title, kind=doc.kind, reference=doc.reference,
                    text=chunk.text, start=chunk.start, end=chunk.end, page=chunk.page, score=score,
                    evidence=str(meta.get("evidence") or ""), year=_int(meta.get("year")),
                    participants=_int(meta.get("participants")), condition=str(meta.get("condition") or ""),
                    url=source_url(meta), quotes=tuple(sorted((s.start, s.end) for s in quoted)))


def source_url(meta: dict) -> str:
    if meta.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{str(meta['pmid']).strip()}/"
    if meta.get("doi"):
        return f"https://doi.org/{str(meta['doi']).strip()}"
    return str(meta.get("url") or "")


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None and str(value).strip() else None
    except (TypeError, ValueError):
        return None
