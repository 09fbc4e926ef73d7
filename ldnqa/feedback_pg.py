"""Feedback in PostgreSQL, for several app replicas sharing one store; and choosing the store.

`open_store(data_dir)` is what the web app calls: with LDNQA_DATABASE_URL set to a
`postgresql://user:password@host:port/dbname` URL it returns a `PostgresFeedbackStore`; otherwise the
default `SQLiteFeedbackStore` in `<data_dir>/feedback.sqlite3`. The PostgreSQL store behaves like the
SQLite one (same validation, review queue, CSV export and retention purge; see feedback.py): the table
is created on first use (under an advisory lock, so replicas starting together do not collide), every
call runs in its own short transaction on its own connection, and nothing of the URL but host, port
and database name is ever shown (the password stays out of logs and messages).

Needs the `psycopg` package (`pip install "psycopg[binary]"`), imported only when a URL is given.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from .errors import LdnqaError
from .feedback import FeedbackItem, FeedbackStore, SQLiteFeedbackStore

SCHEMES = ("postgresql", "postgres")
SCHEMA_LOCK = 0x6C646E7161  # pg_advisory_xact_lock key ("ldnqa"): one replica creates the table
SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    rating TEXT CHECK (rating IS NULL OR rating IN ('up', 'down')),
    reported BOOLEAN NOT NULL DEFAULT FALSE,
    comment TEXT NOT NULL DEFAULT '',
    reviewed_at TEXT,
    reviewed_by TEXT,
    review_note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_review ON feedback (reviewed_at, created_at);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
"""


class StoreConfigError(LdnqaError, ValueError):
    """LDNQA_DATABASE_URL is not a URL this app can use; the message says why (without the password)."""


class StoreUnavailable(LdnqaError):
    """The database cannot be reached; the message names host, port and database, never the password."""


def describe(url: str) -> str:
    """The URL without user name and password: `postgresql://host:port/dbname`."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


class PostgresFeedbackStore(FeedbackStore):
    """Feedback in the `feedback` table of a PostgreSQL database (created when missing)."""

    PARAM = "%s"
    REPORTED = "reported"

    def __init__(self, url: str, connect_timeout: int = 10) -> None:
        if urlsplit(url).scheme not in SCHEMES:
            raise StoreConfigError("the database URL must start with postgresql://")
        try:
            import psycopg
        except ImportError as exc:
            raise StoreConfigError('PostgreSQL feedback needs psycopg: pip install "psycopg[binary]"') from exc
        self._psycopg = psycopg
        self.url = url
        self.where = describe(url)
        self.connect_timeout = connect_timeout
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            cur.execute(SCHEMA)

    def __repr__(self) -> str:
        return f"PostgresFeedbackStore({self.where!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor in one transaction: committed on success, rolled back on error, then closed."""
        try:
            conn = self._psycopg.connect(self.url, connect_timeout=self.connect_timeout)
        except self._psycopg.OperationalError as exc:  # the reason, not the URL (it may hold a password)
            reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"cannot connect to the feedback database at {self.where}: {reason}") from None
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[FeedbackItem]:
        with self._transaction() as cur:
            cur.execute(sql, params)
            return [self._item(row) for row in cur.fetchall()]

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._transaction() as cur:
            cur.execute(sql, params)
            return int(cur.rowcount)

    def _insert(self, question: str, answer: str, citations: list[dict[str, Any]], rating: str | None,
                reported: bool, comment: str, *, source: str, created_at: str) -> int:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO feedback (created_at, source, question, answer, citations, rating, reported,"
                " comment) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (created_at, source, question, answer, json.dumps(citations, ensure_ascii=False), rating,
                 reported, comment))
            return int(cur.fetchone()[0])

    def count(self) -> int:
        with self._transaction() as cur:
            cur.execute("SELECT count(*) FROM feedback")
            return int(cur.fetchone()[0])

    def _delete_before(self, created_before: str) -> int:
        return self._execute("DELETE FROM feedback WHERE created_at < %s", (created_before,))


def database_url(env: Mapping[str, str] | None = None) -> str | None:
    """LDNQA_DATABASE_URL, or None when unset or empty."""
    raw = (os.environ if env is None else env).get("LDNQA_DATABASE_URL", "").strip()
    return raw or None


def open_store(data_dir: Path | str, env: Mapping[str, str] | None = None) -> FeedbackStore:
    """PostgreSQL when LDNQA_DATABASE_URL is set (postgresql://...), else SQLite in `data_dir`.

    Raises StoreConfigError for a URL of another kind or a missing psycopg, StoreUnavailable when the
    database cannot be reached."""
    url = database_url(env)
    if url is None:
        return SQLiteFeedbackStore.in_data_dir(data_dir)
    if urlsplit(url).scheme not in SCHEMES:
        raise StoreConfigError(f"LDNQA_DATABASE_URL must be a postgresql:// URL, not {urlsplit(url).scheme}://...")
    return PostgresFeedbackStore(url)


def store_location(store: FeedbackStore) -> str:
    """Where a store keeps feedback, fit for a log line (never a password)."""
    if isinstance(store, PostgresFeedbackStore):
        return f"PostgreSQL at {store.where}"
    path = getattr(store, "path", None)
    return str(Path(path).resolve()) if path is not None else type(store).__name__
