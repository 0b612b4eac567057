"""What is worth a notification, and its Alertmanager-compatible JSON.

``queue_notifications`` looks at the open alerts and queues, once per alert and
reason, ``severity`` (raised at or above ``min_severity``) and ``sla_breach``
(still NEW past its acknowledgement deadline). Payloads carry ids, kind,
severity, queue, partner and the alert's summary (which names records, never
people), in either shape ``[notifications] format`` names:

* ``alertmanager``: a JSON list of alerts, as ``POST /api/v2/alerts`` takes it;
* ``webhook``: Alertmanager's webhook message (``version`` 4), as a receiver of
  Alertmanager's own notifications gets it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from biometric_exchange.alerts.review import sla_due
from biometric_exchange.config import NotificationFormat, NotificationsSection
from biometric_exchange.domain import Alert, AlertStatus
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import SEVERITY_RANK, AlertFilter
from biometric_exchange.store.notifications import NotificationOutbox

SEVERITY, SLA_BREACH = "severity", "sla_breach"
RECEIVER = "biometric-exchange"
NO_END = "0001-01-01T00:00:00Z"


def _iso(moment: dt.datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alert_payload(
    node: Node, alert: Alert, reason: str, settings: NotificationsSection
) -> dict[str, Any]:
    """One alert in Alertmanager's shape (labels, annotations, start, link)."""
    labels = {
        "alertname": f"bx_{alert.kind.value.lower()}",
        "severity": alert.severity.value,
        "kind": alert.kind.value,
        "queue": alert.queue.value,
        "reason": reason,
        "node": node.name,
        "country": node.country,
        "alert_id": alert.alert_id,
    }
    if alert.partner:
        labels["partner"] = alert.partner
    due = _iso(sla_due(alert))
    description = (
        f"not acknowledged by its deadline {due}"
        if reason == SLA_BREACH
        else f"{alert.severity.value} alert; acknowledge by {due}"
    )
    payload: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": alert.summary, "description": description, "sla_due": due},
        "startsAt": _iso(alert.created_at),
    }
    if settings.console_url:
        payload["generatorURL"] = f"{settings.console_url.rstrip('/')}/alerts/{alert.alert_id}"
    return payload


def message(
    node: Node, alert: Alert, reason: str, settings: NotificationsSection
) -> dict[str, Any] | list[dict[str, Any]]:
    """The body to POST, in the configured format."""
    item = alert_payload(node, alert, reason, settings)
    if settings.format is NotificationFormat.ALERTMANAGER:
        return [item]
    labels = item["labels"]
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    group = {"alert_id": alert.alert_id, "reason": reason}
    return {
        "version": "4",
        "groupKey": "{}:" + json.dumps(group, sort_keys=True),
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": RECEIVER,
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": item["annotations"],
        "externalURL": settings.console_url or "",
        "alerts": [{**item, "status": "firing", "endsAt": NO_END, "fingerprint": fingerprint}],
    }


def due_reasons(alert: Alert, settings: NotificationsSection, now: dt.datetime) -> list[str]:
    """Why ``alert`` is worth a notification now (empty: it is not)."""
    reasons = []
    if SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[settings.min_severity]:
        reasons.append(SEVERITY)
    if settings.sla_breaches and alert.status is AlertStatus.NEW and sla_due(alert) < now:
        reasons.append(SLA_BREACH)
    return reasons


def queue_notifications(node: Node, settings: NotificationsSection, now: dt.datetime) -> int:
    """Queue what the open alerts call for and was not queued before; return how many."""
    outbox = NotificationOutbox(node.database)
    queued = outbox.queued_reasons()
    added = 0
    for alert in node.alerts.list(AlertFilter(open_only=True)):
        for reason in due_reasons(alert, settings, now):
            if (alert.alert_id, reason) in queued:
                continue
            body = json.dumps(message(node, alert, reason, settings), sort_keys=True)
            added += outbox.enqueue(alert.alert_id, reason, body, at=now)
    return added
