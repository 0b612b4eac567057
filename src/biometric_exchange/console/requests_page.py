"""Step 2: the partners' pending requests with their due time, approved or denied with
the code ``bx requests approve/deny`` runs (``node.serve.details``); our own requests
and their answers."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from biometric_exchange.console.guard import Page
from biometric_exchange.console.views import countdown
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.node.serve.details import approve, deny
from biometric_exchange.store.details import ReceivedRequests, SentRequests


def _context(page: Page) -> dict[str, Any]:
    database = page.console.node.database
    now = page.console.now()
    received = ReceivedRequests(database).queue()
    return {
        "received": [
            (
                r,
                countdown(r.due_at, now) if r.status is RequestStatus.PENDING else "",
                r.due_at < now,
            )
            for r in received
        ],
        "pending": sum(1 for r in received if r.status is RequestStatus.PENDING),
        "sent": list(reversed(SentRequests(database, page.console.node.records.data_keys).list())),
    }


def show(page: Page) -> Response:
    return page.render("requests.html", **_context(page))


def decide(page: Page) -> Response:
    """POST ``/requests/{partner}/{request_id}/{decision}``: approve (comment) or deny
    (reason, which the partner receives)."""
    params = page.request.path_params
    partner, request_id, decision = params["partner"], params["request_id"], params["decision"]
    node = page.console.node
    officer = page.officer.officer_id
    try:
        if partner not in node.partner_codes:
            raise InvalidInput(f"{partner!r} is not a partner of this node")
        link = node.link(partner)
        if decision == "approve":
            approve(link, request_id, officer, page.field("comment"))
        elif decision == "deny":
            if not page.field("reason").strip():
                raise InvalidInput("a denial needs a reason (the partner receives it)")
            deny(link, request_id, officer, page.field("reason"))
        else:
            raise InvalidInput(f"{decision!r}: approve or deny")
    except ExchangeError as exc:
        return page.render("requests.html", status_code=409, error=str(exc), **_context(page))
    return RedirectResponse("/requests", status_code=303)
