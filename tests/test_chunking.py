"""Sentence splitting and passage packing, on hand-worked text: every span must slice back exactly."""
from __future__ import annotations

from ldnqa.chunking import chunk_document, quotable, split_sentences, units
from ldnqa.types import Document


def doc(text: str, page_starts: tuple[int, ...] = ()) -> Document:
    return Document(id="d", title="T", kind="document", reference="r", text=text, path="d.md",
                    content_hash="h", page_starts=page_starts)


def spans(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, 0, len(text))]


def test_sentences_keep_decimals_abbreviations_and_reference_numbers() -> None:
    text = "Doses of 4.5 mg are used.2,3 Side effects were mild, e.g. headache. Dr. Smith agreed (P = 0.016). Done!"
    assert spans(text) == ["Doses of 4.5 mg are used.2,3", "Side effects were mild, e.g. headache.",
                           "Dr. Smith agreed (P = 0.016).", "Done!"]


def test_sentence_after_a_year_and_initials() -> None:
    assert spans("It began in 2013. Younger J. et al. wrote it. Then it ended?") == [
        "It began in 2013.", "Younger J. et al. wrote it.", "Then it ended?"]


def test_lowercase_after_period_is_not_a_boundary() -> None:
    assert spans("Doses approx. three times a day. Fine.") == ["Doses approx. three times a day.", "Fine."]


def test_units_offsets_headings_and_lists() -> None:
    text = "# Title\n\n## Dose\n\nTake 4.5 mg. At night.\n\nEffects include:\n- Nausea\n- Dreams\n\n| a | b |\n|---|---|\n"
    got = [(text[s:e], h) for s, e, h in units(text)]
    assert got == [("Take 4.5 mg.", "Dose"), ("At night.", "Dose"),
                   ("Effects include:\n- Nausea\n- Dreams", "Dose"), ("| a | b |", "Dose")]


def test_long_list_items_are_units_of_their_own() -> None:
    text = "Pathways:\n- Endorphins: LDN blocks receptors briefly. Endorphins rise.\n- Glia: LDN calms glia."
    assert [text[s:e] for s, e, _ in units(text)] == [
        "Pathways:", "Endorphins: LDN blocks receptors briefly.", "Endorphins rise.", "Glia: LDN calms glia."]


def test_reference_sections_are_one_unit_a_line_and_never_quoted() -> None:
    d = doc("## Findings\n\nIt works. Mostly.\n\n## References\n\n(1) Eur J Pain. 2013 Apr;17(4):581-6. Wolfe F.\n")
    chunks = chunk_document(d, 700)
    assert [c.heading for c in chunks] == ["Findings", "References"]
    assert chunks[1].sentences == ()  # searchable text, but nothing in it is a quotable sentence
    assert "Wolfe F." in chunks[1].text


def test_chunks_pack_whole_sentences_and_slice_exactly() -> None:
    sentence = "This sentence is exactly fifty characters long ok. "
    d = doc("## A\n\n" + sentence * 5 + "\n\n## B\n\nShort one here.")
    chunks = chunk_document(d, 120)
    for c in chunks:
        assert d.text[c.start:c.end] == c.text
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end
            assert d.text[s:e].endswith(".")
    assert [len(c.sentences) for c in chunks] == [2, 2, 1, 1]  # 2 sentences fit in 120 chars
    assert chunks[-1].heading == "B"


def test_chunks_record_pdf_pages_and_never_span_two() -> None:
    text = "Page one says this. And that.\n\nPage two says more."
    d = doc(text, page_starts=(0, text.index("Page two")))
    chunks = chunk_document(d, 700)
    assert [(c.text, c.page) for c in chunks] == [("Page one says this. And that.", 1), ("Page two says more.", 2)]


def test_quotable() -> None:
    assert quotable("LDN blocks opioid receptors.")
    assert not quotable("| LDN | blocks |")
    assert not quotable("http://www.example.org/ldn")
    assert not quotable("Short.")
    assert not quotable("So what exactly is naltrexone?")


def test_no_is_an_abbreviation_only_before_a_number() -> None:
    assert spans("See No. 5 for details. They said no. Then they left.") == [
        "See No. 5 for details.", "They said no.", "Then they left."]
