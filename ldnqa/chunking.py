"""Stage 2: split a Document into quotable sentences and pack them into passages (Chunks).

Pure text processing: no model, no I/O. Every span is a pair of offsets into `Document.text`.

The text is read line by line as Markdown: `#` headings start a section (the chunk keeps its heading),
`- ` items and `|` table rows are units of their own, other lines form paragraphs that are split into
sentences. A short list right after a line ending in ":" is quoted together with that line, because the
items mean nothing alone:

    >>> text = "Side effects include:\\n- Nausea\\n- Headaches\\n\\nThey pass. Most people cope."
    >>> [text[s:e] for s, e, _ in units(text)]
    ['Side effects include:\\n- Nausea\\n- Headaches', 'They pass.', 'Most people cope.']
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Chunk, Document

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+\u2022\u2013]|\d{1,3}[.)])[ \t]+")
REFERENCE_SECTION = re.compile(r"^(references?|resources|sources|bibliography|further reading)\b", re.I)
LEAD_IN = re.compile(r":(?:\d{1,2}(?:[,\-–]\d{1,2})*)?$")  # "...two mechanisms:" or "...mechanisms:2-4"
TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t:|-]+\|[ \t:|-]*$")
# Words whose trailing period does not end a sentence.
ABBREVIATIONS = {
    "al", "e.g", "i.e", "eg", "ie", "vs", "dr", "mr", "mrs", "ms", "prof", "st", "approx", "ca", "cf",
    "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "u.s", "eds", "dept",
}
NUMBER_ABBREVIATIONS = {"no", "nos", "vol", "fig", "figs", "p", "pp", "ref", "refs", "ed"}  # "No. 5", not "no."
SHORT_ITEM = 90  # list items up to this long, without a sentence end inside, travel with their lead-in
END = re.compile(r"[.!?]+[\"”’')\]]*")
CITE_DIGITS = re.compile(r"\d{1,2}(?:[,\-–]\d{1,2})*")


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    kind: str  # "sentence", or "table" / "reference": searchable, never quoted as an answer


def units(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading) of every quotable unit, in document order."""
    return [(u.start, u.end, heading) for u, heading in _units_with_headings(text)]


def _units_with_headings(text: str) -> list[tuple[Unit, str]]:
    out: list[tuple[Unit, str]] = []
    heading = ""
    para: list[tuple[int, int]] = []  # line spans of the paragraph being read
    items: list[tuple[int, int]] = []  # spans of list items directly after the paragraph

    def flush() -> None:
        out.extend((u, heading) for u in _paragraph_units(text, para, items))
        para.clear()
        items.clear()

    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        match = HEADING.match(line)
        if not stripped:
            if not items:
                flush()
            continue
        if match:
            flush()
            heading = match.group(2).strip()
        elif REFERENCE_SECTION.match(heading):
            flush()  # one entry a line: a citation is not a sentence to split, nor a claim to quote
            lead = len(line) - len(line.lstrip())
            out.append((Unit(start + lead, start + len(line.rstrip()), "reference"), heading))
        elif stripped.startswith("|"):
            flush()
            if not TABLE_RULE.match(line):
                lead = len(line) - len(line.lstrip())
                out.append((Unit(start + lead, start + len(line.rstrip()), "table"), heading))
        elif LIST_ITEM.match(line):
            items.append((start + LIST_ITEM.match(line).end(), start + len(line.rstrip())))
        else:
            if items:
                flush()
            lead = len(line) - len(line.lstrip())
            para.append((start + lead, start + len(line.rstrip())))
    flush()
    return out


def _paragraph_units(text: str, lines: list[tuple[int, int]], items: list[tuple[int, int]]) -> list[Unit]:
    """Sentences of a paragraph, then of its list; a short list joins the line that introduces it."""
    found: list[Unit] = []
    for start, end in lines:
        found += [Unit(s, e, "sentence") for s, e in split_sentences(text, start, end)]
    short = items and all(e - s <= SHORT_ITEM and not _inner_end(text[s:e]) for s, e in items)
    if short and found and LEAD_IN.search(text[found[-1].start:found[-1].end]):
        found[-1] = Unit(found[-1].start, items[-1][1], "sentence")
        return found
    for start, end in items:
        found += [Unit(s, e, "sentence") for s, e in split_sentences(text, start, end)]
    return found


def _inner_end(item: str) -> bool:
    return bool(re.search(r"[.!?]\s+\S", item))


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans within text[start:end], each trimmed of surrounding white space.

    >>> t = "Doses of 4.5 mg are used.2,3 Side effects were mild, e.g. headache. Dr. Smith agreed."
    >>> [t[s:e] for s, e in split_sentences(t, 0, len(t))]
    ['Doses of 4.5 mg are used.2,3', 'Side effects were mild, e.g. headache.', 'Dr. Smith agreed.']
    """
    spans, begin = [], start
    for match in END.finditer(text, start, end):
        stop = match.end()
        before = text[max(start, match.start() - 12):match.start()]
        if before[-1:].isalpha() or before[-1:] in ")%":
            cite = CITE_DIGITS.match(text, stop, end)
            if cite and cite.end() < end and text[cite.end()].isspace():
                stop = cite.end()  # reference numbers glued to the period: "pain.2-4 Next"
        if not _is_boundary(text, before, stop, end):
            continue
        spans.append((begin, stop))
        begin = stop
    spans.append((begin, end))
    return [trimmed for s, e in spans if (trimmed := _trim(text, s, e))]


def _is_boundary(text: str, before: str, stop: int, end: int) -> bool:
    if stop >= end or not text[stop].isspace():
        return False
    rest = text[stop:end].lstrip()
    if not rest or not (rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"“‘'(["):
        return False
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", before)
    if word:
        token = word.group(1).lower().rstrip(".")
        if token in ABBREVIATIONS or (len(word.group(1)) == 1 and word.group(1).isupper()):
            return False  # "et al.", "e.g.", initials such as "J."
        if token in NUMBER_ABBREVIATIONS and rest[0].isdigit():
            return False
    return True


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def chunk_document(doc: Document, max_chars: int, first_index: int = 0) -> list[Chunk]:
    """Pack a document's units into passages of whole units, never across a heading.

    A passage grows while it stays within `max_chars`; a single longer unit is a passage of its own.
    """
    chunks: list[Chunk] = []
    group: list[Unit] = []
    group_heading = ""

    def close() -> None:
        if group:
            start, end = group[0].start, group[-1].end
            spans = tuple((u.start, u.end) for u in group if u.kind == "sentence")
            chunks.append(Chunk(doc_id=doc.id, heading=group_heading or doc.title, start=start, end=end,
                                text=doc.text[start:end], page=doc.page_at(start), sentences=spans))
            group.clear()

    for unit, heading in _units_with_headings(doc.text):
        too_long = group and unit.end - group[0].start > max_chars
        new_page = group and doc.page_at(unit.start) != doc.page_at(group[0].start)
        if heading != group_heading or too_long or new_page:
            close()
        group_heading = heading
        group.append(unit)
    close()
    return chunks


def quotable(text: str) -> bool:
    """Units that can stand in an answer: not table rows, links, or questions ("So what is it?")."""
    stripped = text.strip()
    return (not stripped.startswith("|") and len(stripped) >= 15 and " " in stripped
            and not stripped.endswith("?") and not re.fullmatch(r"https?://\S+", stripped))
