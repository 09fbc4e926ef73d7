"""The feedback store, on real SQLite files."""
from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ldnqa.feedback import FeedbackError, SQLiteFeedbackStore, csv_cell

from support import check_feedback_round_trip

CITATIONS = [{"id": 1, "doc_id": "younger-2013", "title": "Trial", "text": "Pain fell.", "start": 10,
              "end": 20, "quotes": [[10, 20]]}]


@pytest.fixture
def store(tmp_path):
    return SQLiteFeedbackStore.in_data_dir(tmp_path / "data")


def test_add_and_read_back_everything(store, tmp_path):
    check_feedback_round_trip(store, lambda: SQLiteFeedbackStore(tmp_path / "data" / "feedback.sqlite3"), CITATIONS)


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


# --- many processes, killed writers, retention ----------------------------------------------------

WRITER = r"""
import os, sys, time
from ldnqa.feedback import SQLiteFeedbackStore
path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = SQLiteFeedbackStore(path)
while not os.path.exists(go):  # start together
    time.sleep(0.005)
n = 0
while count == 0 or n < count:
    item = store.add(f"{name}-{n}", "answer " + "x" * 5000, [{"id": 1, "n": n}], "down",
                     comment=name)
    print(item, flush=True)  # reported only once committed
    n += 1
"""


def start_writer(db: Path, name: str, count: int, go: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, str(count), str(go)],
                            stdout=subprocess.PIPE, text=True)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_writers_in_several_processes_lose_nothing(tmp_path):
    db, go = tmp_path / "feedback.sqlite3", tmp_path / "go"
    SQLiteFeedbackStore(db)
    writers = [start_writer(db, f"p{n}", 40, go) for n in range(4)]
    go.touch()
    reported = {}
    for n, writer in enumerate(writers):
        out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0
        reported[f"p{n}"] = [int(line) for line in out.split()]
    items = {i.id: i for i in SQLiteFeedbackStore(db).all_items()}
    assert len(items) == 160 and integrity(db) == "ok"
    for name, ids in reported.items():
        assert [items[i].question for i in ids] == [f"{name}-{k}" for k in range(40)]


def test_a_writer_killed_mid_write_leaves_every_committed_row(tmp_path):
    db, go = tmp_path / "feedback.sqlite3", tmp_path / "go"
    SQLiteFeedbackStore(db)
    go.touch()
    committed: dict[int, str] = {}
    for round_ in range(2):
        steady = start_writer(db, f"steady{round_}", 0, go)  # writes on while its neighbour dies
        victim = start_writer(db, f"victim{round_}", 0, go)
        ids = []
        while len(ids) < 8 + 8 * round_:
            ids.append(int(victim.stdout.readline()))
        os.kill(victim.pid, signal.SIGKILL)  # most likely inside a transaction: it writes nonstop
        victim.wait()
        ids += [int(line) for line in victim.stdout.read().split()]  # committed before the kill
        committed.update({i: f"victim{round_}-{k}" for k, i in enumerate(ids)})
        steady.terminate()
        steady.wait()
        assert integrity(db) == "ok"
    store = SQLiteFeedbackStore(db)
    for item_id, question in committed.items():
        item = store.get(item_id)
        assert item is not None and item.question == question and len(item.answer) == 5007
    assert store.add("after the crashes", "a", [], "up") > max(committed)


def test_purge_removes_old_feedback_for_good(store):
    old = store.add("old question about my dose", "a", [], "down")
    new = store.add("new question", "a", [], "up")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE feedback SET created_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (old,))
    conn.close()
    assert store.purge(30) == 1 and store.purge(30) == 0
    assert [i.id for i in store.all_items()] == [new]
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.glob("feedback.sqlite3*"))
    assert b"old question about my dose" not in on_disk and b"new question" in on_disk
    with pytest.raises(ValueError):
        store.purge(-1)


def test_cli_feedback_purge(tmp_path, capsys, monkeypatch):
    from ldnqa import cli

    monkeypatch.delenv("LDNQA_DATABASE_URL", raising=False)

    assert cli.main(["feedback", "purge", "--older-than", "30", "--data-dir", str(tmp_path)]) == 0
    assert "No feedback database" in capsys.readouterr().out
    store = SQLiteFeedbackStore.in_data_dir(tmp_path)
    for n in range(3):
        store.add(f"q{n}", "a", [], "up")
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE feedback SET created_at = '2001-01-01T00:00:00+00:00' WHERE id < 3")
    conn.close()
    assert cli.main(["feedback", "purge", "--older-than", "30", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("Removed 2 feedback items older than 30 days from ")
    assert [i.question for i in store.all_items()] == ["q2"]
    assert cli.main(["feedback", "purge", "--older-than", "-5", "--data-dir", str(tmp_path)]) == 1
    assert "at least 0" in capsys.readouterr().err


def test_commits_are_durable_and_deletes_overwrite(store):
    conn = store._connect()
    try:
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    finally:
        conn.close()
