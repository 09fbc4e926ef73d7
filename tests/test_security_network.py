"""No outbound network, and nothing a patient types in the logs or on disk: the real server (real
engine, real `serve()`) in its own process, under an audit hook that records every socket connect and
name lookup. The process does not inherit the no-network switches from the tests: the code sets them."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from web_support import (AUDIT_WRAPPER, NETWORK_SWITCHES, STAFF_PASSWORD, STAFF_USER, audited_server,
                         outbound)

pytestmark = pytest.mark.slow
ASKED = "quokka-7c1e"  # in questions only: must never be written anywhere
SENT = "wombat-52d9"  # in feedback the user chose to send: stored in the database, nowhere else


@pytest.fixture(scope="module")
def server(real_index_dir):
    return audited_server(real_index_dir)


def test_the_recorder_catches_gradios_calls_when_nothing_switches_them_off(tmp_path):
    """The control for the tests below: plain Gradio, with no switch set, reaches out (its analytics go
    to api.gradio.app, its hub client to huggingface.co), and the recorder sees it. Which host comes first
    differs between machines, so the wait ends on Gradio's own host and the check accepts either."""
    (tmp_path / "wrapper.py").write_text(AUDIT_WRAPPER)
    (tmp_path / "plain_gradio.py").write_text("import time\nimport gradio as gr\ngr.Blocks()\n"
                                              "time.sleep(60)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k not in NETWORK_SWITCHES}
    log = tmp_path / "events.jsonl"
    process = subprocess.Popen([sys.executable, str(tmp_path / "wrapper.py"),
                                str(tmp_path / "plain_gradio.py")], env={**env, "NET_AUDIT_LOG": str(log)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, found = time.monotonic() + 60, []
        while not any("api.gradio.app" in json.dumps(e) for e in found) and time.monotonic() < deadline:
            time.sleep(0.5)
            if log.exists():
                found = outbound([json.loads(x) for x in log.read_text().splitlines() if x.strip()])
    finally:
        process.kill()
        process.wait()
    hosts = {e["args"][0] for e in found if e["event"] == "socket.getaddrinfo"}
    assert hosts & {"api.gradio.app", "huggingface.co"}, found


def exercise(url: str) -> None:
    """Everything a visitor, an API client and a member of staff can do, once."""
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.get("/").status_code == 200
        for path in ("/config", "/theme.css", "/gradio_api/info", "/doc/younger-2013-arthritis-rheum",
                     "/staff", "/api/health", "/manifest.json"):
            assert client.get(path).status_code < 500, path
        answer = client.post("/api/ask", json={"question": f"What dose of LDN was used? {ASKED}",
                                               "history": [f"What is LDN? {ASKED}"]})
        assert answer.status_code == 200
        for body in ({"question": ASKED * 400}, {"question": f"\x00{ASKED}\x07 <script>"},
                     {"question": ASKED, "history": ASKED}):
            assert client.post("/api/ask", json=body).status_code in (200, 400)
        assert client.post("/api/ask", content=f'{{"question": "{ASKED}'.encode()).status_code == 400
        assert client.get(f"/api/ask?question={ASKED}").status_code == 405
        stored = client.post("/api/feedback", json={**answer.json(), "question": f"Dose? {SENT}",
                                                    "rating": "down", "comment": f"wrong {SENT}"})
        assert stored.status_code == 201
        for path in ("/gradio_api/file=http://example.com/a.png", "/gradio_api/file=https://1.1.1.1/",
                     "/gradio_api/proxy=https://x.hf.space/"):
            assert client.get(path).status_code == 404
        token = client.get("/staff").text.split('name="csrf" value="')[1].split('"')[0]
        assert client.post("/staff/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD,
                                                 "csrf": token}).status_code == 303
        assert SENT in client.get("/staff/export.csv").text
    from gradio_client import Client

    chat = Client(url + "/", verbose=False)
    assert chat.predict(question=f"Does LDN help sleep? {ASKED}", history=[], api_name="/ask")
    with pytest.raises(Exception, match="Please type a question"):
        chat.predict(question=" \x00 ", history=[], api_name="/ask")


def test_starting_and_answering_opens_no_connection_beyond_loopback(server):
    exercise(server.url)
    time.sleep(1)  # let any background thread (analytics, version check) get going
    events = server.events()
    assert any(e["event"] == "socket.bind" for e in events)  # the recorder works in the server ...
    audited = [e["args"] for e in events if e["event"] == "process"]
    assert sum("ldnqa.engines" in args for args in audited) >= 2  # ... and in its engine processes
    assert outbound(events) == []


def files_containing(folder: Path, text: str) -> list[str]:
    return [str(p.relative_to(folder)) for p in sorted(folder.rglob("*"))
            if p.is_file() and text.encode() in p.read_bytes()]


def test_nothing_a_patient_types_reaches_the_log_or_the_disk(server):
    exercise(server.url)
    log = server.log_text()
    assert "POST /api/ask" in log and "GET /api/ask HTTP" in log  # requests are logged ...
    assert ASKED not in log and SENT not in log  # ... but not what was typed
    assert files_containing(server.folder, ASKED) == []
    assert files_containing(server.folder, SENT) != []  # chosen feedback is kept (the check works)
    assert all(name.startswith("data/feedback.sqlite3") for name in files_containing(server.folder, SENT))
