"""Engine processes (`ldnqa/engines.py`): the web server's answers come from separate processes.

Real engine processes with the real model check that answers are the same as in-process answers, byte
for byte; a stub engine (a small script speaking the same line protocol) checks errors, a process that
dies, one that never starts, and shutdown, without loading a model."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import StubAssistant

from ldnqa.assistant import Library
from ldnqa.engines import EngineProcesses, reply, serve_lines, to_json
from ldnqa.errors import EngineUnavailable, InputError, ModelError
from ldnqa.limits import RateLimits
from ldnqa.server import BackgroundServer, create_app
from ldnqa.staff import StaffConfig

REPO = Path(__file__).resolve().parents[1]
STUB_ENGINE = textwrap.dedent('''
    import json, os, sys, time
    if os.environ.get("STUB_FAIL"):
        sys.exit(3)  # dies before it is ready
    out = sys.stdout.buffer
    out.write(b"R\\n"); out.flush()
    for line in sys.stdin.buffer:
        q = json.loads(line)["question"]
        if q == "die":
            os._exit(9)
        if q.startswith("slow"):
            time.sleep(0.3)
        kind, body = {"long": ("I", "Too long."), "busy": ("E", "No model."), "bug": ("X", "TypeError")
                      }.get(q, ("A", {"question": q, "pid": os.getpid()}))
        out.write(kind.encode() + json.dumps(body).encode() + b"\\n"); out.flush()
''')


def free_of_time(seconds: float = 60) -> float:
    return time.monotonic() + seconds


def serve_with(gate: EngineProcesses, library: Any, tmp_path: Path) -> BackgroundServer:
    app = create_app(library, tmp_path / "data", StaffConfig.from_env(), session_secret=b"test secret",
                     limits=RateLimits.unlimited(), retention=None, gate=gate)
    return BackgroundServer(app).start()


def wait_ready(url: str, gate: EngineProcesses, count: int) -> None:
    deadline = free_of_time()
    while gate.ready < count:
        assert time.monotonic() < deadline, "engine processes did not start"
        time.sleep(0.05)
    assert httpx.get(url + "/api/health").json()["status"] == "ok"


@pytest.fixture
def stub_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    script = tmp_path / "stub_engine.py"
    script.write_text(STUB_ENGINE, encoding="utf-8")

    def start(count: int = 2, fail: bool = False) -> tuple[EngineProcesses, BackgroundServer]:
        if fail:
            monkeypatch.setenv("STUB_FAIL", "1")
        library = StubAssistant()
        gate = EngineProcesses(library, "corpus", "index", count, max_waiting=8,
                               command=[sys.executable, str(script)])
        started.append((gate, serve_with(gate, library, tmp_path)))
        return started[-1]

    started: list[tuple[EngineProcesses, BackgroundServer]] = []
    yield start
    for gate, server in started:
        server.stop()
        gate.close()


def ask(url: str, question: str, history: list[str] | None = None) -> httpx.Response:
    return httpx.post(url + "/api/ask", json={"question": question, "history": history or []}, timeout=60)


# --- the engine side of the protocol (pure) --------------------------------------------------------

def test_reply_lines_carry_answers_and_each_kind_of_error():
    stub = StubAssistant()
    answer = reply(stub, b'{"question": "Does LDN help?", "history": ["What is LDN?"]}')
    assert answer[:1] == b"A" and json.loads(answer[1:]) == stub.ask("Does LDN help?").to_dict()
    assert stub.calls[0] == ("Does LDN help?", ["What is LDN?"])
    assert reply(stub, json.dumps({"question": "x" * 501}).encode()) == \
        b'I"Questions are limited to 500 characters; please shorten yours."'
    assert reply(stub, b'{"question": "make it crash"}') == b'X"RuntimeError"'

    class NoModel(StubAssistant):
        def ask(self, question, history=()):  # noqa: ANN001, ANN201
            raise ModelError("the model cannot be loaded")

    assert reply(NoModel(), b'{"question": "Hi?"}') == b'E"the model cannot be loaded"'
    assert reply(stub, b"not json")[:1] == b"X"  # a broken line fails alone


def test_serve_lines_says_ready_first_then_answers_each_line_in_order(tmp_path: Path):
    import io

    out = io.BytesIO()
    serve_lines(StubAssistant(), [b'{"question": "one?"}\n', b'{"question": "two?"}\n'], out)
    lines = out.getvalue().split(b"\n")
    assert lines[0] == b"R" and [json.loads(x[1:])["question"] for x in lines[1:3]] == ["one?", "two?"]
    assert lines[3:] == [b""]


def test_answer_json_is_the_bytes_starlette_would_send():
    from fastapi.responses import JSONResponse

    answer = {"question": "Dose – 4.5 mg?", "answer": "“quoted” [1]", "score": 0.5, "page": None}
    assert to_json(answer) == JSONResponse(answer).body


# --- the web side, with a stub engine --------------------------------------------------------------

def test_questions_are_spread_over_the_processes_and_errors_keep_their_status(stub_engines):
    gate, server = stub_engines(count=2)
    wait_ready(server.url, gate, 2)
    pids = {ask(server.url, f"q{i}?").json()["pid"] for i in range(12)}
    assert pids == {w.process.pid for w in gate.workers}
    assert (ask(server.url, "long").status_code, ask(server.url, "long").json()) == (400, {"error": "Too long."})
    busy = ask(server.url, "busy")
    assert busy.status_code == 503 and "not available" in busy.json()["error"]
    bug = ask(server.url, "bug")
    assert bug.status_code == 500 and "TypeError" not in bug.text
    assert gate.ask("from the chat page?", [])["question"] == "from the chat page?"
    with pytest.raises(InputError, match="Too long"):
        gate.ask("long", [])


def test_a_question_abandoned_in_the_engine_does_not_take_the_next_askers_reply(stub_engines):
    """A client that goes away once its question was sent: the reply is read and dropped, and the
    process takes the next question (one process, so the next question must wait for it)."""
    import asyncio

    gate, server = stub_engines(count=1)
    wait_ready(server.url, gate, 1)

    async def abandon_then_ask() -> str:
        task = asyncio.ensure_future(gate.ask_json("slow", []))
        await asyncio.sleep(0.1)  # sent, not yet answered
        task.cancel()
        return json.loads(await gate.ask_json("next?", []))["question"]

    assert asyncio.run_coroutine_threadsafe(abandon_then_ask(), gate.loop).result(10) == "next?"
    with ThreadPoolExecutor(6) as pool:  # fewer than max_waiting: none is refused as busy
        replies = list(pool.map(lambda i: ask(server.url, f"q{i}?").json()["question"], range(40)))
    assert replies == [f"q{i}?" for i in range(40)] and gate.waiting == 0


def test_a_process_that_dies_is_replaced_and_only_its_question_fails(stub_engines):
    gate, server = stub_engines(count=2)
    wait_ready(server.url, gate, 2)
    before = {w.process.pid for w in gate.workers}
    died = ask(server.url, "die")
    assert died.status_code == 503 and "try again" in died.json()["error"]
    wait_ready(server.url, gate, 2)
    after = {w.process.pid for w in gate.workers}
    assert len(after) == 2 and len(after & before) == 1
    # A process killed while free is noticed before a question is sent to it: no failed question.
    os.kill(next(iter(after & before)), signal.SIGKILL)
    time.sleep(0.5)
    assert [ask(server.url, f"after {i}?").status_code for i in range(6)] == [200] * 6
    wait_ready(server.url, gate, 2)


def test_engines_that_never_start_give_a_clear_503_not_a_hang(stub_engines):
    gate, server = stub_engines(count=2, fail=True)
    deadline = free_of_time()
    while True:  # questions wait while the processes (re)start, then are refused plainly
        health = httpx.get(server.url + "/api/health")
        response = ask(server.url, "anyone?")
        if health.json()["status"] == "unavailable":
            break
        assert health.status_code == 200 and health.json()["status"] == "starting"
        assert time.monotonic() < deadline
    assert gate.restarts > 5 and gate.workers == [] and health.status_code == 503
    assert response.status_code == 503 and "not available" in response.json()["error"]
    with pytest.raises(EngineUnavailable, match="could not be started"):
        gate.ask("and from the chat page?", [])


def test_shutdown_stops_the_engine_processes(stub_engines):
    gate, server = stub_engines(count=2)
    wait_ready(server.url, gate, 2)
    processes = [w.process for w in gate.workers]
    server.stop()
    gate.close()
    assert all(p.poll() is not None for p in processes)


# --- real engine processes -------------------------------------------------------------------------

def test_an_engine_process_exits_when_its_input_closes(real_index_dir: Path):
    """So an engine process never outlives a web server that was killed (its pipe closes)."""
    engine = subprocess.Popen([sys.executable, "-m", "ldnqa.engines", "--corpus", str(REPO / "corpus"),
                               "--index", str(real_index_dir), "--threads", "1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert engine.stdout.readline() == b"R\n"
        engine.stdin.write(b'{"question": "What dose is used?", "history": []}\n')
        engine.stdin.flush()
        line = engine.stdout.readline()
        assert line[:1] == b"A" and json.loads(line[1:])["citations"]
        engine.stdin.close()
        assert engine.wait(timeout=30) == 0
    finally:
        engine.kill()


@pytest.mark.slow
def test_engine_processes_answer_exactly_as_the_engine_in_this_process(real_index_dir: Path,
                                                                      assistant: Any, tmp_path: Path):
    library = Library.load(REPO / "corpus", real_index_dir, log=lambda m: None)
    gate = EngineProcesses(library, REPO / "corpus", real_index_dir, 2, max_waiting=8, threads=1)
    server = serve_with(gate, library, tmp_path)
    try:
        wait_ready(server.url, gate, 2)
        asked = [("What dose of LDN is used?", []), ("What side effects does it have?", ["What is LDN?"]),
                 ("Can I take it while pregnant?", []), ("I took my whole bottle of LDN", [])]
        for question, history in asked:
            response = ask(server.url, question, history)
            assert response.status_code == 200
            assert response.content == to_json(assistant.ask(question, history).to_dict())
            assert gate.ask(question, history) == assistant.ask(question, history).to_dict()
        too_long = ask(server.url, "why " * 2000)
        assert too_long.status_code == 400 and "limited to" in too_long.json()["error"]
        viewer = httpx.get(f"{server.url}/doc/{library.documents[0].id}")
        assert viewer.status_code == 200 and library.documents[0].text[:40] in viewer.text
    finally:
        server.stop()
        gate.close()
