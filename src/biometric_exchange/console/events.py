"""Live updates: server-sent events telling an open queue page that alerts changed.

Each connection looks at the alerts table every ``events_poll_s`` (the number of
alerts, the latest change, the latest assignment) and sends an ``alerts``
event when that moved since the page was rendered (``?since=`` the token the
page carries); the page then fetches its rows again with its own filters. The
events carry no alert data, only a counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import anyio
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from biometric_exchange.console.context import Console
from biometric_exchange.console.guard import console_of, unauthenticated
from biometric_exchange.console.sessions import SESSION_COOKIE, current

PING_S = 15


def alerts_signature(console: Console) -> str:
    """A short token that changes when an alert is raised, joined by evidence, reviewed
    or assigned (the page renders it; its event stream starts from it)."""
    row = console.node.database.connection.execute(
        "SELECT count(*), coalesce(max(updated_at), '') FROM alerts"
    ).fetchone()
    state = f"{int(row[0])}|{row[1]}|{console.assignments.last_seq()}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


async def _changes(
    request: Request, console: Console, since: str | None
) -> AsyncIterator[dict[str, str]]:
    last = since or await run_in_threadpool(alerts_signature, console)
    sent = 0
    while not await request.is_disconnected():
        await anyio.sleep(console.settings.events_poll_s)
        session = await run_in_threadpool(current, console, request.cookies.get(SESSION_COOKIE))
        if session is None:
            return  # signed out, expired or disabled: the stream ends
        signature = await run_in_threadpool(alerts_signature, console)
        if signature != last:
            last, sent = signature, sent + 1
            yield {"event": "alerts", "data": str(sent)}


async def alert_events(request: Request) -> Response:
    console = console_of(request)
    session = await run_in_threadpool(current, console, request.cookies.get(SESSION_COOKIE))
    if session is None:
        return unauthenticated(request)
    since = request.query_params.get("since")
    if since is not None and not (len(since) == 16 and since.isalnum()):
        since = None
    return EventSourceResponse(_changes(request, console, since), ping=PING_S)
