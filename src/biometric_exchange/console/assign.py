"""Assigning an alert to an officer: oneself (any officer), another (a supervisor).

The assignee must be an active officer who reviews the alert's queue; a closed
alert is not assigned. Each assignment is a row in ``alert_assignments`` and
an ``alert.assigned`` audit entry, in one transaction.
"""

from __future__ import annotations

from biometric_exchange.console.context import Console
from biometric_exchange.console.queue import visible
from biometric_exchange.domain import Alert, AlertStatus
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.assignments import Assignment
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.officers import Officer


def alert_for(console: Console, officer: Officer, alert_id: str) -> Alert:
    """The alert, when it exists and ``officer`` reviews its queue (one message otherwise)."""
    alert = console.node.alerts.get(alert_id)
    if alert is None or not visible(officer, alert):
        raise InvalidInput(f"alert {alert_id!r}: no such alert in your queues")
    return alert


def assign(console: Console, actor: Officer, alert_id: str, target: str | None) -> Assignment:
    """Assign ``alert_id`` to ``target`` (None: to nobody) on ``actor``'s authority."""
    alert = alert_for(console, actor, alert_id)
    if alert.status is AlertStatus.CLOSED:
        raise InvalidInput(f"alert {alert_id} is CLOSED: nothing to assign")
    assignee = None
    if target is not None:
        assignee = console.officers.get(target.strip())
        if assignee is None or not assignee.acts or not visible(assignee, alert):
            raise InvalidInput(
                f"{target!r} is not an active officer of the {alert.queue.value} queue"
            )
    is_self = assignee is not None and assignee.officer_id.casefold() == actor.officer_id.casefold()
    if not actor.acts or (not is_self and not actor.assigns_others):
        raise InvalidInput("only a supervisor assigns alerts to others or takes them back")
    now = console.now()
    with console.node.database.transaction() as connection:
        made = console.assignments.assign(
            connection,
            alert.alert_id,
            assignee.officer_id if assignee else None,
            by=actor.officer_id,
            at=now,
        )
        console.node.audit.append(
            connection,
            AuditEvent.ALERT_ASSIGNED,
            AuditOutcome.ACCEPTED,
            officer=actor.officer_id,
            decision=assignee.officer_id if assignee else "unassigned",
            alert_id=alert.alert_id,
        )
    return made
