"""The JSON API: POST /api/ask, POST /api/feedback, GET /api/health, and JSON errors for the rest.

Every error is `{"error": "<message for the user>"}` with a 4xx status: 400 bad input, 404/405 wrong
endpoint or method, 408 body too slow, 413 body too large, 429 rate limited (with Retry-After), and
503 when too many questions are already waiting. Question text is never logged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .config import MAX_WAITING, concurrent_asks
from .engines import corpus_health, document_meta, to_json
from .errors import InputError, LdnqaError
from .feedback import FeedbackError, FeedbackStore
from .limits import RateLimiter, RateLimits, client_key, too_many_message
from .staff_web import read_limited

log = logging.getLogger("ldnqa.server")
MAX_API_BODY = 256 * 1024
MAX_HISTORY_ITEMS = 50
API_ROUTES = {"ask": "POST", "feedback": "POST", "health": "GET"}


class EngineGate:
    """The engine as the web app uses it: at most `concurrency` questions at a time (the engine is
    thread-safe; the limit keeps the cores from being oversubscribed), answers as JSON-ready dicts.

    Chat-page questions (Gradio's worker threads) call `ask`; API questions await `ask_json`, which
    queues them for the engine's own threads without holding the event loop or a worker thread, and
    refuses when the queue is too long. Those threads take the next question as soon as they finish
    one: a core does not wait for the event loop between questions (measured under 8 clients: the
    server's CPU use rose from 1.76 to 1.82 of 2 cores, answers per second by 0.5-4.5%)."""

    def __init__(self, assistant: Any, max_waiting: int = MAX_WAITING, concurrency: int | None = None) -> None:
        self.assistant = assistant
        self.max_waiting = max_waiting
        self.waiting = 0
        self.concurrency = concurrency or concurrent_asks()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._engine = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ldnqa-engine")
        self.health = {"status": "ok", **corpus_health(assistant)}

    async def start(self) -> None:
        """Nothing to start: the engine is in this process (see `engines.EngineProcesses`)."""

    def ask(self, question: str, history: list[str]) -> dict[str, Any]:
        with self._slots:
            return dict(self.assistant.ask(question, history=history).to_dict())

    def _ask_json(self, question: str, history: list[str]) -> bytes:
        return to_json(self.ask(question, history))  # encoded here, off the event loop

    async def ask_json(self, question: str, history: list[str]) -> bytes | None:
        """The answer as the JSON bytes /api/ask sends, or None when `max_waiting` questions are
        already waiting.

        A question whose client goes away while it waits is dropped from the queue (cancelling the
        awaiting task cancels its future), so abandoned questions cost the engine nothing."""
        if self.waiting >= self.max_waiting:
            return None
        self.waiting += 1
        try:
            return await asyncio.wrap_future(self._engine.submit(self._ask_json, question, history))
        finally:
            self.waiting -= 1

    def close(self) -> None:
        """Stop taking questions; queued ones are cancelled."""
        self._engine.shutdown(wait=False, cancel_futures=True)

    def meta(self, doc_id: str) -> Mapping[str, Any]:
        return document_meta(self.assistant, doc_id)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def limited(limiter: RateLimiter, request: Request, what: str) -> JSONResponse | None:
    """A 429 response when this client has used up its allowance, else None."""
    wait = limiter.check(client_key(request.client.host if request.client else None))
    if wait is None:
        return None
    return error(429, too_many_message(what, wait), {"Retry-After": str(max(1, math.ceil(wait)))})


async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
    """The request's JSON object, or the 4xx response that explains what is wrong with it."""
    try:
        body = await read_limited(request, MAX_API_BODY)
    except TimeoutError:
        return error(408, "the request body arrived too slowly")
    if body is None:
        return error(413, f"the request body is larger than {MAX_API_BODY // 1024} KB")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return error(400, "the request body must be JSON (UTF-8)")
    if not isinstance(data, dict):
        return error(400, "the request body must be a JSON object")
    try:  # JSON escapes can encode lone surrogates, which are not text and cannot be stored or sent
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return error(400, "the request contains invalid Unicode (a lone surrogate escape)")
    return data


def ask_input(data: dict[str, Any]) -> tuple[str, list[str]] | JSONResponse:
    """The question and history of an /api/ask body, or the 400 that says what is wrong."""
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
    return question, history


async def admitted_body(bucket: RateLimiter, request: Request, what: str) -> dict[str, Any] | Response:
    """The request's JSON object, or the 429/4xx response when the client is over its rate limit or
    the body is not a JSON object."""
    refused = limited(bucket, request, what)
    if refused:
        return refused
    return await json_body(request)


def add_api(app: FastAPI, gate: Any, store: FeedbackStore, limits: RateLimits) -> None:
    """The /api routes on `app`."""

    @app.post("/api/ask")
    async def api_ask(request: Request) -> Response:
        data = await admitted_body(limits.ask, request, "questions")
        if isinstance(data, Response):
            return data
        checked = ask_input(data)
        if isinstance(checked, JSONResponse):
            return checked
        try:
            answer = await gate.ask_json(*checked)
        except InputError as exc:
            return error(400, str(exc))
        except LdnqaError as exc:
            log.error("engine error (%s)", type(exc).__name__)
            return error(503, "the answer engine is not available; please try again later")
        if answer is None:
            return error(503, "the server is busy; please try again in a minute", {"Retry-After": "30"})
        return Response(answer, media_type="application/json")

    @app.post("/api/feedback")
    async def api_feedback(request: Request) -> Response:
        data = await admitted_body(limits.feedback, request, "feedback messages")
        if isinstance(data, Response):
            return data
        try:
            item = await anyio.to_thread.run_sync(lambda: store.add(
                data.get("question"), data.get("answer"), data.get("citations"), data.get("rating"),
                reported=data.get("report", False), comment=data.get("comment", ""), source="api"))
        except FeedbackError as exc:
            return error(400, str(exc))
        return JSONResponse({"id": item}, status_code=201)

    @app.get("/api/health")
    async def api_health() -> Response:
        health = {**gate.health, "waiting": gate.waiting}  # status: ok, starting, or unavailable (503)
        return JSONResponse(health, status_code=503 if health["status"] == "unavailable" else 200)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api_other(rest: str, request: Request) -> Response:
        if rest in API_ROUTES:
            return error(405, f"use {API_ROUTES[rest]} for /api/{rest}")
        return error(404, "no such API endpoint")
