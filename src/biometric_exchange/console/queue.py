"""The queue: open alerts by urgency, with filters, assignment and bulk acknowledgement.

Urgency: NEW alerts first, the nearest (or most overdue) acknowledgement
deadline first; then the rest by severity and age. An officer sees only the
queues (enforcement, protection) their account names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from biometric_exchange.alerts.review import sla_due
from biometric_exchange.console.context import Console
from biometric_exchange.domain import Alert, AlertKind, AlertQueue, AlertStatus, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.alerts import SEVERITY_RANK, AlertFilter
from biometric_exchange.store.officers import Officer

OPEN = "open"
"""The status filter's default: every state but CLOSED."""


def _choice(
    enum: type[AlertKind] | type[Severity] | type[AlertQueue] | type[AlertStatus],
    raw: str,
    name: str,
) -> str | None:
    value = raw.strip()
    if not value:
        return None
    for member in enum:
        if member.value.casefold() == value.casefold():
            return member.value
    choices = ", ".join(m.value for m in enum)
    raise InvalidInput(f"{name}: {value!r} is not one of {choices}")


@dataclass(frozen=True)
class QueueFilter:
    kind: AlertKind | None = None
    severity: Severity | None = None
    queue: AlertQueue | None = None
    partner: str | None = None
    status: AlertStatus | None = None
    """None: every open alert."""
    mine: bool = False

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueFilter:
        """From query parameters; InvalidInput names a value that is not allowed."""
        kind = _choice(AlertKind, params.get("kind", ""), "kind")
        severity = _choice(Severity, params.get("severity", ""), "severity")
        queue = _choice(AlertQueue, params.get("queue", ""), "queue")
        raw_status = params.get("status", "").strip()
        status = None
        if raw_status and raw_status != OPEN:
            status = _choice(AlertStatus, raw_status, "status")
        partner = params.get("partner", "").strip().upper()
        if partner and not (partner.isalpha() and len(partner) == 3):
            raise InvalidInput(f"partner: {partner!r} is not a country code")
        return cls(
            kind=AlertKind(kind) if kind else None,
            severity=Severity(severity) if severity else None,
            queue=AlertQueue(queue) if queue else None,
            partner=partner or None,
            status=AlertStatus(status) if status else None,
            mine=params.get("mine", "") in {"1", "on", "true"},
        )

    def query(self) -> str:
        """These filters as a query string (for links and the live refresh)."""
        values = {
            "kind": self.kind.value if self.kind else "",
            "severity": self.severity.value if self.severity else "",
            "queue": self.queue.value if self.queue else "",
            "partner": self.partner or "",
            "status": self.status.value if self.status else "",
            "mine": "1" if self.mine else "",
        }
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class QueueRow:
    alert: Alert
    due: dt.datetime
    assignee: str | None

    @property
    def awaiting_ack(self) -> bool:
        return self.alert.status is AlertStatus.NEW

    def overdue(self, now: dt.datetime) -> bool:
        return self.awaiting_ack and self.due < now


def _urgency(row: QueueRow) -> tuple[int, float, int, str]:
    alert = row.alert
    if row.awaiting_ack:
        return (0, row.due.timestamp(), -SEVERITY_RANK[alert.severity], alert.alert_id)
    return (1, -SEVERITY_RANK[alert.severity], 0, alert.created_at.isoformat())


def visible(officer: Officer, alert: Alert) -> bool:
    """Whether ``officer`` reviews ``alert``'s queue."""
    return alert.queue in officer.queues


def queue_rows(console: Console, officer: Officer, criteria: QueueFilter) -> list[QueueRow]:
    """The alerts ``criteria`` selects that ``officer`` may see, most urgent first."""
    store_filter = AlertFilter(
        kind=criteria.kind,
        status=criteria.status,
        queue=criteria.queue,
        severity=criteria.severity,
        open_only=criteria.status is None,
    )
    assigned = console.assignments.current()
    rows = []
    for alert in console.node.alerts.list(store_filter):
        if not visible(officer, alert):
            continue
        if criteria.partner and alert.partner != criteria.partner:
            continue
        assignee = assigned.get(alert.alert_id)
        if criteria.mine and (assignee or "").casefold() != officer.officer_id.casefold():
            continue
        rows.append(QueueRow(alert, sla_due(alert), assignee))
    return sorted(rows, key=_urgency)


def partners_seen(console: Console) -> list[str]:
    """Partner codes to offer in the partner filter."""
    return sorted(set(console.node.partner_codes))
