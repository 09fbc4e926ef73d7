"""The values that flow through ldnqa, in the order they are made.

Document (loading) -> Chunk with its Sentence spans (chunking) -> Hit (retrieval)
-> Citation and Answer (composition) -> text or HTML (rendering).

All offsets are character offsets into `Document.text`, so `doc.text[start:end]` is always the exact
passage or sentence that a user is shown.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

WEB_ARTICLE = "web-article"
STUDY_SUMMARY = "study-summary"


@dataclass(frozen=True)
class Document:
    """One source: a web article, a study summary, or a PDF that staff dropped into the corpus.

    `meta` holds every front-matter field as written (year, design, evidence, participants, pmid, doi,
    cited_by, ...). `page_starts[i]` is the offset in `text` where PDF page i+1 begins.
    """

    id: str
    title: str
    kind: str
    reference: str
    text: str
    path: str
    content_hash: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    page_starts: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based PDF page holding `offset`, or None for documents without pages."""
        page = None
        for number, start in enumerate(self.page_starts, 1):
            if start <= offset:
                page = number
        return page


@dataclass(frozen=True)
class Sentence:
    """A quotable unit: one sentence, or a lead-in line together with the list it introduces."""

    doc_id: str
    chunk: int  # position of its chunk in the index
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A passage of whole sentences under one section heading."""

    doc_id: str
    heading: str
    start: int
    end: int
    text: str
    page: int | None
    sentences: tuple[tuple[int, int], ...]  # quotable sentences (start, end), document offsets


@dataclass(frozen=True)
class Hit:
    """A chunk found for a question, with its fused score and the ranks that produced it."""

    chunk: int
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered source for an answer: the whole passage (`text`) that contains the quoted sentence(s)."""

    id: int
    doc_id: str
    title: str
    kind: str
    reference: str
    text: str
    start: int
    end: int
    page: int | None
    score: float
    evidence: str = ""
    year: int | None = None
    participants: int | None = None
    condition: str = ""
    url: str = ""
    quotes: tuple[tuple[int, int], ...] = ()  # the quoted sentences, document offsets, for highlighting

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 4)
        data["quotes"] = [list(q) for q in self.quotes]
        return data


@dataclass(frozen=True)
class Answer:
    """What `Assistant.ask` returns. `answer` is Markdown whose sentences carry markers `[n]`."""

    question: str
    answer: str
    abstained: bool
    urgent: bool
    notice: str
    citations: tuple[Citation, ...] = ()
    disagreements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "urgent": self.urgent,
            "notice": self.notice,
            "citations": [c.to_dict() for c in self.citations],
        }
