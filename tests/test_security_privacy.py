"""Privacy: no question text in logs (crashes, errors, access lines), feedback retention and purging,
and the chat page's own limits (conversation length, rate limits). Stub engine, in-process."""
from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest
from web_support import StubAssistant, running_app, staff_config

from ldnqa import server, ui
from ldnqa.api import EngineGate
from ldnqa.feedback import SQLiteFeedbackStore, retention_days
from ldnqa.limits import RateLimiter, RateLimits

CANARY = "zebra-canary-4711"


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory):
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("privacy"), staff_config())


def test_errors_and_crashes_are_logged_without_the_question(stub_app, caplog):
    with caplog.at_level(logging.DEBUG):
        crash = httpx.post(f"{stub_app.url}/api/ask", json={"question": f"make it crash {CANARY}"})
        too_long = httpx.post(f"{stub_app.url}/api/ask", json={"question": CANARY * 50})
        bad = httpx.post(f"{stub_app.url}/api/ask", json={"question": CANARY, "history": CANARY})
        httpx.post(f"{stub_app.url}/api/feedback", json={"question": CANARY, "answer": CANARY,
                                                         "rating": "down", "comment": CANARY})
    assert (crash.status_code, too_long.status_code, bad.status_code) == (500, 400, 400)
    assert "RuntimeError" in caplog.text  # the crash is in the log ...
    assert CANARY not in caplog.text  # ... but not what was asked
    assert "engine bug" not in caplog.text  # nor the exception's message, which might quote it
    assert CANARY not in crash.text


def test_access_log_lines_drop_query_strings():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", f"/api/ask?question={CANARY}", "1.1", 405), None)
    assert server.NoQueryStrings().filter(record)
    assert CANARY not in record.getMessage() and "GET /api/ask HTTP/1.1" in record.getMessage()


def chat_handlers(limits: RateLimits, tmp_path: Any) -> tuple[Any, dict[str, Callable[..., Any]]]:
    """The chat page's event handlers, called directly (no browser)."""
    assistant = StubAssistant()
    store = SQLiteFeedbackStore.in_data_dir(tmp_path)
    blocks = ui.build_ui(EngineGate(assistant), store, limits)
    fns: dict[str, Callable[..., Any]] = {}
    for block_fn in blocks.fns.values():
        fns.setdefault(getattr(block_fn.fn, "__name__", ""), block_fn.fn)
    return store, fns


def test_chat_page_failure_is_logged_without_the_question(tmp_path, caplog):
    _, fns = chat_handlers(RateLimits.unlimited(), tmp_path)
    with caplog.at_level(logging.DEBUG):
        outputs = list(fns["respond"](f"make it crash {CANARY}", []))
    assert "something went wrong" in outputs[-1][-1]
    assert "RuntimeError" in caplog.text and CANARY not in caplog.text


def test_chat_page_limits_conversation_length_and_rate(tmp_path):
    limits = RateLimits(ask=RateLimiter(per_minute=1, burst=2), feedback=RateLimiter(per_minute=1, burst=1))
    store, fns = chat_handlers(limits, tmp_path)
    turns: list[dict[str, Any]] = []
    for _ in range(2):
        last = list(fns["respond"]("Does LDN help?", turns))[-1]
        turns = last[2]
    assert len(turns) == 2
    refused = list(fns["respond"]("Does LDN help?", turns))
    assert len(refused) == 1 and "Too many questions" in refused[0][-1]
    assert "Answer ready" not in refused[0][-1]
    long_chat = [turns[0]] * ui.MAX_TURNS
    assert "start a new conversation" in list(fns["respond"]("One more?", long_chat))[-1][-1]
    first = fns["handler"]("0", turns, "")[0]
    second = fns["handler"]("0", turns, "")[0]
    assert "Thank you" in first and "Too many feedback messages" in second
    assert len(list(store.all_items())) == 1


# --- retention ------------------------------------------------------------------------------------


def test_retention_setting():
    assert retention_days({}) == 365
    assert retention_days({"LDNQA_FEEDBACK_RETENTION_DAYS": "30"}) == 30
    assert retention_days({"LDNQA_FEEDBACK_RETENTION_DAYS": "off"}) is None
    for bad in ("0", "-3", "soon", "inf"):
        with pytest.raises(ValueError, match="LDNQA_FEEDBACK_RETENTION_DAYS"):
            retention_days({"LDNQA_FEEDBACK_RETENTION_DAYS": bad})


def age(store: SQLiteFeedbackStore, item: int, days: float) -> None:
    """Make an item `days` days old."""
    created = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE feedback SET created_at = ? WHERE id = ?", (created, item))
    conn.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_app_purges_old_feedback_at_start_up_and_while_running(tmp_path, monkeypatch):
    monkeypatch.setattr(server, "PURGE_EVERY", 0.2)
    store = SQLiteFeedbackStore.in_data_dir(tmp_path)
    old, recent = store.add("old q", "a", [], "up"), store.add("recent q", "a", [], "up")
    age(store, old, 31)
    age(store, recent, 29)
    app = server.create_app(StubAssistant(), tmp_path, staff_config(), session_secret=b"s",
                            limits=RateLimits.unlimited(), retention=30)
    assert [i.id for i in store.all_items()] == [old, recent]  # nothing happens before start-up
    running = server.BackgroundServer(app).start()
    try:
        assert wait_for(lambda: [i.id for i in store.all_items()] == [recent])
        age(store, recent, 45)  # time passes while the server runs
        assert wait_for(lambda: list(store.all_items()) == [])
    finally:
        running.stop()


def test_retention_off_keeps_everything(tmp_path):
    store = SQLiteFeedbackStore.in_data_dir(tmp_path)
    age(store, store.add("q", "a", [], "up"), 5000)
    running = server.BackgroundServer(server.create_app(
        StubAssistant(), tmp_path, staff_config(), session_secret=b"s", retention=None)).start()
    try:
        time.sleep(0.5)
        assert len(list(store.all_items())) == 1
    finally:
        running.stop()
