"""Feedback on answers: ratings and problem reports, kept so that staff can judge them later.

`FeedbackStore` is the interface the web app uses; `SQLiteFeedbackStore` keeps it in one SQLite file
(WAL mode, synchronous=FULL, one short BEGIN IMMEDIATE transaction per write, safe to share between
threads and processes: a committed row survives a crash of the writer). A PostgreSQL store would
subclass `FeedbackStore` and implement the same storage methods; validation and CSV export are shared.

Retention: `purge(days)` deletes feedback older than `days` days (deleted rows are overwritten on
disk, not only unlinked). The web app purges by LDNQA_FEEDBACK_RETENTION_DAYS (`retention_days`) at
start-up and then every few hours; `ldnqa feedback purge --older-than DAYS` does it by hand.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

RATINGS = ("up", "down")
MAX_QUESTION = 4000
MAX_ANSWER = 40_000
MAX_COMMENT = 4000
MAX_NOTE = 4000
MAX_CITATIONS = 50
MAX_CITATIONS_JSON = 400_000
CSV_FIELDS = ("id", "created_at", "source", "rating", "reported", "comment", "question", "answer",
              "citations", "reviewed_at", "reviewed_by", "review_note")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DEFAULT_RETENTION_DAYS = 365


class FeedbackError(ValueError):
    """Feedback that cannot be stored as given; the message says which field is wrong."""


@dataclass(frozen=True)
class FeedbackItem:
    """One stored piece of feedback, with the answer it is about and the staff review, if any."""

    id: int
    created_at: str
    question: str
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    rating: str | None = None  # "up" (helpful), "down" (not helpful) or None (report only)
    reported: bool = False  # "report a problem"
    comment: str = ""
    source: str = "web"  # "web" (the chat page) or "api"
    reviewed_at: str | None = None
    reviewed_by: str | None = None
    review_note: str = ""

    @property
    def needs_review(self) -> bool:
        return self.reported or self.rating == "down"


def validate(question: Any, answer: Any, citations: Any, rating: Any, reported: Any,
             comment: Any) -> tuple[str, str, list[dict[str, Any]], str | None, bool, str]:
    """Check the types and sizes of new feedback; return it normalised, or raise FeedbackError."""
    if not isinstance(question, str) or not question.strip():
        raise FeedbackError("question must be a non-empty string")
    if not isinstance(answer, str):
        raise FeedbackError("answer must be a string")
    if citations is None:
        citations = []
    if not isinstance(citations, list) or not all(isinstance(c, dict) for c in citations):
        raise FeedbackError("citations must be a list of objects")
    if rating is not None and rating not in RATINGS:
        raise FeedbackError('rating must be "up" or "down"')
    if not isinstance(reported, bool):
        raise FeedbackError("report must be true or false")
    if rating is None and not reported:
        raise FeedbackError('give a rating ("up" or "down") or report a problem')
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise FeedbackError("comment must be a string")
    for name, value, limit in (("question", question, MAX_QUESTION), ("answer", answer, MAX_ANSWER),
                               ("comment", comment, MAX_COMMENT)):
        if len(value) > limit:
            raise FeedbackError(f"{name} is too long (at most {limit} characters)")
    if len(citations) > MAX_CITATIONS:
        raise FeedbackError(f"too many citations (at most {MAX_CITATIONS})")
    if len(json.dumps(citations)) > MAX_CITATIONS_JSON:
        raise FeedbackError("citations are too large")
    return question.strip(), answer, citations, rating, reported, comment.strip()


def csv_cell(value: Any) -> str:
    """A CSV cell that spreadsheets will not run as a formula (leading = + - @ tab CR get a quote)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def cutoff(days: float) -> str:
    """The `created_at` before which feedback is older than `days` days (same format as `now()`)."""
    if not isinstance(days, (int, float)) or isinstance(days, bool) or not math.isfinite(days) \
            or days < 0:
        raise ValueError("the age in days must be a number of at least 0")
    moment = datetime.now(timezone.utc) - timedelta(days=days)
    return moment.isoformat(timespec="seconds")


def retention_days(env: Mapping[str, str] | None = None) -> float | None:
    """LDNQA_FEEDBACK_RETENTION_DAYS: days to keep feedback (default 365); `off` keeps it forever.
    Raises ValueError for anything else that is not a positive number."""
    env = os.environ if env is None else env
    raw = env.get("LDNQA_FEEDBACK_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if raw.lower() in ("off", "never", "forever"):
        return None
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not math.isfinite(days) or days <= 0:
        raise ValueError(f"LDNQA_FEEDBACK_RETENTION_DAYS must be a number of days above 0 or 'off', "
                         f"not {raw!r}")
    return days


class FeedbackStore(ABC):
    """Where feedback lives. Subclasses implement storage; this class validates and exports."""

    def add(self, question: Any, answer: Any, citations: Any = None, rating: Any = None, *,
            reported: Any = False, comment: Any = "", source: str = "web") -> int:
        """Validate and store new feedback; return its id. Raises FeedbackError for bad input."""
        values = validate(question, answer, citations, rating, reported, comment)
        return self._insert(*values, source=source, created_at=now())

    @abstractmethod
    def _insert(self, question: str, answer: str, citations: list[dict[str, Any]], rating: str | None,
                reported: bool, comment: str, *, source: str, created_at: str) -> int: ...

    # The queries below serve every store. Each store supplies its SQL dialect (PARAM, the placeholder;
    # REPORTED, how a true `reported` reads) and two primitives: `_read` rows as items, `_execute` a
    # change and return how many rows it touched.
    PARAM = "?"
    REPORTED = "reported = 1"

    @abstractmethod
    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[FeedbackItem]: ...

    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...]) -> int: ...

    @staticmethod
    def _item(row: tuple[Any, ...]) -> FeedbackItem:
        (id_, created, question, answer, citations, rating, reported, comment, source,
         reviewed_at, reviewed_by, note) = row
        return FeedbackItem(id=int(id_), created_at=created, question=question, answer=answer,
                            citations=json.loads(citations), rating=rating, reported=bool(reported),
                            comment=comment, source=source, reviewed_at=reviewed_at,
                            reviewed_by=reviewed_by, review_note=note)

    def get(self, item_id: int) -> FeedbackItem | None:
        """One item by id, or None."""
        rows = self._read(f"SELECT {COLUMNS} FROM feedback WHERE id = {self.PARAM}", (item_id,))
        return rows[0] if rows else None

    def list_for_review(self, include_reviewed: bool = False, limit: int = 200) -> list[FeedbackItem]:
        """Reported and "not helpful" items, newest first; reviewed ones only when asked for."""
        pending = "" if include_reviewed else "AND reviewed_at IS NULL"
        return self._read(
            f"SELECT {COLUMNS} FROM feedback WHERE ({self.REPORTED} OR rating = 'down') {pending} "
            f"ORDER BY created_at DESC, id DESC LIMIT {self.PARAM}", (limit,))

    def mark_reviewed(self, item_id: int, reviewer: str, note: str = "") -> bool:
        """Record a staff review of an item; False when there is no such item."""
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise FeedbackError(f"the note must be text of at most {MAX_NOTE} characters")
        p = self.PARAM
        return self._execute(f"UPDATE feedback SET reviewed_at = {p}, reviewed_by = {p}, review_note = {p} "
                             f"WHERE id = {p}", (now(), reviewer, note.strip(), item_id)) == 1

    def all_items(self) -> Iterable[FeedbackItem]:
        """Every item, oldest first (for export)."""
        return self._read(f"SELECT {COLUMNS} FROM feedback ORDER BY id")

    def purge(self, older_than_days: float) -> int:
        """Delete feedback created more than `older_than_days` days ago; return how many items."""
        return self._delete_before(cutoff(older_than_days))

    def _delete_before(self, created_before: str) -> int:
        """Delete items with `created_at < created_before` (ISO UTC); return the count."""
        raise NotImplementedError(f"{type(self).__name__} cannot purge old feedback")

    def export_csv(self, out: io.TextIOBase | None = None) -> str:
        """All feedback as CSV, safe to open in a spreadsheet. Writes to `out` if given; returns text."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_FIELDS)
        for item in self.all_items():
            row = {**item.__dict__, "citations": json.dumps(item.citations, ensure_ascii=False),
                   "reported": "yes" if item.reported else "no"}
            writer.writerow([csv_cell(row[name]) for name in CSV_FIELDS])
        text = buffer.getvalue()
        if out is not None:
            out.write(text)
        return text


SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    rating TEXT CHECK (rating IS NULL OR rating IN ('up', 'down')),
    reported INTEGER NOT NULL DEFAULT 0 CHECK (reported IN (0, 1)),
    comment TEXT NOT NULL DEFAULT '',
    reviewed_at TEXT,
    reviewed_by TEXT,
    review_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_review ON feedback (reviewed_at, created_at);
"""
COLUMNS = ("id, created_at, question, answer, citations, rating, reported, comment, source, "
           "reviewed_at, reviewed_by, review_note")


class SQLiteFeedbackStore(FeedbackStore):
    """Feedback in `<data_dir>/feedback.sqlite3`. Each call opens its own connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the database file
            conn.executescript(SCHEMA)
            conn.execute("PRAGMA user_version = 1")
        finally:
            conn.close()

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> "SQLiteFeedbackStore":
        return cls(Path(data_dir) / "feedback.sqlite3")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; each write below runs in BEGIN IMMEDIATE.
        conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute("PRAGMA synchronous = FULL")  # a commit is on disk before it is acknowledged
        conn.execute("PRAGMA secure_delete = ON")  # purged feedback is overwritten, not just unlinked
        return conn

    def _write(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(sql, params)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return cursor
        finally:
            conn.close()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[FeedbackItem]:
        conn = self._connect()
        try:
            return [self._item(row) for row in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        return int(self._write(sql, params).rowcount)

    def _insert(self, question: str, answer: str, citations: list[dict[str, Any]], rating: str | None,
                reported: bool, comment: str, *, source: str, created_at: str) -> int:
        cursor = self._write(
            "INSERT INTO feedback (created_at, source, question, answer, citations, rating, reported,"
            " comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (created_at, source, question, answer, json.dumps(citations, ensure_ascii=False), rating,
             int(reported), comment))
        return int(cursor.lastrowid or 0)

    def count(self) -> int:
        conn = self._connect()
        try:
            return int(conn.execute("SELECT count(*) FROM feedback").fetchone()[0])
        finally:
            conn.close()

    def _delete_before(self, created_before: str) -> int:
        removed = self._write("DELETE FROM feedback WHERE created_at < ?", (created_before,)).rowcount
        if removed:  # copy the change out of the WAL file, so the old rows leave it too
            conn = self._connect()
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
        return int(removed)
