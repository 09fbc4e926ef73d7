"""Loading the corpus folder: front matter, plain text, PDFs with pages, and files that must be skipped."""
from __future__ import annotations

from pathlib import Path

from ldnqa.chunking import chunk_document
from ldnqa.loading import load_corpus
from support import write_pdf


def test_small_corpus_loads_markdown_text_and_studies(small_corpus: Path) -> None:
    corpus = load_corpus(small_corpus)
    docs = {d.id: d for d in corpus.documents}
    assert sorted(docs) == ["ldn-basics", "notes", "trial-2020"]  # README.md is a staff note, not a document
    assert corpus.skipped == []
    assert docs["ldn-basics"].kind == "web-article" and docs["ldn-basics"].reference == "Test Clinic"
    assert docs["notes"].title == "Glia and pain" and docs["notes"].kind == "document"
    study = docs["trial-2020"]
    assert study.reference == "Doe J. J Test Med. 2020;1:1-2" and study.meta["participants"] == 30
    assert study.text.startswith("# A small randomized trial")  # front matter is not document text


def test_bad_files_are_skipped_with_reasons_and_the_rest_loads(small_corpus: Path) -> None:
    (small_corpus / "empty.md").write_text("")
    (small_corpus / "junk.md").write_bytes(b"\x00\x01\x02binary")
    (small_corpus / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (small_corpus / "badyaml.md").write_text("---\ntitle: [unclosed\n---\nBody text here.\n")
    (small_corpus / "zz-dup.md").write_text("---\nid: ldn-basics\n---\nAnother document with a used id.\n")
    (small_corpus / "corrupt.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    write_pdf(small_corpus / "locked.pdf", [["Secret text."]], encrypt=True)
    corpus = load_corpus(small_corpus)
    reasons = dict(corpus.skipped)
    assert reasons["empty.md"] == "empty file"
    assert "binary" in reasons["junk.md"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "front matter" in reasons["badyaml.md"]
    assert "duplicate id 'ldn-basics'" in reasons["zz-dup.md"]
    assert "PDF" in reasons["corrupt.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert len(corpus.documents) == 3


def test_pdf_pages_titles_and_sidecar(tmp_path: Path) -> None:
    write_pdf(tmp_path / "paper.pdf", [["Low-dose naltrexone was tested in a pilot.", "It helped some women."],
                                       ["On page two, side effects were vivid dreams."]], title="A PDF paper")
    (tmp_path / "paper.yaml").write_text("kind: study-summary\nyear: 2021\nevidence: pilot trial\n")
    doc = load_corpus(tmp_path).documents[0]
    assert doc.id == "paper" and doc.title == "A PDF paper" and doc.meta["year"] == 2021
    assert doc.kind == "study-summary" and len(doc.page_starts) == 2
    chunks = chunk_document(doc, 700)
    assert [c.page for c in chunks] == [1, 2]
    second = chunks[1]
    assert doc.text[second.start:second.end] == "On page two, side effects were vivid dreams."


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from ldnqa.errors import CorpusError

    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
