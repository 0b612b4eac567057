"""Every page and action behind a live session; every POST behind its CSRF token.

``guarded(handler)`` makes a Starlette endpoint: it reads the form (POST), then
in a worker thread (the database is synchronous) finds the session of the
cookie, checks the CSRF token of a POST (form field ``csrf_token`` or header
``X-CSRF-Token``) and the officer's role, and calls ``handler(page)``.
Without a session a page redirects to sign-in, an htmx request gets 401 with
``HX-Redirect`` and any other request 401.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from biometric_exchange.console.context import Console
from biometric_exchange.console.sessions import SESSION_COOKIE, Session, current
from biometric_exchange.console.views import TEMPLATES
from biometric_exchange.store.officers import Officer

log = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_FIELDS = 500


@dataclass(frozen=True)
class Page:
    """One request of a signed-in officer."""

    request: Request
    console: Console
    session: Session
    form: FormData | None

    @property
    def officer(self) -> Officer:
        return self.session.officer

    def field(self, name: str) -> str:
        """A form field as text ("" when absent)."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        node = self.console.node
        return TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "officer": self.officer,
                "csrf_token": self.session.csrf_token,
                "node_name": node.name,
                "country": node.country,
                "now": self.console.now(),
                **context,
            },
            status_code=status_code,
        )


Handler = Callable[[Page], Response]


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def local_path(target: str | None) -> str:
    """``target`` when it is a path on this site, else the queue (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/queue"


def refusal(request: Request, status_code: int, message: str) -> Response:
    """A short error page (or the bare message to htmx)."""
    if request.headers.get("hx-request"):
        return HTMLResponse(f'<p class="error">{_escape(message)}</p>', status_code=status_code)
    return TEMPLATES.TemplateResponse(
        request, "refused.html", {"message": message}, status_code=status_code
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unauthenticated(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response("sign in first", status_code=401, headers={"HX-Redirect": "/login"})
    if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
        next_path = quote(local_path(request.url.path), safe="/")
        return RedirectResponse(f"/login?next={next_path}", status_code=303)
    return refusal(request, 401, "Sign in first.")


def _checked(handler: Handler, request: Request, form: FormData | None, *, acts: bool) -> Response:
    console = console_of(request)
    session = current(console, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return unauthenticated(request)
    if request.method == "POST":
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and form is not None:
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
        if not session.csrf_matches(presented):
            log.warning(
                "console: %s %s without a valid CSRF token", request.method, request.url.path
            )
            return refusal(request, 403, "This form has expired or did not come from the console.")
    if acts and not session.officer.acts:
        return refusal(
            request, 403, f"{session.officer.role.value}s do not act on alerts or requests."
        )
    return handler(Page(request, console, session, form))


def guarded(handler: Handler, *, acts: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` for a signed-in officer (``acts``: who may
    act, not a viewer)."""

    async def endpoint(request: Request) -> Response:
        form = None
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        return await run_in_threadpool(_checked, handler, request, form, acts=acts)

    endpoint.__name__ = handler.__name__
    return endpoint
