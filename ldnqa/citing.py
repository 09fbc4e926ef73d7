"""Stage 6c: write the answer and its numbered citations from the chosen sentences.

Passages are numbered in order of first use. Each quoted sentence is followed by the marker of the
passage it comes from; a passage quoted twice keeps one number. Findings of the strongest studies come
last, under the heading "What the studies found" (a heading is not a statement: it carries no marker).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .evidence import evidence_label, notes
from .indexing import Index
from .types import Citation, Hit, Sentence

STUDIES_HEADING = "**What the studies found**"


@dataclass(frozen=True)
class Composition:
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    reason: str  # why it abstained, for the notice ("" when it answered)
    notes: tuple[str, ...] = ()  # disagreements between the cited sources, other conditions



def quote_list(words: list[str]) -> str:
    quoted = [f"“{w}”" for w in dict.fromkeys(words)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def cite(index: Index, chosen: Sequence[int], studies: Sequence[int] = (),
         scores: dict[int, float] | None = None) -> Composition:
    """The answer for the chosen sentence ids (and study findings), with numbered citations."""
    numbers: dict[int, int] = {}
    quotes: dict[int, list[Sentence]] = {}

    def line(sentence_id: int) -> str:
        sent = index.sentences[sentence_id]
        n = numbers.setdefault(sent.chunk, len(numbers) + 1)
        quotes.setdefault(sent.chunk, []).append(sent)
        return f"{sent.text} [{n}]"

    parts = [line(i) for i in chosen]
    if studies:
        parts += [STUDIES_HEADING] + [line(i) for i in studies]
    scores = scores or {}
    citations = tuple(citation(index, chunk, n, max(scores.get(s.chunk, 0.0) for s in quotes[chunk]),
                               quotes[chunk]) for chunk, n in numbers.items())
    return Composition("\n\n".join(parts), citations, False, "", tuple(notes(citations, index.documents)))


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
                    evidence=evidence_label(meta, doc.kind), year=_int(meta.get("year")),
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
