"""Rendering for the web page: escaping, citation cards, markers, notices and the document viewer."""
from __future__ import annotations

import re

import pytest
from starlette.datastructures import QueryParams
from web_support import STUB_TEXT, StubAssistant

from ldnqa.html import (DISCLAIMER, answer_panel, citation_card, clean_quotes, doc_href,
                        document_page, kind_line, marked, original_links, parse_viewer_query)
from ldnqa.ui import answer_markdown, chat_messages, escape_markdown, link_markers

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def stub_answer(question: str = "How much did pain fall?") -> dict:
    return StubAssistant().ask(question).to_dict()


def test_escape_markdown_neutralises_html_and_markdown():
    out = escape_markdown(EVIL + " **bold** [link](javascript:x) `code`\n# heading\n1. item")
    assert "<" not in out and ">" not in out
    assert "\\*\\*bold\\*\\*" in out and "\\[link\\]" in out and "\\`code\\`" in out
    assert "\n\\# heading" in out and "\n1\\. item" in out


def test_markers_become_links_to_the_viewer_for_known_citations_only():
    answer = stub_answer()
    text = link_markers("Pain fell. [1] Unknown [7]. Already [1](x)", answer["citations"])
    c = answer["citations"][0]
    (a, b), = c["quotes"]
    href = f"/doc/stub-study?start={c['start']}&end={c['end']}&q={a}-{b}#passage"
    assert f"[\\[1\\]]({href} \"Source 1: Stub <b>study</b>\")" in text
    assert "Unknown [7]" in text and "Already [1](x)" in text


def test_urgent_notice_comes_before_the_answer():
    answer = stub_answer("I have chest pain now")
    md = answer_markdown({**answer, "notice": f"Call your doctor now.\n\n{DISCLAIMER}"})
    assert md.startswith("> ⚠️ **Urgent:** Call your doctor now")
    assert md.index("Urgent") < md.index("Pain fell")
    assert DISCLAIMER not in md  # the standing note is on the page already


def test_plain_answer_leaves_out_the_standing_disclaimer():
    md = answer_markdown({**stub_answer(), "notice": DISCLAIMER})
    assert md.startswith("Pain fell by 30% on LDN. [\\[1\\]](/doc/stub-study")


def test_html_in_document_text_is_escaped_in_the_answer():
    md = answer_markdown({**stub_answer(), "answer": "P < 0.05 & " + EVIL + " [1]"})
    assert "<img" not in md and "<script>" not in md and "P &lt; 0.05 &amp; &lt;img" in md
    assert "[\\[1\\]](/doc/stub-study" in md


def test_abstention_without_text_still_says_so():
    md = answer_markdown({"answer": "", "abstained": True, "urgent": False, "notice": DISCLAIMER,
                          "citations": []})
    assert md == "The sources do not answer this question."


def test_chat_messages_escape_the_question():
    messages = chat_messages([{**stub_answer(), "question": EVIL}], pending="<b>next</b>")
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "<" not in messages[0]["content"] and "<" not in messages[2]["content"]


def test_citation_card_shows_kind_reference_and_marks_the_quote():
    assistant = StubAssistant()
    citation = stub_answer()["citations"][0]
    card = citation_card(citation, assistant.doc.meta)
    assert "<mark>Pain fell by 30% on LDN.</mark>" in card
    assert "&lt;small&gt; trial &amp; more" in card and "<small>" not in card
    assert "Stub &lt;b&gt;study&lt;/b&gt;" in card
    assert "Study summary · pilot trial · 2020" in card and "Doe J. Stub J. 2020" in card
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/12345/"' in card
    assert 'href="https://doi.org/10.1000/stub.1"' in card
    assert card.count('href="/doc/stub-study?') == 2


def test_card_survives_hostile_citation_fields():
    card = citation_card({"id": '1" onmouseover="x', "doc_id": "../etc/passwd", "title": EVIL,
                          "text": EVIL, "start": "a", "end": None, "quotes": [[1, "b"], "zz"],
                          "url": "javascript:alert(1)", "kind": EVIL}, {"pmid": "1; DROP", "doi": EVIL})
    assert "<script>" not in card and "<img" not in card and 'onmouseover="x' not in card
    assert "javascript:" not in card and "pubmed" not in card and "doi.org" not in card
    assert 'href="/doc/..%2Fetc%2Fpasswd"' in card


def test_answer_panel_urgent_is_an_alert_first_and_abstention_says_so():
    urgent = answer_panel({**stub_answer(), "urgent": True, "notice": "Go to <b>A&E</b> now."}, {})
    assert urgent.index('role="alert"') < urgent.index("cite-card")
    assert "Go to &lt;b&gt;A&amp;E&lt;/b&gt; now." in urgent
    abstained = answer_panel({**stub_answer(), "abstained": True, "notice": DISCLAIMER}, {})
    assert "The sources do not answer this question. Nearest passages (1)" in abstained
    assert "role=\"alert\"" not in abstained
    assert "Ask a question" in answer_panel(None, {})


@pytest.mark.parametrize("quotes, expected", [
    ([[5, 10], [8, 12], [20, 25]], [(5, 10), (20, 25)]),  # overlaps dropped
    ([[0, 5]], []), ([[5, 31]], []),  # outside the passage
    ([[10, 10]], []), ([[True, 12]], []), ("x", []), (None, []),
])
def test_clean_quotes(quotes, expected):
    assert clean_quotes(quotes, 5, 30) == expected


def test_marked_escapes_between_marks():
    assert marked("a<b>c&d", 10, [(12, 15)]) == "a&lt;<mark>b&gt;c</mark>&amp;d"


def test_doc_href_and_links():
    assert doc_href("x y/z") == "/doc/x%20y%2Fz"
    assert doc_href("d", 5, 2) == "/doc/d"  # end before start: no highlight
    pubmed = "https://pubmed.ncbi.nlm.nih.gov/123/"
    assert original_links({"pmid": "123", "doi": "10.1234/ab(c)"}, pubmed) == [
        ("PubMed", pubmed), ("DOI", "https://doi.org/10.1234/ab(c)")]  # the same URL only once
    assert original_links({"url": "http://example.org/a"}) == [("Original web page", "http://example.org/a")]
    assert original_links({"pmid": "abc", "doi": "javascript:x", "url": "javascript:x"}) == []


def test_kind_line():
    assert kind_line("web-article", {}) == "Web article"
    assert kind_line("study-summary", {"design": "crossover trial", "year": 2013, "participants": 31}) == (
        "Study summary · crossover trial · 2013 · 31 participants")


def test_document_page_escapes_and_highlights_the_passage():
    doc = StubAssistant().doc
    start, end = STUB_TEXT.index("Low-dose"), STUB_TEXT.index("\n\nThe end")
    quote = STUB_TEXT.index("Pain fell")
    html = document_page(doc, 2, start, end, [(quote, quote + 9)])
    assert '<span id="passage" class="passage" tabindex="-1">Low-dose naltrexone was tested in a ' \
           '&lt;small&gt; trial &amp; more. <mark>Pain fell</mark>' in html
    assert '<span class="heading"># Stub study</span>' in html
    assert "<title>Stub &lt;b&gt;study&lt;/b&gt; – ldnqa</title>" in html
    assert re.search(r"<dt>Passages</dt><dd>2</dd>", html)
    plain = document_page(doc, 2, None, None, [])
    assert 'id="passage"' not in plain


def test_parse_viewer_query_ignores_nonsense():
    params = QueryParams("start=10&end=40&q=12-20&q=30-50&q=bad&q=1-2")
    assert parse_viewer_query(params, 100) == (10, 40, [(12, 20)])
    assert parse_viewer_query(QueryParams("start=10&end=400"), 100) == (None, None, [])
    assert parse_viewer_query(QueryParams("start=-1&end=4"), 100) == (None, None, [])
    assert parse_viewer_query(QueryParams(""), 100) == (None, None, [])
