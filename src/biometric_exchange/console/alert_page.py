"""One alert: its fields, every evidence item (paged), its review history and
assignments, the faces, and the review steps its state allows (``alerts.review``,
the code ``bx alerts`` runs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from starlette.responses import RedirectResponse, Response

from biometric_exchange.alerts.review import (
    AlertReview,
    DismissalReason,
    allowed_next,
    sla_due,
)
from biometric_exchange.console.assign import alert_for, assign
from biometric_exchange.console.faces import alert_faces
from biometric_exchange.console.guard import Page, refusal
from biometric_exchange.console.views import countdown, evidence_row
from biometric_exchange.domain import Alert, AlertStatus, Evidence
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.alerts import AlertStore

EVIDENCE_PAGE = 50

STEP_LABELS = {
    AlertStatus.ACKNOWLEDGED: "Acknowledge",
    AlertStatus.INVESTIGATING: "Investigate",
    AlertStatus.ESCALATED: "Escalate",
    AlertStatus.CONFIRMED: "Confirm",
    AlertStatus.DISMISSED: "Dismiss",
    AlertStatus.CLOSED: "Close",
}


@dataclass(frozen=True)
class HistoryLine:
    at: dt.datetime
    what: str
    officer: str
    reason: str
    comment: str


def evidence_page(alerts: AlertStore, alert: Alert, page: int) -> tuple[list[Evidence], int, int]:
    """One page (1-based) of the evidence ``alert`` keeps, read from the store, the
    number of pages and the number of items kept."""
    total = alerts.evidence_count(alert.alert_id)
    pages = max(1, -(-total // EVIDENCE_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * EVIDENCE_PAGE
    return alerts.evidence(alert.alert_id, offset=start, limit=EVIDENCE_PAGE), pages, total


def history(page: Page, alert: Alert) -> list[HistoryLine]:
    console = page.console
    lines = [
        HistoryLine(
            t.at,
            f"{t.from_status.value} → {t.to_status.value}",
            t.operator,
            t.reason_code.value if t.reason_code else "",
            t.comment or "",
        )
        for t in console.review.history(alert.alert_id)
    ]
    lines += [
        HistoryLine(
            a.at,
            f"assigned to {a.officer_id}" if a.officer_id else "assignment taken back",
            a.assigned_by,
            "",
            "",
        )
        for a in console.assignments.history(alert.alert_id)
    ]
    return sorted(lines, key=lambda line: line.at)


def _context(page: Page, alert: Alert) -> dict[str, Any]:
    console = page.console
    try:
        number = int(page.request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    items, pages, total = evidence_page(console.node.alerts, alert, number)
    start = (min(max(number, 1), pages) - 1) * EVIDENCE_PAGE + 1
    now = console.now()
    due = sla_due(alert)
    assignee = console.assignments.current([alert.alert_id]).get(alert.alert_id)
    officers = (
        [o for o in console.officers.list() if o.acts and alert.queue in o.queues]
        if page.officer.assigns_others
        else []
    )
    return {
        "alert": alert,
        "evidence": [(start + i, evidence_row(item)) for i, item in enumerate(items)],
        "evidence_total": total,
        "evidence_overflow": alert.evidence_overflow,
        "evidence_page": min(max(number, 1), pages),
        "evidence_pages": pages,
        "history": history(page, alert),
        "steps": [(s.value, STEP_LABELS[s]) for s in allowed_next(alert.status)],
        "reasons": [r.value for r in DismissalReason],
        "due": due,
        "sla": countdown(due, now) if alert.status is AlertStatus.NEW else "met",
        "assignee": assignee,
        "assignable": officers,
        "faces": alert_faces(console.node.node_dir, alert),
    }


def show(page: Page) -> Response:
    alert_id = page.request.path_params["alert_id"]
    try:
        alert = alert_for(page.console, page.officer, alert_id)
    except InvalidInput as exc:
        return refusal(page.request, 404, str(exc))
    return page.render("alert.html", **_context(page, alert))


def _failed(page: Page, alert_id: str, error: InvalidInput) -> Response:
    try:
        alert = alert_for(page.console, page.officer, alert_id)
    except InvalidInput as exc:
        return refusal(page.request, 404, str(exc))
    return page.render("alert.html", status_code=409, error=str(error), **_context(page, alert))


def review_step(page: Page) -> Response:
    """POST: move the alert to ``to`` (with ``reason`` and ``comment``), as this officer."""
    alert_id = page.request.path_params["alert_id"]
    review: AlertReview = page.console.review
    try:
        alert_for(page.console, page.officer, alert_id)
        to = AlertStatus(page.field("to"))
        raw_reason = page.field("reason")
        reason = DismissalReason(raw_reason) if raw_reason else None
        review.transition(
            alert_id, to, page.officer.officer_id, reason=reason, comment=page.field("comment")
        )
    except ValueError:
        return _failed(page, alert_id, InvalidInput("not a review step or reason code"))
    except InvalidInput as exc:
        return _failed(page, alert_id, exc)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


def assignment(page: Page) -> Response:
    """POST: ``officer=me`` (take it), else ``assignee``: an officer id, or empty (nobody)."""
    alert_id = page.request.path_params["alert_id"]
    target = page.field("officer").strip() or page.field("assignee").strip()
    if target == "me":
        target = page.officer.officer_id
    try:
        assign(page.console, page.officer, alert_id, target or None)
    except InvalidInput as exc:
        return _failed(page, alert_id, exc)
    back = page.field("back")
    return RedirectResponse(back if back == "/queue" else f"/alerts/{alert_id}", status_code=303)
