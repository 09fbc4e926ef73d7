"""The PostgreSQL feedback store, against a real PostgreSQL server that this module starts.

The server is Debian's `postgresql` package (initdb and pg_ctl from /usr/lib/postgresql/*/bin), run in a
temporary folder on a free port of 127.0.0.1, as the `postgres` user when the tests run as root. The
tests skip, saying why, when PostgreSQL or psycopg is not installed or the server cannot start.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from ldnqa.feedback import FeedbackError, SQLiteFeedbackStore
from ldnqa.feedback_pg import (PostgresFeedbackStore, StoreConfigError, StoreUnavailable, describe, open_store,
                               store_location)

from support import check_feedback_round_trip

CITATIONS = [{"id": 1, "doc_id": "younger-2013", "title": "Trial ✓", "text": "Pain fell.", "quotes": [[10, 20]]}]


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian layout), else one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A URL of a fresh PostgreSQL server, stopped and deleted after the module."""
    pytest.importorskip("psycopg", reason='psycopg is not installed (pip install "psycopg[binary]")')
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    folder = Path(tempfile.mkdtemp(prefix="ldnqa-pg-"))
    data, port = folder / "data", free_port()
    as_user = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    if user:
        os.chown(folder, user.pw_uid, user.pw_gid)
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    try:
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "ldnqa", "--auth=trust", "-E", "UTF8"],
                       cwd=folder, env=env, check=True, capture_output=True, timeout=120, **as_user)
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                        "-t", "60", "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"],
                       cwd=folder, env=env, check=True, capture_output=True, timeout=120, **as_user)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        log = (folder / "server.log").read_text(errors="replace")[-500:] if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL could not start: {exc} {getattr(exc, 'stderr', b'')!r} {log}")
    try:
        yield f"postgresql://ldnqa:not-a-real-secret@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], cwd=folder,
                       env=env, capture_output=True, timeout=60, **as_user)
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(pg_url: str) -> str:
    """A new, empty database on the test server; returns its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def store(pg_url: str) -> PostgresFeedbackStore:
    return PostgresFeedbackStore(fresh_database(pg_url))


def test_add_and_read_back_everything(store: PostgresFeedbackStore) -> None:
    check_feedback_round_trip(store, lambda: PostgresFeedbackStore(store.url), CITATIONS)  # another replica


def test_review_queue_and_marking_reviewed(store: PostgresFeedbackStore) -> None:
    helpful = store.add("q1", "a1", [], "up")
    down = store.add("q2", "a2", [], "down")
    report = store.add("q3", "a3", CITATIONS, None, reported=True, comment="the citation does not say this")
    assert [i.id for i in store.list_for_review()] == [report, down]
    assert helpful not in [i.id for i in store.list_for_review(include_reviewed=True)]
    assert store.mark_reviewed(down, "alice", " checked ")
    assert [i.id for i in store.list_for_review()] == [report]
    reviewed = store.get(down)
    assert reviewed is not None and (reviewed.reviewed_by, reviewed.review_note) == ("alice", "checked")
    assert [i.id for i in store.list_for_review(include_reviewed=True)] == [report, down]
    assert store.mark_reviewed(10**9, "alice") is False
    with pytest.raises(FeedbackError):
        store.mark_reviewed(report, "alice", "x" * 100_000)


def test_validation_is_shared_with_sqlite(store: PostgresFeedbackStore) -> None:
    for bad in ({"rating": "meh"}, {"rating": None}, {"citations": "not a list"}):
        args = {"rating": "up", "citations": [], **bad}
        with pytest.raises(FeedbackError):
            store.add("q", "a", args["citations"], args["rating"])
    assert store.count() == 0


def test_export_and_purge_match_the_sqlite_store(store: PostgresFeedbackStore, tmp_path: Path) -> None:
    sqlite = SQLiteFeedbackStore.in_data_dir(tmp_path)
    for target in (store, sqlite):
        target._insert("=1+1 old", "a", [], "down", False, "", source="web", created_at="2001-01-01T00:00:00+00:00")
        target.add("new", "b [1]", CITATIONS, None, reported=True, comment="@cmd")
    drop_times = lambda text: [line.split(",", 2)[2] for line in text.splitlines()]  # noqa: E731
    assert drop_times(store.export_csv()) == drop_times(sqlite.export_csv())
    assert "'=1+1 old" in store.export_csv()  # spreadsheet formulas neutralised, as for SQLite
    assert store.purge(30) == 1 == sqlite.purge(30)
    assert [i.question for i in store.all_items()] == ["new"] and store.count() == 1


def test_replicas_write_concurrently_without_losing_items(pg_url: str) -> None:
    url = fresh_database(pg_url)
    stores: list[PostgresFeedbackStore] = []
    errors: list[BaseException] = []

    def start() -> None:  # replicas starting together all create the table if missing
        try:
            stores.append(PostgresFeedbackStore(url))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stores) == 4
    ids: list[int] = []
    lock = threading.Lock()

    def write(replica: PostgresFeedbackStore) -> None:
        for n in range(10):
            item = replica.add(f"question {n}", "answer", [], "up")
            with lock:
                ids.append(item)

    threads = [threading.Thread(target=write, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 80 == stores[0].count()


def test_store_selection_by_database_url(pg_url: str, tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path, env={}), SQLiteFeedbackStore)
    assert isinstance(open_store(tmp_path, env={"LDNQA_DATABASE_URL": "  "}), SQLiteFeedbackStore)
    chosen = open_store(tmp_path / "unused", env={"LDNQA_DATABASE_URL": pg_url})
    assert isinstance(chosen, PostgresFeedbackStore)
    assert not (tmp_path / "unused" / "feedback.sqlite3").exists()
    for shown in (repr(chosen), store_location(chosen), chosen.where):
        assert "not-a-real-secret" not in shown and "127.0.0.1" in shown
    with pytest.raises(StoreConfigError, match="postgresql://"):
        open_store(tmp_path, env={"LDNQA_DATABASE_URL": "mysql://user:pw@localhost/db"})


def test_unreachable_database_names_the_host_but_never_the_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://ldnqa:hunter2secret@127.0.0.1:{free_port()}/feedback"
    with pytest.raises(StoreUnavailable) as caught:
        PostgresFeedbackStore(url, connect_timeout=3)
    assert "127.0.0.1" in str(caught.value) and "hunter2secret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert describe(url) == f"postgresql://127.0.0.1:{url.split(':')[3].split('/')[0]}/feedback"


def test_web_app_stores_feedback_in_postgres(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from ldnqa.server import create_app
    from web_support import StubAssistant, staff_config

    url = fresh_database(pg_url)
    monkeypatch.setenv("LDNQA_DATABASE_URL", url)
    app = create_app(StubAssistant(), tmp_path / "data", staff_config(), session_secret=b"k" * 32, retention=None)
    with TestClient(app) as client:
        response = client.post("/api/feedback", json={"question": "Does it help?", "answer": "Yes [1].",
                                                      "citations": CITATIONS, "rating": "down"})
    assert response.status_code == 201, response.text
    item = PostgresFeedbackStore(url).get(response.json()["id"])
    assert item is not None and (item.question, item.rating, item.source) == ("Does it help?", "down", "api")
    assert not (tmp_path / "data" / "feedback.sqlite3").exists()
