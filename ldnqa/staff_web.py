"""The staff pages under /staff: login, the review queue, CSV export and the library view.

Plain server-rendered HTML (no scripts). Sessions are signed HttpOnly SameSite=Strict cookies; every
POST carries a CSRF token tied to the session (or, for the login form, to a pre-login cookie).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .feedback import FeedbackError, FeedbackItem, FeedbackStore
from .html import PAGE_HEADERS, as_int, clean_quotes, doc_href, esc, kind_line, marked, page
from .staff import LoginThrottle, Sessions, StaffConfig

log = logging.getLogger("ldnqa.staff")
SESSION_COOKIE = "ldnqa_staff"
LOGIN_COOKIE = "ldnqa_login"
MAX_FORM = 64 * 1024
BODY_TIMEOUT = 20.0


def html_response(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/staff", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


async def read_limited(request: Request, limit: int, timeout: float = BODY_TIMEOUT) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes (stops reading early).
    Raises TimeoutError when the body takes longer than `timeout` seconds to arrive."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async with asyncio.timeout(timeout):
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return None
    return bytes(body)


async def read_form(request: Request) -> dict[str, str]:
    try:
        body = await read_limited(request, MAX_FORM)
    except TimeoutError:
        return {}
    if body is None:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {k: v[0] for k, v in fields.items()}


def csrf_field(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(token)}">'


def login_page(token: str, error: str = "") -> str:
    alert = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    return page("Staff login", (
        f'<h1>Staff login</h1>{alert}<form method="post" action="/staff/login">{csrf_field(token)}'
        '<label for="username">User name</label><input type="text" id="username" name="username" '
        'autocomplete="username" required>'
        '<label for="password">Password</label><input type="password" id="password" name="password" '
        'autocomplete="current-password" required><button type="submit">Log in</button></form>'))


def citation_block(c: Any) -> str:
    if not isinstance(c, dict):
        return ""
    start, end = as_int(c.get("start")), as_int(c.get("end"))
    quotes = clean_quotes(c.get("quotes"), start, end) if start is not None and end is not None else []
    href = doc_href(str(c.get("doc_id") or ""), start, end, c.get("quotes"))
    return (f'<li><a href="{esc(href)}">[{esc(c.get("id"))}] {esc(c.get("title"))}</a> '
            f'<span>({esc(kind_line(c.get("kind"), {}, c.get("year")))}; {esc(c.get("reference"))})</span>'
            f'<blockquote>{marked(str(c.get("text") or ""), start or 0, quotes)}</blockquote></li>')


def queue_item(item: FeedbackItem, token: str) -> str:
    badges = []
    if item.reported:
        badges.append('<span class="badge report">problem reported</span>')
    if item.rating:
        label = "not helpful" if item.rating == "down" else "helpful"
        badges.append(f'<span class="badge {esc(item.rating)}">{label}</span>')
    cites = "".join(citation_block(c) for c in item.citations) or "<li>(no citations)</li>"
    if item.reviewed_at:
        review = (f'<p class="note">Reviewed by {esc(item.reviewed_by)} at {esc(item.reviewed_at)}: '
                  f'{esc(item.review_note) or "(no note)"}</p>')
    else:
        review = (f'<form method="post" action="/staff/review/{item.id}">{csrf_field(token)}'
                  f'<label for="note-{item.id}">Review note</label>'
                  f'<textarea id="note-{item.id}" name="note" rows="2"></textarea>'
                  f'<button type="submit">Mark #{item.id} reviewed</button></form>')
    return (f'<article class="item" id="item-{item.id}"><h2>#{item.id} · {esc(item.created_at)} · '
            f'{esc(item.source)} {" ".join(badges)}</h2>'
            f'<p><strong>Question:</strong> <span class="question">{esc(item.question)}</span></p>'
            f'<p><strong>Comment:</strong> <span class="comment">{esc(item.comment) or "(none)"}</span></p>'
            f'<p><strong>Answer:</strong></p><div class="answer">{esc(item.answer)}</div>'
            f'<p><strong>Citations:</strong></p><ol class="citations">{cites}</ol>{review}</article>')


def queue_page(store: FeedbackStore, user: str, token: str, show_all: bool) -> str:
    items = store.list_for_review(include_reviewed=show_all)
    toggle = ('<a href="/staff">Show only items waiting for review</a>' if show_all else
              '<a href="/staff?all=1">Show reviewed items too</a>')
    head = (f'<h1>Review queue</h1><p>{len(items)} reported or "not helpful" answers'
            f'{"" if show_all else " waiting for review"}, newest first. {toggle} · '
            f'<a href="/staff/export.csv">Export all feedback (CSV)</a></p>'
            f'<form method="post" action="/staff/logout" class="inline">{csrf_field(token)}'
            '<button type="submit">Log out</button></form>')
    body = "".join(queue_item(item, token) for item in items) or "<p>Nothing to review.</p>"
    return page("Review queue", head + body, user=user, wide=True)


def library_page(assistant: Any, user: str) -> str:
    rows = []
    counts = assistant.passage_counts
    for doc in assistant.documents:
        rows.append(f'<tr><td><a href="{esc(doc_href(doc.id))}">{esc(doc.title)}</a><br>'
                    f'<code>{esc(doc.id)}</code></td><td>{esc(kind_line(doc.kind, doc.meta or {}))}</td>'
                    f'<td>{esc(doc.reference)}</td><td>{esc(doc.path)}</td>'
                    f'<td>{esc(counts.get(doc.id, 0))}</td></tr>')
    skipped = "".join(f"<li><code>{esc(f)}</code>: {esc(r)}</li>" for f, r in assistant.skipped)
    return page("Library", (
        f'<h1>Library</h1><p>{len(rows)} documents, {sum(counts.values())} passages. Open a title to '
        'read the document in full.</p><div style="overflow-x:auto"><table><thead><tr><th>Title</th>'
        '<th>Kind</th><th>Reference</th><th>File</th><th>Passages</th></tr></thead><tbody>'
        + "".join(rows) + "</tbody></table></div>"
        + (f"<h2>Skipped files</h2><ul>{skipped}</ul>" if skipped else "")), user=user, wide=True)


def staff_router(store: FeedbackStore, staff: StaffConfig, sessions: Sessions,
                 get_assistant: Callable[[], Any]) -> APIRouter:
    """The /staff routes. With staff access disabled, every route explains how to enable it."""
    router = APIRouter()
    throttle = LoginThrottle()

    def disabled() -> HTMLResponse:
        return html_response(page("Staff access disabled", f'<h1>Staff access</h1><p class="error">'
                                  f'{esc(staff.problem)}</p>'), 503)

    def session(request: Request) -> tuple[str | None, str]:
        cookie = request.cookies.get(SESSION_COOKIE)
        user = sessions.user(cookie)
        return (user if user in staff.users else None), (cookie or "")

    @router.get("/staff")
    def review_queue(request: Request, all: str = "") -> Response:
        if not staff.enabled:
            return disabled()
        user, cookie = session(request)
        if user:
            return html_response(queue_page(store, user, sessions.csrf_token(cookie), all == "1"))
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
        response = html_response(login_page(sessions.csrf_token(nonce)))
        set_cookie(response, request, LOGIN_COOKIE, nonce, 3600)
        return response

    @router.post("/staff/login")
    async def login(request: Request) -> Response:
        if not staff.enabled:
            return disabled()
        form = await read_form(request)
        nonce = request.cookies.get(LOGIN_COOKIE) or ""
        if not sessions.check_csrf(nonce, form.get("csrf")):
            return html_response(page("Staff login", '<h1>Staff login</h1><p class="error">The form '
                                      'expired. <a href="/staff">Log in again</a>.</p>'), 403)
        client = request.client.host if request.client else "?"
        if throttle.blocked(client):
            return html_response(login_page(sessions.csrf_token(nonce), "Too many failed logins; "
                                            "wait a few minutes and try again."), 429)
        user = form.get("username", "")
        # scrypt takes a while on purpose: in a worker thread, so the server keeps answering meanwhile
        if not await run_in_threadpool(staff.verify, user, form.get("password", "")):
            throttle.failed(client)
            log.warning("staff login refused for %r from %s", user[:64], client)
            return html_response(login_page(sessions.csrf_token(nonce),
                                            "Wrong user name or password."), 401)
        throttle.succeeded(client)
        log.info("staff login: %s", user)
        response = RedirectResponse("/staff", status_code=303)
        set_cookie(response, request, SESSION_COOKIE, sessions.issue(user), sessions.lifetime)
        response.delete_cookie(LOGIN_COOKIE, path="/staff")
        return response

    async def checked_post(request: Request) -> tuple[str | None, dict[str, str], Response | None]:
        if not staff.enabled:
            return None, {}, disabled()
        user, cookie = session(request)
        if not user:
            return None, {}, html_response(page("Staff", '<p class="error">Your session has ended. '
                                                '<a href="/staff">Log in</a>.</p>'), 401)
        form = await read_form(request)
        if not sessions.check_csrf(cookie, form.get("csrf")):
            return None, {}, html_response(page("Staff", '<p class="error">The form expired. '
                                                '<a href="/staff">Reload the queue</a>.</p>'), 403)
        return user, form, None

    @router.post("/staff/logout")
    async def logout(request: Request) -> Response:
        user, _, refused = await checked_post(request)
        if refused:
            return refused
        sessions.revoke(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/staff", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/staff")
        return response

    @router.post("/staff/review/{item_id}")
    async def review(item_id: int, request: Request) -> Response:
        user, form, refused = await checked_post(request)
        if refused:
            return refused
        try:
            found = store.mark_reviewed(item_id, user or "", form.get("note", ""))
        except FeedbackError as exc:
            return html_response(page("Staff", f'<p class="error">{esc(exc)}</p>', user=user), 400)
        if not found:
            return html_response(page("Staff", '<p class="error">No such item.</p>', user=user), 404)
        log.info("feedback %d reviewed by %s", item_id, user)
        return RedirectResponse("/staff", status_code=303)

    @router.get("/staff/export.csv")
    def export(request: Request) -> Response:
        if not staff.enabled:
            return disabled()
        if not session(request)[0]:
            return RedirectResponse("/staff", status_code=303)
        return Response(store.export_csv(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="ldnqa-feedback.csv"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    @router.get("/staff/library")
    def library(request: Request) -> Response:
        if not staff.enabled:
            return disabled()
        user = session(request)[0]
        if not user:
            return RedirectResponse("/staff", status_code=303)
        return html_response(library_page(get_assistant(), user))

    return router
