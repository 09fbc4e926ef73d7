"""The outermost layer of the web app (plain ASGI): request size limits, Gradio routes the app does not
use, and security headers on every response.

- Every request body is limited to `max_body` bytes (413 otherwise), also for Gradio's own endpoints,
  which would otherwise read any size into memory, and must arrive within `body_timeout` seconds (408
  otherwise): it is read here in full before the app sees it.
- Gradio's file upload (`/gradio_api/upload`: the page has no file inputs, and uploads would be kept on
  disk), its URL fetcher (`/gradio_api/file=http...`, an outbound request on a visitor's behalf), its
  reverse proxy (`/proxy=`) and its monitoring pages answer 404.
- Every response says: no MIME sniffing, no referrer, not to be framed by other sites.
- An unexpected exception becomes a JSON 500 and one log line with its type and code location only:
  never its message or the request (which may hold what a patient typed), and never re-raised to the
  server, which would log it in full.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import traceback
from typing import Any, Awaitable, Callable, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("ldnqa.server")
MAX_BODY = 1024 * 1024
BODY_TIMEOUT = 20.0
BLOCKED = re.compile(r"^/gradio_api/upload|/file=(?:[a-z][a-z0-9+.-]*:|//|\\\\)|/proxy=|^/monitoring",
                     re.I)
HEADERS = {b"x-content-type-options": b"nosniff", b"referrer-policy": b"no-referrer",
           b"x-frame-options": b"DENY"}
FRAME_CSP = b"frame-ancestors 'none'"


def blocked(path: str) -> bool:
    """True for the Gradio routes this app switches off (see the module docstring)."""
    return bool(BLOCKED.search(path))


async def send_json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware; wrap the whole app: `Guard(app)`."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, body_timeout: float = BODY_TIMEOUT) -> None:
        self.app, self.max_body, self.body_timeout = app, max_body, body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if blocked(scope.get("path", "")):
            await send_json(send, 404, "not available")
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared and not declared.isdigit():
            await send_json(send, 400, "bad Content-Length")
            return
        if declared and int(declared) > self.max_body:
            await send_json(send, 413, f"the request body is larger than {self.max_body // 1024} KB")
            return
        if (declared and declared != "0") or b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            buffered = await self._buffer(receive, send)  # read it all now, within the time limit
            if buffered is None:
                return
            receive = buffered
        started = [False]
        try:
            await self.app(scope, receive, self._with_headers(send, started))
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            frames = traceback.extract_tb(exc.__traceback__)[-4:]
            where = "; ".join(f"{source_name(f.filename)}:{f.lineno} in {f.name}" for f in frames)
            log.error("unexpected %s on %s %s (%s)", type(exc).__name__, scope.get("method"),
                      str(scope.get("path", ""))[:100], where)
            if not started[0]:
                await send_json(send, 500, "internal error; the details are in the server log")

    async def _buffer(self, receive: Receive, send: Send) -> Receive | None:
        """Read the body (up to the limit, within the time limit) and replay it; None when refused."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return None  # the client went away
                    size += len(message.get("body", b""))
                    if size > self.max_body:
                        await send_json(send, 413, f"the request body is larger than "
                                        f"{self.max_body // 1024} KB")
                        return None
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            await send_json(send, 408, "the request body arrived too slowly")
            return None
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> Message:
            return replay.pop() if replay else await receive()

        return replayed

    @staticmethod
    def _with_headers(send: Send, started: list[bool]) -> Send:
        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in HEADERS.items() if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", FRAME_CSP))
                message["headers"] = headers
            await send(message)

        return sender


def source_name(filename: str) -> str:
    """The last two parts of a source file's path (enough to find it, without the install prefix)."""
    return "/".join(filename.replace("\\", "/").split("/")[-2:])
