"""The web application: JSON API, document viewer and staff pages (FastAPI), with the Gradio chat at `/`.

`python app.py` and `ldnqa serve` start it through `launch.serve`.
`create_app(assistant, data_dir)` builds the app for any object with the engine API (see CONTRACT.md);
`BackgroundServer` runs it in a thread (used by the tests). The API routes are in `api.py`, the request
guard (body limits, switched-off Gradio routes, headers) in `guard.py`, rate limits in `limits.py`.
Environment: LDNQA_ASK_PER_MINUTE / _BURST, LDNQA_FEEDBACK_PER_MINUTE / _BURST (limits.py),
LDNQA_FEEDBACK_RETENTION_DAYS (feedback.py), LDNQA_STAFF_FILE and friends (staff.py).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from . import ui  # sets the no-network environment before gradio is imported
from .api import EngineGate, add_api, error
from .feedback import FeedbackStore, retention_days
from .feedback_pg import open_store
from .guard import Guard
from .html import PAGE_HEADERS, document_page, esc, page, parse_viewer_query
from .limits import RateLimits
from .staff import Sessions, StaffConfig, load_secret
from .staff_web import staff_router

import gradio as gr  # noqa: E402  (after `ui`, which configures it)
import uvicorn  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import HTMLResponse, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

log = logging.getLogger("ldnqa.server")
PURGE_EVERY = 6 * 3600  # seconds between feedback retention runs while the server is up



def add_error_handlers(app: FastAPI) -> None:
    """JSON errors for the API; a plain page elsewhere. Never a stack trace. (Unexpected exceptions
    are turned into a 500 by `guard.Guard`, which logs their type and place only.)"""

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


class NoQueryStrings(logging.Filter):
    """Access log lines show the path only: a query string may carry what a patient typed."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def purge_feedback(store: FeedbackStore, days: float) -> None:
    """Delete feedback older than the retention period; log how many items (never their text)."""
    try:
        removed = store.purge(days)
    except Exception as exc:  # the server keeps running; the next run tries again
        log.error("feedback retention: purge failed (%s)", type(exc).__name__)
        return
    if removed:
        log.info("feedback retention: removed %d item(s) older than %g days", removed, days)


def lifespan_for(store: FeedbackStore, days: float | None, gate: Any) -> Any:
    """A lifespan that purges old feedback at start-up and every PURGE_EVERY seconds after, starts the
    engine gate, and stops the engine's threads or processes at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def keep_purging(keep: float) -> None:
            while True:
                await run_in_threadpool(purge_feedback, store, keep)
                await asyncio.sleep(PURGE_EVERY)

        task = asyncio.create_task(keep_purging(days)) if days is not None else None
        await gate.start()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
            gate.close()

    return lifespan


def create_app(assistant: Any, data_dir: Path | str, staff: StaffConfig | None = None,
               session_secret: bytes | None = None, limits: RateLimits | None = None,
               retention: float | str | None = "env", concurrency: int | None = None,
               gate: Any = None) -> FastAPI:
    """The whole web app for an engine object. Staff credentials, rate limits, the feedback retention
    (days, None for forever) and the questions answered at once default to the environment.

    `gate` answers the questions: by default an `EngineGate` (threads in this process, for
    `assistant`); `launch.serve` passes `engines.EngineProcesses`, and then `assistant` is only read
    for documents."""
    data_dir = Path(data_dir)
    staff = StaffConfig.from_env() if staff is None else staff
    limits = RateLimits.from_env() if limits is None else limits
    days = retention_days() if retention == "env" else retention
    store = open_store(data_dir)  # PostgreSQL when LDNQA_DATABASE_URL is set, else SQLite in data_dir
    sessions = Sessions(session_secret or load_secret(data_dir))
    gate = gate or EngineGate(assistant, concurrency=concurrency)
    for name, reason in assistant.skipped:
        log.warning("corpus file skipped: %s: %s", name, reason)
    app = FastAPI(title="ldnqa", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan_for(store, float(days) if days is not None else None, gate))
    app.state.store, app.state.staff, app.state.gate = store, staff, gate
    app.add_middleware(Guard)
    add_error_handlers(app)
    add_api(app, gate, store, limits)

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
    blocks = ui.build_ui(gate, store, limits)
    return gr.mount_gradio_app(app, blocks, path="/", css=ui.CSS, footer_links=["api"],
                               run_history=False, ssr_mode=False, show_error=False,
                               max_file_size="1mb", mcp_server=False, enable_monitoring=False)


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
