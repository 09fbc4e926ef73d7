"""Headless Chromium: script and event-handler payloads typed as questions and feedback, and planted in
a document (title, metadata, text), are shown as text everywhere (chat, citation cards, document
viewer, staff queue, library) and never run: no dialog, no marker variable set, no injected element."""
from __future__ import annotations

import re

import pytest
from web_support import STAFF_PASSWORD, STAFF_USER

pytestmark = pytest.mark.slow
PAYLOADS = ['<img src=x onerror="window.__xss=11;alert(11)">', "<script>window.__xss=12</script>",
            '<svg onload="window.__xss=13">', '"><iframe src="javascript:alert(14)"></iframe>',
            "[click](javascript:window.__xss=15) **bold** `code`", "javascript:alert(16)"]
INJECTED = "img[src=x], script, svg[onload], iframe, a[href^='javascript']"
ON_CHAT_PAGE = "#chat, #citations, #feedback, #ask-status"  # (Gradio's page has scripts of its own)


@pytest.fixture
def hostile_page(browser, hostile_app, watch):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda request: watch.requests.append(request.url))

    def on_dialog(dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", on_dialog)
    page = context.new_page()
    page.goto(hostile_app.url + "/")
    page.get_by_label("Your question").wait_for()
    yield page
    context.close()


def ask(page, question: str) -> None:
    before = page.locator("#chat [data-testid=bot]").count()
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_function(f"document.querySelectorAll('#chat [data-testid=bot]').length > {before}",
                           timeout=60_000)


def assert_nothing_ran(page, watch, where: str = "body") -> None:
    page.wait_for_timeout(300)  # give an injected handler the chance to fire
    assert watch.dialogs == []
    assert page.evaluate("window.__xss") is None
    assert page.locator(where).locator(INJECTED).count() == 0


def login(page, url: str) -> None:
    page.goto(url + "/staff")
    page.get_by_label("User name").fill(STAFF_USER)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Review queue").wait_for()


def test_payloads_as_questions_and_feedback_never_run(hostile_page, hostile_app, watch):
    page = hostile_page
    for payload in PAYLOADS[:3]:
        ask(page, f"What dose of low-dose naltrexone? {payload}")
        assert payload in page.locator("#chat [data-testid=user]").last.inner_text()
    assert_nothing_ran(page, watch, ON_CHAT_PAGE)
    comment = " ".join(PAYLOADS)
    page.get_by_label("Report a problem (optional comment)").fill(comment)
    page.get_by_role("button", name="Report a problem").click()
    page.locator("#feedback-status", has_text="sent to our staff").wait_for()
    assert_nothing_ran(page, watch, ON_CHAT_PAGE)

    login(page, hostile_app.url)
    item = page.locator("article.item").filter(has_text="javascript:alert(16)").first
    assert item.locator(".comment").inner_text() == comment  # shown as typed
    assert PAYLOADS[2] in item.locator(".question").inner_text()
    assert_nothing_ran(page, watch)
    page.goto(hostile_app.url + "/staff/library")
    assert "LDN <img src=x" in page.inner_text("body")
    assert_nothing_ran(page, watch)


def test_a_hostile_document_is_shown_as_text_in_cards_and_viewer(hostile_page, hostile_app, watch):
    page = hostile_page
    ask(page, "What dose of low-dose naltrexone reduced fibromyalgia pain?")
    cards = page.locator("#citations .cite-card")
    cards.first.wait_for()
    hostile = cards.filter(has_text="pain study").first
    assert '<img src=x onerror="window.__xss=1;alert(1)">' in hostile.locator("h3").inner_text()
    assert "<script>window.__xss=2</script> Evil J. 2020" in hostile.inner_text()
    for link in hostile.locator("a").all():
        assert re.match(r"(/doc/|https://(pubmed\.ncbi\.nlm\.nih\.gov|doi\.org)/)",
                        link.get_attribute("href")), link.get_attribute("href")
    assert_nothing_ran(page, watch, ON_CHAT_PAGE)

    with page.expect_popup() as popup:
        hostile.locator("h3 a").click()
    viewer = popup.value
    viewer.wait_for_load_state()
    assert "<script>window.__xss=8</script>" in viewer.locator(".doc-text").inner_text()
    assert "<b onmouseover=alert(6)>randomized trial</b>" in viewer.inner_text("body")
    assert_nothing_ran(viewer, watch)
    viewer.close()
    outside = [u for u in watch.requests if not u.startswith((hostile_app.url, "data:", "blob:"))]
    assert outside == []
