"""The queue page, its rows (what the live refresh fetches) and bulk acknowledgement."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from biometric_exchange.console.events import alerts_signature
from biometric_exchange.console.guard import Page, refusal
from biometric_exchange.console.queue import QueueFilter, partners_seen, queue_rows
from biometric_exchange.console.views import countdown
from biometric_exchange.domain import AlertKind, AlertQueue, AlertStatus, Severity
from biometric_exchange.exceptions import InvalidInput

MAX_BULK = 200


def _rows(page: Page, criteria: QueueFilter) -> dict[str, Any]:
    since = alerts_signature(page.console)  # before the rows: a change after is an event
    now = page.console.now()
    rows = queue_rows(page.console, page.officer, criteria)
    return {
        "rows": [
            (row, countdown(row.due, now) if row.awaiting_ack else "met", row.overdue(now))
            for row in rows
        ],
        "criteria": criteria,
        "query": criteria.query(),
        "since": since,
    }


def _criteria(page: Page) -> QueueFilter:
    return QueueFilter.parse(page.request.query_params)


def _choices(page: Page) -> dict[str, Any]:
    return {
        "kinds": [k.value for k in AlertKind],
        "severities": [s.value for s in Severity],
        "queues": [q.value for q in AlertQueue if q in page.officer.queues],
        "statuses": [s.value for s in AlertStatus],
        "partners": partners_seen(page.console),
    }


def show(page: Page) -> Response:
    try:
        criteria = _criteria(page)
    except InvalidInput as exc:
        return refusal(page.request, 400, str(exc))
    return page.render("queue.html", **_rows(page, criteria), **_choices(page))


def rows(page: Page) -> Response:
    """The table body alone (htmx: filters and live refresh)."""
    try:
        criteria = _criteria(page)
    except InvalidInput as exc:
        return refusal(page.request, 400, str(exc))
    return page.render("queue_rows.html", **_rows(page, criteria))


def bulk_acknowledge(page: Page) -> Response:
    """POST: acknowledge every selected alert, one review step each, as this officer."""
    selected = page.fields("alert_id")[:MAX_BULK]
    done, refused = [], []
    for alert_id in selected:
        alert = page.console.node.alerts.get(alert_id)
        if alert is None or alert.queue not in page.officer.queues:
            refused.append(f"alert {alert_id!r}: no such alert in your queues")
            continue
        try:
            page.console.review.acknowledge(alert_id, page.officer.officer_id)
            done.append(alert_id)
        except InvalidInput as exc:
            refused.append(str(exc))
    criteria = QueueFilter()
    return page.render(
        "queue.html",
        **_rows(page, criteria),
        **_choices(page),
        acknowledged=done,
        problems=refused,
    )
