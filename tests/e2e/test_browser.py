"""End-to-end: the patients' page, the document viewer and the staff queue in headless Chromium,
with the real engine. Also takes the README screenshot (docs/screenshot.png)."""
from __future__ import annotations

import re

import pytest
from web_support import REAL_QUESTION, REPO, STAFF_PASSWORD, STAFF_USER

from ldnqa.feedback import SQLiteFeedbackStore

pytestmark = pytest.mark.slow
SCREENSHOT = REPO / "docs" / "screenshot.png"


def ask(page, question: str, *, keyboard: bool = False) -> None:
    """Ask through the page and wait until the answer is shown."""
    answers = page.locator("#chat [data-testid=bot]")
    before = answers.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    if keyboard:
        box.press("Enter")
    else:
        page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_function(f"document.querySelectorAll('#chat [data-testid=bot]').length > {before}",
                           timeout=60_000)
    page.locator("#ask-status", has_text="Answer ready.").wait_for(timeout=60_000)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def first_quote(live_app, question: str) -> tuple[dict, str]:
    """The engine's first citation for `question` and the text of its first quoted sentence."""
    citation = live_app.assistant.ask(question, history=[]).to_dict()["citations"][0]
    a, b = citation["quotes"][0]
    return citation, live_app.assistant.document(citation["doc_id"]).text[a:b]


def test_answer_shows_markers_and_citation_cards(page, live_app, watch):
    ask(page, REAL_QUESTION)
    chat = page.locator("#chat")
    marker = chat.get_by_role("link", name=re.compile(r"^\[1\]"))
    assert marker.first.is_visible()
    citation, quote = first_quote(live_app, REAL_QUESTION)
    card = page.locator("#cite-1")
    assert squash(card.locator("mark").first.inner_text()) == squash(quote)
    assert citation["title"] in squash(card.inner_text())
    assert "Study summary" in card.inner_text() or "Web article" in card.inner_text()
    disclaimer = page.get_by_role("note").filter(has_text="not medical advice")
    assert disclaimer.is_visible() and disclaimer.bounding_box()["y"] < 900
    # The answer is announced: the conversation is a polite live region.
    assert page.locator("#chat [role=log][aria-live=polite]").count() == 1
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    assert watch.dialogs == []
    outside = [u for u in watch.requests if not u.startswith((live_app.url, "data:", "blob:"))]
    assert outside == [], "the page must make no outbound requests"


def test_marker_and_card_open_the_source_with_the_passage_highlighted(page, live_app):
    ask(page, REAL_QUESTION)
    citation, quote = first_quote(live_app, REAL_QUESTION)
    with page.expect_popup() as popup_info:
        page.locator("#chat").get_by_role("link", name=re.compile(r"^\[1\]")).first.click()
    doc = popup_info.value
    doc.wait_for_load_state()
    assert f"/doc/{citation['doc_id']}" in doc.url and doc.url.endswith("#passage")
    passage = doc.locator("#passage")
    assert squash(passage.locator("mark").first.inner_text()) == squash(quote)
    box = passage.bounding_box()
    assert box is not None and 0 <= box["y"] < doc.viewport_size["height"], "passage not scrolled into view"
    assert squash(quote) in squash(doc.locator(".doc-text").inner_text())
    doc.close()

    with page.expect_popup() as popup_info:  # a click anywhere on the card opens the source too
        page.locator("#cite-1").click()  # the middle of the card: the passage text
    card_doc = popup_info.value
    card_doc.wait_for_load_state()
    assert f"/doc/{citation['doc_id']}" in card_doc.url
    if citation["kind"] == "study-summary":
        links = card_doc.get_by_role("link", name=re.compile("PubMed|DOI"))
        assert re.match(r"https://(pubmed\.ncbi\.nlm\.nih\.gov|doi\.org)/", links.first.get_attribute("href"))
    card_doc.close()


def test_reported_problem_appears_in_the_staff_queue(page, live_app):
    ask(page, REAL_QUESTION)
    comment = "The citation does not say this (e2e check 7431) <b>not bold</b>"
    page.get_by_label("Report a problem (optional comment)").fill(comment)
    page.get_by_role("button", name="Report a problem").click()
    page.locator("#feedback-status", has_text="sent to our staff").wait_for()

    page.goto(live_app.url + "/staff")
    page.get_by_label("User name").fill(STAFF_USER)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert "Wrong user name or password" in page.inner_text("body")
    page.get_by_label("User name").fill(STAFF_USER)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Review queue").wait_for()
    item = page.locator("article.item").filter(has_text="e2e check 7431").first
    assert comment in item.locator(".comment").inner_text()  # shown as text, not markup
    assert item.locator(".comment b").count() == 0
    assert squash(REAL_QUESTION) in squash(item.locator(".question").inner_text())
    assert item.locator(".citations mark").count() >= 1
    item.get_by_label("Review note").fill("checked in e2e")
    item.get_by_role("button", name=re.compile("reviewed")).click()
    page.get_by_role("heading", name="Review queue").wait_for()
    assert page.locator("article.item").filter(has_text="e2e check 7431").count() == 0


def test_html_in_a_question_is_shown_as_text(page, watch):
    question = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script><b>bold?</b>'
    ask(page, question)
    user_message = page.locator("#chat [data-testid=user]").last
    assert question in user_message.inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("#chat img[src=x], #chat script, #chat b").count() == 0
    page.wait_for_timeout(300)  # give any injected handler a chance to fire
    assert watch.dialogs == []


def test_urgent_notice_comes_first(page):
    ask(page, "I have chest pain and cannot breathe after my LDN dose")
    answer = page.locator("#chat [data-testid=bot]").last.inner_text()
    assert squash(answer).startswith("⚠️ Urgent:")
    alert = page.locator("#citations [role=alert]")
    assert alert.is_visible() and "emergency" in alert.inner_text()


def test_phone_width_keyboard_follow_up_and_new_conversation(page, live_app):
    page.set_viewport_size({"width": 390, "height": 844})
    ask(page, "What is low-dose naltrexone?", keyboard=True)
    ask(page, "What side effects does it have?", keyboard=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on phones"
    assert page.locator("#chat [data-testid=bot]").count() == 2
    page.get_by_label("Show sources and feedback for answer").wait_for(timeout=10_000)
    page.get_by_role("button", name="Helpful", exact=True).click()
    page.locator("#feedback-status", has_text="answer 2 marked helpful").wait_for()
    # Feedback on an earlier answer: choose it, then rate it.
    page.get_by_label("Show sources and feedback for answer").click()
    page.get_by_role("option", name=re.compile(r"^1\. What is low-dose")).click()
    page.get_by_role("button", name="Not helpful", exact=True).click()
    page.locator("#feedback-status", has_text="answer 1 marked not helpful").wait_for()
    stored = {(i.question, i.rating) for i in SQLiteFeedbackStore.in_data_dir(live_app.data_dir).all_items()}
    assert ("What side effects does it have?", "up") in stored
    assert ("What is low-dose naltrexone?", "down") in stored
    page.get_by_role("button", name="New conversation").click()
    page.locator("#ask-status", has_text="New conversation started.").wait_for()
    assert page.locator("#chat [data-testid=bot]").count() == 0
