"""The HTTP API and document viewer on a real server: the real engine for answers, a stub engine for
error paths that the real one cannot be made to take."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from web_support import REAL_QUESTION, REPO, StubAssistant, running_app, staff_config

from ldnqa.feedback import SQLiteFeedbackStore

ANSWER_KEYS = {"question", "answer", "abstained", "urgent", "notice", "citations"}


@pytest.fixture(scope="module")
def real_app(tmp_path_factory, assistant):
    yield from running_app(assistant, tmp_path_factory.mktemp("api-data"), staff_config())


@pytest.fixture(scope="module")
def stub_app(tmp_path_factory):
    yield from running_app(StubAssistant(), tmp_path_factory.mktemp("stub-data"), staff_config())


@pytest.fixture
def client(real_app):
    with httpx.Client(base_url=real_app.url, timeout=60) as c:
        yield c


def assert_error(response: httpx.Response, status: int, text: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert text in response.json()["error"]


@pytest.mark.slow
def test_health_counts_documents_and_passages(client, real_app):
    body = client.get("/api/health").json()
    engine = real_app.assistant
    assert body == {"status": "ok", "documents": len(engine.documents),
                    "passages": sum(engine.passage_counts.values()), "skipped": [], "waiting": 0}
    assert body["documents"] >= 20 and body["passages"] > body["documents"]


@pytest.mark.slow
def test_ask_returns_the_engines_answer(client, real_app):
    response = client.post("/api/ask", json={"question": REAL_QUESTION, "history": []})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_KEYS
    assert body == real_app.assistant.ask(REAL_QUESTION, history=[]).to_dict()
    assert "[1]" in body["answer"] and body["citations"]


@pytest.mark.slow
def test_follow_up_uses_the_history(client, real_app):
    body = client.post("/api/ask", json={"question": "and its side effects?",
                                         "history": ["What is low-dose naltrexone?"]}).json()
    assert body == real_app.assistant.ask("and its side effects?",
                                          history=["What is low-dose naltrexone?"]).to_dict()
    assert "history" not in body


@pytest.mark.slow
@pytest.mark.parametrize("body, status, text", [
    (b"this is not json", 400, "must be JSON"),
    (b'{"question": "\\ud800 LDN?"}', 400, "invalid Unicode"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "must be JSON"),
    (json.dumps({"question": "ok?", "history": ["q"] * 51}).encode(), 400, "more than 50"),
    (b"\xff\xfe", 400, "must be JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b"{}", 400, "question must be a string"),
    (b'{"question": 42}', 400, "question must be a string"),
    (b'{"question": "   "}', 400, "question is empty"),
    (b'{"question": "ok?", "history": "What is LDN?"}', 400, "history"),
    (b'{"question": "ok?", "history": [1, 2]}', 400, "history"),
    (json.dumps({"question": "x" * 3000}).encode(), 400, "limited to 2000 characters"),  # engine's InputError
    (json.dumps({"question": "x" * 300_000}).encode(), 413, "larger than"),
])
def test_bad_ask_requests_get_a_json_4xx(client, body, status, text):
    assert_error(client.post("/api/ask", content=body), status, text)


@pytest.mark.slow
def test_wrong_method_and_unknown_endpoints(client):
    assert_error(client.get("/api/ask"), 405, "use POST")
    assert_error(client.post("/api/health"), 405, "use GET")
    assert_error(client.get("/api/nothing-here"), 404, "no such API endpoint")


@pytest.mark.slow
def test_feedback_is_stored_with_the_answer_and_read_back(client, real_app):
    answer = client.post("/api/ask", json={"question": REAL_QUESTION}).json()
    response = client.post("/api/feedback", json={
        "question": answer["question"], "answer": answer["answer"], "citations": answer["citations"],
        "rating": "down", "comment": "the citation does not say this"})
    assert response.status_code == 201
    item_id = response.json()["id"]
    item = SQLiteFeedbackStore.in_data_dir(real_app.data_dir).get(item_id)
    assert item is not None
    assert (item.question, item.answer, item.citations) == (answer["question"], answer["answer"],
                                                            answer["citations"])
    assert (item.rating, item.comment, item.source) == ("down", "the citation does not say this", "api")
    queue = SQLiteFeedbackStore.in_data_dir(real_app.data_dir).list_for_review()
    assert queue[0].id == item_id


@pytest.mark.slow
@pytest.mark.parametrize("body, text", [
    ({"answer": "a", "rating": "up"}, "question"),
    ({"question": "q", "answer": "a", "rating": "sideways"}, "rating"),
    ({"question": "q", "answer": "a"}, "rating"),
    ({"question": "q", "answer": "a", "rating": "up", "citations": {"id": 1}}, "citations"),
    ({"question": "q", "answer": "a", "rating": "up", "comment": ["x"]}, "comment"),
])
def test_bad_feedback_gets_a_400(client, real_app, body, text):
    before = len(list(SQLiteFeedbackStore.in_data_dir(real_app.data_dir).all_items()))
    assert_error(client.post("/api/feedback", json=body), 400, text)
    assert len(list(SQLiteFeedbackStore.in_data_dir(real_app.data_dir).all_items())) == before


@pytest.mark.slow
def test_report_without_rating_is_accepted(client):
    response = client.post("/api/feedback", json={"question": "q", "answer": "a", "report": True,
                                                  "comment": "wrong dose"})
    assert response.status_code == 201 and isinstance(response.json()["id"], int)


@pytest.mark.slow
def test_document_viewer_highlights_the_cited_passage(client, real_app):
    answer = client.post("/api/ask", json={"question": REAL_QUESTION}).json()
    citation = answer["citations"][0]
    doc = real_app.assistant.document(citation["doc_id"])
    quotes = "&".join(f"q={a}-{b}" for a, b in citation["quotes"])
    page = client.get(f"/doc/{doc.id}?start={citation['start']}&end={citation['end']}&{quotes}")
    assert page.status_code == 200
    assert 'id="passage"' in page.text
    a, b = citation["quotes"][0]
    assert f"<mark>{_esc(doc.text[a:b])}</mark>" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # i.e. default-src 'none'


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


@pytest.mark.slow
def test_document_viewer_takes_ids_not_paths(client):
    for path in ("/doc/nope", "/doc/..%2F..%2Fpyproject.toml", "/doc/..%2F..%2Fcorpus%2Fstudies%2F"
                 "younger-2013-arthritis-rheum.md", "/doc/younger-2013-arthritis-rheum.md"):
        response = client.get(path)
        assert response.status_code == 404 and "No such document" in response.text
    assert "[build-system]" not in client.get("/doc/../../pyproject.toml").text
    ok = client.get("/doc/younger-2013?start=99999999&end=5&q=oops")  # bad offsets: no highlight
    assert ok.status_code == 200 and 'id="passage"' not in ok.text


@pytest.mark.slow
def test_gradio_client_can_ask(real_app):
    from gradio_client import Client

    client = Client(real_app.url + "/", verbose=False)
    result = client.predict(question=REAL_QUESTION, history=[], api_name="/ask")
    assert result == real_app.assistant.ask(REAL_QUESTION, history=[]).to_dict()
    with pytest.raises(Exception, match="Please type a question"):
        client.predict(question="  ", history=[], api_name="/ask")


# --- error paths, with the stub engine ----------------------------------------------------------

def test_engine_input_error_is_a_400_with_its_message(stub_app):
    response = httpx.post(f"{stub_app.url}/api/ask", json={"question": "x" * 600})
    assert_error(response, 400, "Questions are limited to 500 characters")


def test_engine_crash_is_a_json_500_without_details(stub_app):
    response = httpx.post(f"{stub_app.url}/api/ask", json={"question": "make it crash"})
    assert_error(response, 500, "internal error")
    assert "engine bug" not in response.text


def test_health_with_stub_engine(stub_app):
    assert httpx.get(f"{stub_app.url}/api/health").json() == {
        "status": "ok", "documents": 1, "passages": 2, "waiting": 0,
        "skipped": [{"file": "broken.md", "reason": "bad front matter"}]}


def test_history_is_passed_to_the_engine(stub_app):
    httpx.post(f"{stub_app.url}/api/ask", json={"question": "second?", "history": ["first?"]})
    assert stub_app.assistant.calls[-1] == ("second?", ["first?"])


# --- `serve`: environment, start-up messages ----------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_reads_the_environment_and_says_staff_access_is_disabled(tmp_path, real_index_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDNQA_STAFF")}
    env.update(LDNQA_HOST="127.0.0.1", LDNQA_PORT=str(port), LDNQA_DATA_DIR=str(tmp_path / "data"))
    code = (f"from ldnqa.launch import serve; serve(corpus_dir={str(REPO / 'corpus')!r}, "
            f"index_dir={str(real_index_dir)!r})")
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/staff").status_code == 503
        text = log.read_text()
        assert "Staff access is disabled: set LDNQA_STAFF_FILE" in text
        assert "feedback is stored in" in text and str(tmp_path / "data") in text
        assert (tmp_path / "data" / "feedback.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
