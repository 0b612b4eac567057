"""The console's routes, headers and lifespan: one Starlette application per node.

Every page and action goes through ``guard.guarded`` (a session, and a CSRF
token for each POST); sign-in itself is protected by a double-submit token.
Responses carry a strict Content-Security-Policy (scripts and styles from the
console only), no caching, no framing, no referrer.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from biometric_exchange.console import alert_page, node_page, queue_page, requests_page
from biometric_exchange.console.context import Console
from biometric_exchange.console.events import alert_events
from biometric_exchange.console.faces import face_file
from biometric_exchange.console.guard import Page, console_of, guarded, local_path, refusal
from biometric_exchange.console.reports import report_file
from biometric_exchange.console.sessions import (
    SESSION_COOKIE,
    SignInRefused,
    close_expired,
    sign_in,
    sign_out,
)
from biometric_exchange.console.views import TEMPLATES
from biometric_exchange.console.webhook import Notifier, NotifierThread

STATIC = Path(__file__).with_name("static")
LOGIN_COOKIE = "bx_login"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def _cookie(request: Request, response: Response, name: str, value: str) -> None:
    """An HttpOnly, SameSite=Strict cookie, Secure whenever the console speaks HTTPS."""
    secure = console_of(request).secure_cookies or request.url.scheme == "https"
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure)


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    console = console_of(request)
    token = secrets.token_urlsafe(24)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {
            "login_token": token,
            "next": local_path(request.query_params.get("next")),
            "error": error,
            "node_name": console.node.name,
            "country": console.node.country,
        },
        status_code=status_code,
    )
    _cookie(request, response, LOGIN_COOKIE, token)
    return response


async def login_form(request: Request) -> Response:
    return _login_page(request)


async def login(request: Request) -> Response:
    """Sign in: the double-submit token, then the officer's id and password."""
    console = console_of(request)
    form = await request.form(max_files=0, max_fields=10)
    presented, cookie = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
    if not (
        isinstance(presented, str)
        and cookie
        and hmac.compare_digest(presented.encode(), cookie.encode())
    ):
        return _login_page(request, "This sign-in form expired; please try again.", 403)
    officer_id, password = form.get("officer_id"), form.get("password")
    if not isinstance(officer_id, str) or not isinstance(password, str):
        return _login_page(request, "Give your officer id and password.", 400)
    try:
        token = await run_in_threadpool(sign_in, console, officer_id, password)
    except SignInRefused as exc:
        return _login_page(request, str(exc), 401)
    next_value = form.get("next")
    response = RedirectResponse(
        local_path(next_value if isinstance(next_value, str) else None), status_code=303
    )
    _cookie(request, response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE)
    return response


def _logout(page: Page) -> Response:
    sign_out(page.console, page.session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _home(page: Page) -> Response:
    return RedirectResponse("/queue", status_code=303)


def _face(page: Page) -> Response:
    params = page.request.path_params
    path = face_file(page.console.node.node_dir, params["kind"], params["record_id"])
    if path is None:
        return refusal(page.request, 404, "No synthetic image of that record here.")
    return FileResponse(path, media_type="image/png")


def _report(page: Page) -> Response:
    params = page.request.path_params
    found = report_file(page.console.reports_dir, params["run"], params["name"])
    if found is None:
        return refusal(page.request, 404, "No such report file.")
    path, media = found
    return FileResponse(path, media_type=media)


def routes() -> list[Route | Mount]:
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", guarded(_logout), methods=["POST"]),
        Route("/", guarded(_home), methods=["GET"]),
        Route("/queue", guarded(queue_page.show), methods=["GET"]),
        Route("/queue/rows", guarded(queue_page.rows), methods=["GET"]),
        Route(
            "/queue/acknowledge", guarded(queue_page.bulk_acknowledge, acts=True), methods=["POST"]
        ),
        Route("/events", alert_events, methods=["GET"]),
        Route("/alerts/{alert_id}", guarded(alert_page.show), methods=["GET"]),
        Route(
            "/alerts/{alert_id}/review",
            guarded(alert_page.review_step, acts=True),
            methods=["POST"],
        ),
        Route(
            "/alerts/{alert_id}/assign", guarded(alert_page.assignment, acts=True), methods=["POST"]
        ),
        Route("/faces/{kind}/{record_id}", guarded(_face), methods=["GET"]),
        Route("/requests", guarded(requests_page.show), methods=["GET"]),
        Route(
            "/requests/{partner}/{request_id}/{decision}",
            guarded(requests_page.decide, acts=True),
            methods=["POST"],
        ),
        Route("/node", guarded(node_page.show), methods=["GET"]),
        Route("/reports/{run}/{name}", guarded(_report), methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


def build_app(console: Console, *, notifications: bool = True) -> Starlette:
    """The console of ``console.node``; ``notifications``: run the notifier thread when
    the node's ``[notifications]`` section is set."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(close_expired, console)
        settings = console.node.config.notifications
        thread = None
        if notifications and settings is not None:
            thread = NotifierThread(Notifier(console.node, settings, clock=console.clock))
            thread.start()
        try:
            yield
        finally:
            if thread is not None:
                thread.stop()

    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)], lifespan=lifespan)
    app.state.console = console
    return app
