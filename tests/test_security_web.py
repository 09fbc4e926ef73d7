"""Web security over real HTTP with the stub engine: rate limits, body limits, Gradio routes that are
switched off, files that are never served, response headers, staff login lockout and cross-site
protection. (Each test here fails if its protection is removed from ldnqa/.)"""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import REPO, STAFF_PASSWORD, STAFF_USER, StubAssistant, running_app, staff_config

from ldnqa.guard import Guard, blocked
from ldnqa.limits import RateLimiter, RateLimits, client_key, too_many_message
from ldnqa.staff import SCRYPT_N, StaffConfig, make_hash_line

# --- rate limits --------------------------------------------------------------------------------


def run_async(coro):  # noqa: ANN001, ANN201
    """asyncio.run in a thread of its own: a browser test may have left an event loop running in this one
    (Playwright's sync API does), and asyncio.run refuses to start inside a running loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_token_bucket_allows_a_burst_then_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=3, clock=lambda: now[0])
    assert [limiter.check("a") for _ in range(3)] == [None, None, None]
    assert limiter.check("a") == pytest.approx(10.0)  # one token every 10 s
    assert limiter.check("b") is None  # another client has its own bucket
    now[0] += 10
    assert limiter.check("a") is None
    assert limiter.check("a") == pytest.approx(10.0)
    now[0] += 3600
    assert [limiter.check("a") for _ in range(4)][-1] is not None  # refills up to the burst only


def test_client_table_is_bounded_and_unlimited_means_unlimited():
    limiter = RateLimiter(per_minute=60, burst=1, max_clients=100)
    for n in range(1000):
        limiter.check(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    free = RateLimiter(per_minute=0, burst=1)
    assert all(free.check("a") is None for _ in range(1000))


def test_clients_are_counted_by_address_and_ipv6_by_its_64_block():
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == "?"


def test_limits_come_from_the_environment():
    default = RateLimits.from_env({})
    assert (default.ask.per_minute, default.ask.burst) == (20, 10)
    assert (default.feedback.per_minute, default.feedback.burst) == (10, 10)
    custom = RateLimits.from_env({"LDNQA_ASK_PER_MINUTE": "5", "LDNQA_ASK_BURST": "2",
                                  "LDNQA_FEEDBACK_PER_MINUTE": "0"})
    assert (custom.ask.per_minute, custom.ask.burst, custom.feedback.enabled) == (5, 2, False)
    for bad in ({"LDNQA_ASK_PER_MINUTE": "lots"}, {"LDNQA_ASK_BURST": "0"},
                {"LDNQA_FEEDBACK_PER_MINUTE": "-1"}, {"LDNQA_ASK_PER_MINUTE": "nan"}):
        with pytest.raises(ValueError, match="LDNQA_"):
            RateLimits.from_env(bad)
    assert too_many_message("questions", 0.2) == ("Too many questions from your address in a short "
                                                  "time. Please wait 1 second and try again.")


@pytest.fixture(scope="module")
def limited_app(tmp_path_factory):
    limits = RateLimits(ask=RateLimiter(per_minute=1, burst=3), feedback=RateLimiter(per_minute=1, burst=2))
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("limited"), staff_config(), limits)


def client_at(app: Any, address: str) -> httpx.Client:
    """A client that the server sees at `address` (uvicorn trusts X-Forwarded-For from loopback,
    as it would from a reverse proxy on the same host)."""
    return httpx.Client(base_url=app.url, headers={"X-Forwarded-For": address}, timeout=30)


def test_questions_are_rate_limited_per_client_with_a_clear_429(limited_app):
    calls = len(limited_app.assistant.calls)
    with client_at(limited_app, "203.0.113.5") as a, client_at(limited_app, "203.0.113.6") as b:
        statuses = [a.post("/api/ask", json={"question": "Does LDN help?"}).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        refused = a.post("/api/ask", json={"question": "Does LDN help?"})
        assert refused.status_code == 429
        assert re.fullmatch(r"Too many questions from your address in a short time\. Please wait "
                            r"\d+ seconds? and try again\.", refused.json()["error"])
        assert int(refused.headers["retry-after"]) >= 1
        bad = a.post("/api/ask", content=b"not json")  # refused before the body is even read
        assert bad.status_code == 429
        assert b.post("/api/ask", json={"question": "Does LDN help?"}).status_code == 200
    assert len(limited_app.assistant.calls) == calls + 4  # the refused ones never reached the engine


def test_feedback_is_rate_limited_per_client(limited_app):
    item = {"question": "q", "answer": "a", "rating": "up"}
    with client_at(limited_app, "198.51.100.1") as a, client_at(limited_app, "198.51.100.2") as b:
        assert [a.post("/api/feedback", json=item).status_code for _ in range(3)] == [201, 201, 429]
        assert "Too many feedback messages" in a.post("/api/feedback", json=item).json()["error"]
        assert b.post("/api/feedback", json=item).status_code == 201


def test_the_chat_pages_api_shares_the_question_limit(limited_app):
    from gradio_client import Client

    client = Client(limited_app.url + "/", verbose=False, headers={"X-Forwarded-For": "192.0.2.44"})
    for _ in range(3):
        assert client.predict(question="Does LDN help?", history=[], api_name="/ask")["citations"]
    with pytest.raises(Exception, match="Too many questions"):
        client.predict(question="Does LDN help?", history=[], api_name="/ask")


# --- request size, Gradio routes, files ----------------------------------------------------------


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory):
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("secure"), staff_config())


def test_every_endpoint_refuses_huge_bodies(stub_app):
    huge = b'{"data": ["' + b"x" * (2 * 1024 * 1024) + b'"]}'
    for path in ("/gradio_api/queue/join", "/gradio_api/run/predict", "/api/ask", "/staff/login"):
        response = httpx.post(stub_app.url + path, content=huge,
                              headers={"content-type": "application/json"})
        assert response.status_code == 413, path
        assert "larger than" in response.json()["error"]


def test_bodies_of_unknown_length_are_limited_too(stub_app):
    def chunks():
        for _ in range(40):
            yield b"y" * 64 * 1024

    response = httpx.post(stub_app.url + "/gradio_api/queue/join", content=chunks())
    assert response.status_code == 413
    small = httpx.post(stub_app.url + "/api/ask", content=iter([b'{"question": ', b'"Does LDN help?"}']))
    assert small.status_code == 200  # a chunked body within the limit is read normally


def test_a_body_that_trickles_in_is_cut_off():
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def slow_receive() -> dict[str, Any]:
        await asyncio.sleep(5)
        return {"type": "http.request", "body": b"x", "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for header in ((b"transfer-encoding", b"chunked"), (b"content-length", b"1000")):
        sent.clear()
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": [header]}
        run_async(Guard(app, body_timeout=0.1)(scope, slow_receive, send))
        assert sent[0]["status"] == 408 and seen == []


@pytest.mark.parametrize("path", [
    "/gradio_api/upload", "/gradio_api/file=http://example.com/x.png", "/gradio_api/file=//example.com/x",
    "/gradio_api/file=HTTPS://example.com/x", "/gradio_api/proxy=https://x.hf.space/", "/monitoring",
    "/monitoring/summary"])
def test_gradio_routes_that_reach_out_or_store_files_are_switched_off(stub_app, path):
    assert blocked(path)
    if path.endswith("upload"):
        response = httpx.post(stub_app.url + path, files={"files": ("a.txt", b"patient data")})
    else:
        response = httpx.get(stub_app.url + path)
    assert response.status_code == 404 and response.json() == {"error": "not available"}


def test_gradio_page_and_its_local_files_still_work(stub_app):
    assert not blocked("/gradio_api/file=/tmp/gradio/abc/x.png") and not blocked("/doc/upload")
    assert httpx.get(stub_app.url + "/").status_code == 200
    assert httpx.get(stub_app.url + "/config").json()["mode"] == "blocks"


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as given (no client-side normalisation of `..` or `%2e`)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_index_data_and_source_files_are_never_served(stub_app):
    (stub_app.data_dir / "feedback.sqlite3").stat()  # exists: the store made it
    index = stub_app.data_dir.parent / "index"
    index.mkdir(exist_ok=True)
    (index / "manifest.json").write_text('{"generation": "g-1"}')
    targets = {"app.py": b"from ldnqa.launch import main", "feedback.sqlite3": b"SQLite format 3",
               "pyproject.toml": b"[build-system]", "session_secret": b"", "manifest.json": b"generation"}
    paths = []
    for name in ("app.py", "pyproject.toml", "ldnqa/server.py", "corpus/web/arv-ldn-fibromyalgia.md",
                 "index/README.md", "data/feedback.sqlite3"):
        paths += [f"/{name}", f"/../{name}", f"/static/../../{name}", f"/assets/..%2f..%2f{name}",
                  f"/doc/..%2F..%2F{name}", f"/%2e%2e/{name}", f"/gradio_api/file={REPO / name}",
                  f"/gradio_api/file={name}", f"/gradio_api/file=../{name}", f"/file={REPO / name}"]
    for secret in (stub_app.data_dir / "feedback.sqlite3", stub_app.data_dir / "session_secret",
                   index / "manifest.json", Path("/etc/passwd")):
        paths += [f"/gradio_api/file={secret}", f"/gradio_api/file=..{secret}", f"/static{secret}"]
    for path in paths:
        status, body = raw_get(stub_app.url, path)
        assert status in (400, 403, 404), (path, status)
        for marker in targets.values():
            assert not marker or marker not in body, path
        assert b"root:x:0:0" not in body, path


def test_every_response_carries_the_security_headers(stub_app):
    for path in ("/", "/api/health", "/doc/stub-study", "/staff", "/no-such-page", "/config"):
        response = httpx.get(stub_app.url + path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["referrer-policy"] == "no-referrer", path


# --- staff login ---------------------------------------------------------------------------------


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match[1]


def try_login(client: httpx.Client, password: str) -> httpx.Response:
    token = csrf_of(client.get("/staff").text)
    return client.post("/staff/login", data={"username": STAFF_USER, "password": password,
                                             "csrf": token})


def test_repeated_failed_logins_lock_the_address_out(tmp_path):
    for app in running_app(StubAssistant(), tmp_path, staff_config()):
        with client_at(app, "203.0.113.80") as attacker, client_at(app, "203.0.113.81") as staff:
            assert [try_login(attacker, f"guess {n}").status_code for n in range(5)] == [401] * 5
            locked = try_login(attacker, STAFF_PASSWORD)  # even the right password, for a while
            assert locked.status_code == 429 and "Too many failed logins" in locked.text
            assert "ldnqa_staff=" not in locked.headers.get("set-cookie", "")
            assert try_login(staff, STAFF_PASSWORD).status_code == 303  # others are not affected


def test_staff_passwords_are_salted_slow_hashes():
    line = make_hash_line("alice", "a good long password")
    _, salt, digest = line.split(":")
    assert len(bytes.fromhex(salt)) == 16 and SCRYPT_N >= 2**14
    assert "a good long password" not in line and make_hash_line("alice", "a good long password") != line
    assert StaffConfig.from_env({}).users == {}  # no default account


def test_staff_forms_refuse_cross_site_posts(tmp_path):
    from ldnqa.feedback import SQLiteFeedbackStore

    for app in running_app(StubAssistant(), tmp_path, staff_config()):
        item = SQLiteFeedbackStore.in_data_dir(app.data_dir).add("q", "a", [], "down")
        with httpx.Client(base_url=app.url) as victim, httpx.Client(base_url=app.url) as attacker:
            assert try_login(victim, STAFF_PASSWORD).status_code == 303
            assert try_login(attacker, STAFF_PASSWORD).status_code == 303
            foreign = csrf_of(attacker.get("/staff").text)  # a valid token, of another session
            for data in ({"note": "x"}, {"note": "x", "csrf": foreign}, {"note": "x", "csrf": ""}):
                response = victim.post(f"/staff/review/{item}", data=data,
                                       headers={"Origin": "https://evil.example"})
                assert response.status_code == 403
            assert SQLiteFeedbackStore.in_data_dir(app.data_dir).get(item).reviewed_at is None
            cookie = victim.cookies.get("ldnqa_staff")
        with httpx.Client(base_url=app.url) as login_csrf:  # login itself needs the pre-login cookie
            token = csrf_of(httpx.get(app.url + "/staff").text)
            refused = login_csrf.post("/staff/login", data={"username": STAFF_USER,
                                                            "password": STAFF_PASSWORD, "csrf": token})
            assert refused.status_code == 403 and cookie


def test_questions_beyond_the_waiting_limit_are_turned_away_at_once():
    import threading as th

    from ldnqa.api import EngineGate

    release = th.Event()

    class Slow(StubAssistant):
        def ask(self, question, history=()):  # noqa: ANN001, ANN201
            release.wait(10)
            return super().ask(question, history)

    gate = EngineGate(Slow(), max_waiting=2)

    async def main() -> list[Any]:
        tasks = [asyncio.create_task(gate.ask_json("Does LDN help?", [])) for _ in range(3)]
        await asyncio.sleep(0.2)
        assert gate.waiting == 2 and tasks[2].done() and tasks[2].result() is None  # the third: busy
        release.set()
        return [json.loads(a) if a else a for a in [await t for t in tasks]]

    first, second, third = run_async(main())
    assert first["citations"] and second["citations"] and third is None and gate.waiting == 0


def test_a_question_abandoned_while_waiting_is_never_answered():
    """A client that goes away (its request task is cancelled) takes its queued question with it."""
    import threading as th

    from ldnqa.api import EngineGate

    release, asked = th.Event(), []

    class Slow(StubAssistant):
        def ask(self, question, history=()):  # noqa: ANN001, ANN201
            asked.append(question)
            release.wait(10)
            return super().ask(question, history)

    gate = EngineGate(Slow(), concurrency=1)

    async def main() -> list[Any]:
        tasks = [asyncio.create_task(gate.ask_json(q, [])) for q in ("first?", "gone?", "third?")]
        await asyncio.sleep(0.2)
        tasks[1].cancel()  # waiting behind "first?" when its client leaves
        await asyncio.sleep(0.1)
        release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    first, gone, third = run_async(main())
    first, third = json.loads(first), json.loads(third)
    assert first["citations"] and third["citations"] and isinstance(gone, asyncio.CancelledError)
    assert asked == ["first?", "third?"] and gate.waiting == 0
    gate.close()


def test_the_engine_answers_at_most_its_concurrency_at_once():
    """API and chat-page questions share the gate: never more than `concurrency` in the engine."""
    import threading as th

    from ldnqa.api import EngineGate

    for concurrency in (1, 2):
        lock, inside, most = th.Lock(), [0], [0]

        class Counting(StubAssistant):
            def ask(self, question, history=()):  # noqa: ANN001, ANN201
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.05)
                with lock:
                    inside[0] -= 1
                return super().ask(question, history)

        gate = EngineGate(Counting(), concurrency=concurrency)

        async def main() -> list[Any]:
            chat = [asyncio.to_thread(gate.ask, "Does LDN help?", []) for _ in range(2)]  # noqa: B023
            api = [gate.ask_json("Does LDN help?", []) for _ in range(4)]  # noqa: B023
            return await asyncio.gather(*chat, *api)

        answers = [a if isinstance(a, dict) else json.loads(a) for a in run_async(main())]
        assert len(answers) == 6 and all(a["citations"] for a in answers)
        assert most[0] == concurrency and gate.waiting == 0


def test_concurrency_and_encoder_threads_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    from ldnqa.config import concurrent_asks
    from ldnqa.embedding import serving_threads

    monkeypatch.delenv("LDNQA_CONCURRENT_ASKS", raising=False)
    monkeypatch.delenv("LDNQA_THREADS", raising=False)
    assert concurrent_asks() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert serving_threads(2) == 1 and serving_threads(1) == 2 and serving_threads(4) == 1
    monkeypatch.setenv("LDNQA_THREADS", "2")
    assert serving_threads(2) is None  # the operator's choice stands (the encoder reads it)
    monkeypatch.setenv("LDNQA_CONCURRENT_ASKS", "3")
    assert concurrent_asks() == 3
    for bad in ("two", "0", "65"):
        monkeypatch.setenv("LDNQA_CONCURRENT_ASKS", bad)
        with pytest.raises(ValueError, match="LDNQA_CONCURRENT_ASKS"):
            concurrent_asks()
