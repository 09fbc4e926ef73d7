"""The web application: JSON API, document viewer and staff pages (FastAPI), with the Gradio chat at `/`.

    python app.py     # LDNQA_HOST / LDNQA_PORT / LDNQA_DATA_DIR; defaults 127.0.0.1, 7860, data/
    ldnqa serve --host H --port P

`create_app(assistant, data_dir)` builds the app for any object with the engine API (see CONTRACT.md);
`BackgroundServer` runs it in a thread (used by the tests).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from . import ui  # sets the no-network environment before gradio is imported
from .errors import InputError, LdnqaError
from .feedback import FeedbackError, SQLiteFeedbackStore
from .html import PAGE_HEADERS, document_page, esc, page, parse_viewer_query
from .staff import Sessions, StaffConfig, load_secret
from .staff_web import read_limited, staff_router

import gradio as gr  # noqa: E402  (after `ui`, which configures it)
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

log = logging.getLogger("ldnqa.server")
MAX_API_BODY = 256 * 1024
MAX_HISTORY_ITEMS = 50
API_ROUTES = {"ask": "POST", "feedback": "POST", "health": "GET"}


class EngineGate:
    """The engine as the web app uses it: one question at a time, answers as JSON-ready dicts."""

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self._lock = threading.Lock()

    def ask(self, question: str, history: list[str]) -> dict[str, Any]:
        with self._lock:
            return self.assistant.ask(question, history=history).to_dict()

    def meta(self, doc_id: str) -> Mapping[str, Any]:
        doc = self.assistant.document(doc_id)
        return dict(doc.meta or {}) if doc is not None else {}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object, or the 4xx response that explains what is wrong with it."""
    body = await read_limited(request, MAX_API_BODY)
    if body is None:
        return error(413, f"the request body is larger than {MAX_API_BODY // 1024} KB")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error(400, "the request body must be JSON")
    if not isinstance(data, dict):
        return error(400, "the request body must be a JSON object")
    return data


def add_api(app: FastAPI, gate: EngineGate, store: SQLiteFeedbackStore) -> None:
    """POST /api/ask, POST /api/feedback, GET /api/health, and JSON errors for anything else."""

    @app.post("/api/ask")
    async def api_ask(request: Request) -> Response:
        data = await json_body(request)
        if isinstance(data, JSONResponse):
            return data
        question, history = data.get("question"), data.get("history", [])
        if not isinstance(question, str):
            return error(400, "question must be a string")
        if not question.strip():
            return error(400, "question is empty: type a question")
        if history is None:
            history = []
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            return error(400, "history must be a list of earlier questions (strings)")
        if len(history) > MAX_HISTORY_ITEMS:
            return error(400, f"history has more than {MAX_HISTORY_ITEMS} questions")
        try:
            # In a worker thread: the engine is synchronous and may take a while.
            answer = await run_in_threadpool(gate.ask, question, history)
        except InputError as exc:
            return error(400, str(exc))
        except LdnqaError as exc:
            log.error("engine error: %s", exc)
            return error(503, str(exc))
        return JSONResponse(answer)

    @app.post("/api/feedback")
    async def api_feedback(request: Request) -> Response:
        data = await json_body(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            item = store.add(data.get("question"), data.get("answer"), data.get("citations"),
                             data.get("rating"), reported=data.get("report", False),
                             comment=data.get("comment", ""), source="api")
        except FeedbackError as exc:
            return error(400, str(exc))
        return JSONResponse({"id": item}, status_code=201)

    @app.get("/api/health")
    def api_health() -> dict[str, Any]:
        counts = gate.assistant.passage_counts
        return {"status": "ok", "documents": len(gate.assistant.documents),
                "passages": int(sum(counts.values()))}

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api_other(rest: str, request: Request) -> Response:
        if rest in API_ROUTES:
            return error(405, f"use {API_ROUTES[rest]} for /api/{rest}")
        return error(404, f"no such API endpoint: /api/{rest[:100]}")


def add_error_handlers(app: FastAPI) -> None:
    """JSON errors for the API; a plain page elsewhere. Never a stack trace."""

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return error(exc.status_code, str(exc.detail))
        return HTMLResponse(page("Error", f"<h1>{exc.status_code}</h1><p>{esc(exc.detail)}</p>"),
                            status_code=exc.status_code, headers=PAGE_HEADERS)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return error(400, "invalid request: " + "; ".join(str(e.get("msg")) for e in exc.errors()))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error(500, "internal error; the details are in the server log")


def create_app(assistant: Any, data_dir: Path | str, staff: StaffConfig | None = None,
               session_secret: bytes | None = None) -> FastAPI:
    """The whole web app for an engine object. Staff credentials default to the environment."""
    data_dir = Path(data_dir)
    staff = StaffConfig.from_env() if staff is None else staff
    store = SQLiteFeedbackStore.in_data_dir(data_dir)
    sessions = Sessions(session_secret or load_secret(data_dir))
    gate = EngineGate(assistant)
    app = FastAPI(title="ldnqa", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.staff, app.state.gate = store, staff, gate
    add_error_handlers(app)
    add_api(app, gate, store)

    @app.get("/doc/{doc_id:path}")
    def view_document(doc_id: str, request: Request) -> Response:
        doc = assistant.document(doc_id)
        if doc is None:
            return HTMLResponse(page("Not found", "<h1>No such document</h1><p><a href=\"/\">Back to "
                                     "the questions</a></p>"), status_code=404, headers=PAGE_HEADERS)
        start, end, quotes = parse_viewer_query(request.query_params, len(doc.text))
        body = document_page(doc, assistant.passage_counts.get(doc.id), start, end, quotes)
        return HTMLResponse(body, headers=PAGE_HEADERS)

    app.include_router(staff_router(store, staff, sessions, lambda: assistant))
    blocks = ui.build_ui(gate, store)
    return gr.mount_gradio_app(app, blocks, path="/", css=ui.CSS, footer_links=["api"],
                               run_history=False, ssr_mode=False, show_error=False,
                               max_file_size="1mb", mcp_server=False)


class BackgroundServer:
    """Run an app with uvicorn in a daemon thread on `host:port` (port 0: any free port)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="ldnqa-server")
        self.host, self.port = host, port

    def start(self, timeout: float = 60) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web server did not start")
            time.sleep(0.05)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def serve(host: str | None = None, port: int | None = None, corpus_dir: Path | str = "corpus",
          index_dir: Path | str = "index", data_dir: Path | str | None = None) -> None:
    """Load the engine and serve the app until interrupted. None means: environment, then default."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = host or os.environ.get("LDNQA_HOST") or "127.0.0.1"
    raw_port = port if port is not None else os.environ.get("LDNQA_PORT") or 7860
    try:
        port = int(raw_port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise SystemExit(f"Error: LDNQA_PORT must be a port number, not {raw_port!r}") from None
    data_dir = Path(data_dir or os.environ.get("LDNQA_DATA_DIR") or "data")
    staff = StaffConfig.from_env()
    if staff.enabled:
        log.info("staff access enabled for %d user(s) at /staff", len(staff.users))
    else:
        log.warning("%s", staff.problem)
    from . import Assistant  # the engine; imported late so that `--help` stays fast

    assistant = Assistant.load(corpus_dir=str(corpus_dir), index_dir=str(index_dir))
    for name, reason in assistant.skipped:
        log.warning("corpus file skipped: %s: %s", name, reason)
    try:  # load the model now, not on the first visitor's question
        assistant.ask("What is low-dose naltrexone?", history=[])
    except LdnqaError as exc:
        log.warning("warm-up question failed: %s", exc)
    app = create_app(assistant, data_dir, staff)
    log.info("feedback is stored in %s", data_dir.resolve() / "feedback.sqlite3")
    log.info("serving on http://%s:%d/ (staff pages at /staff)", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(root: Path | str | None = None) -> None:
    """`python app.py`: serve corpus/ and index/ (and data/ unless LDNQA_DATA_DIR) under `root`."""
    base = Path(root) if root is not None else Path.cwd()
    data_dir = os.environ.get("LDNQA_DATA_DIR") or base / "data"
    try:
        serve(corpus_dir=base / "corpus", index_dir=base / "index", data_dir=data_dir)
    except LdnqaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
