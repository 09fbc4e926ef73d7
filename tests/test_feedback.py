"""The feedback store, on real SQLite files."""
from __future__ import annotations

import csv
import io
import sqlite3
import threading

import pytest

from ldnqa.feedback import FeedbackError, SQLiteFeedbackStore, csv_cell

CITATIONS = [{"id": 1, "doc_id": "younger-2013", "title": "Trial", "text": "Pain fell.", "start": 10,
              "end": 20, "quotes": [[10, 20]]}]


@pytest.fixture
def store(tmp_path):
    return SQLiteFeedbackStore.in_data_dir(tmp_path / "data")


def test_add_and_read_back_everything(store, tmp_path):
    item_id = store.add("Does LDN help? ✓", "It may [1].", CITATIONS, "down", comment="  wrong  ")
    reopened = SQLiteFeedbackStore(tmp_path / "data" / "feedback.sqlite3")  # a new connection/file open
    item = reopened.get(item_id)
    assert item is not None
    assert (item.question, item.answer, item.citations) == ("Does LDN help? ✓", "It may [1].", CITATIONS)
    assert (item.rating, item.reported, item.comment, item.source) == ("down", False, "wrong", "web")
    assert item.created_at.endswith("+00:00") and item.reviewed_at is None
    assert reopened.get(item_id + 1) is None


def test_database_uses_wal_mode(store):
    store.add("q", "a", [], "up")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_review_queue_holds_reports_and_not_helpful_newest_first(store):
    helpful = store.add("q1", "a1", [], "up")
    down = store.add("q2", "a2", [], "down")
    report = store.add("q3", "a3", CITATIONS, None, reported=True, comment="the citation does not say this")
    queue = store.list_for_review()
    assert [i.id for i in queue] == [report, down]
    assert helpful not in [i.id for i in store.list_for_review(include_reviewed=True)]
    assert queue[0].comment == "the citation does not say this" and queue[0].reported


def test_mark_reviewed_moves_item_out_of_the_pending_queue(store):
    first = store.add("q1", "a1", [], "down")
    second = store.add("q2", "a2", [], "down")
    assert store.mark_reviewed(first, "alice", "citation checked: fine")
    assert [i.id for i in store.list_for_review()] == [second]
    reviewed = store.get(first)
    assert (reviewed.reviewed_by, reviewed.review_note) == ("alice", "citation checked: fine")
    assert reviewed.reviewed_at is not None
    assert [i.id for i in store.list_for_review(include_reviewed=True)] == [second, first]
    assert store.mark_reviewed(9999, "alice") is False


@pytest.mark.parametrize("args, kwargs, message", [
    (("", "a", [], "up"), {}, "question"),
    ((5, "a", [], "up"), {}, "question"),
    (("q", None, [], "up"), {}, "answer"),
    (("q", "a", "not a list", "up"), {}, "citations"),
    (("q", "a", [1, 2], "up"), {}, "citations"),
    (("q", "a", [], "meh"), {}, "rating"),
    (("q", "a", [], None), {}, "rating"),
    (("q", "a", [], "up"), {"comment": 7}, "comment"),
    (("q", "a", [], "up"), {"reported": "yes"}, "report"),
    (("q" * 5000, "a", [], "up"), {}, "too long"),
    (("q", "a", [{}] * 51, "up"), {}, "too many"),
])
def test_bad_feedback_is_refused_and_not_stored(store, args, kwargs, message):
    with pytest.raises(FeedbackError, match=message):
        store.add(*args, **kwargs)
    assert list(store.all_items()) == []


def test_csv_export_defuses_formulas_and_round_trips(store):
    store.add("=HYPERLINK(\"http://evil\")", "+1", CITATIONS, "down", comment="@SUM(A1)")
    store.add("plain question", "-2", [], None, reported=True, comment="\tcmd")
    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[0]["question"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["answer"] == "'+1" and rows[0]["comment"] == "'@SUM(A1)"
    assert rows[1]["answer"] == "'-2" and rows[1]["question"] == "plain question"
    assert rows[1]["reported"] == "yes" and rows[1]["rating"] == ""
    assert '"doc_id": "younger-2013"' in rows[0]["citations"]
    out = io.StringIO()
    store.export_csv(out)
    assert out.getvalue() == store.export_csv()


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"),
                                             ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                                             ("safe = 1", "safe = 1"), (None, ""), (3, "3")])
def test_csv_cell(value, expected):
    assert csv_cell(value) == expected


def test_concurrent_writers_lose_nothing(store):
    def write(n: int) -> None:
        for i in range(15):
            store.add(f"q{n}-{i}", "a", [], "down")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = list(store.all_items())
    assert len(items) == 90 and len({i.id for i in items}) == 90
    assert {i.question for i in items} == {f"q{n}-{i}" for n in range(6) for i in range(15)}
