"""The operator review of an alert: a state machine with four eyes, SLA and audit.

Legal transitions (anything else raises ``IllegalTransition``)::

    from            to
    NEW             ACKNOWLEDGED
    ACKNOWLEDGED    INVESTIGATING, CONFIRMED, DISMISSED
    INVESTIGATING   ESCALATED, CONFIRMED, DISMISSED
    ESCALATED       CONFIRMED, DISMISSED
    CONFIRMED       CLOSED
    DISMISSED       CLOSED
    CLOSED          (none: final)

Rules on top of the table:

* every transition names its operator (1-64 printable characters);
* DISMISSED needs a ``DismissalReason``; ``other`` also needs a comment;
* CONFIRMED needs four eyes: the confirming operator is not the one who
  acknowledged (``alerts.acknowledged_by``, compared case-insensitively).

Each transition writes, in one transaction, a row in ``alert_transitions``,
the alert's new ``status`` and ``updated_at`` (and, on acknowledge,
``acknowledged_by`` and ``due_at``), and one ``alert.transition`` audit entry
(officer = operator, decision = new status; detail: alert_id, from, reason_code).
Comments stay in ``alert_transitions``; the audit log holds no free text.

SLA: time to acknowledge, by severity (``ACK_SLA``), counted from
``created_at``. Until acknowledged the deadline is computed on the fly, so a
severity raised by joining evidence tightens it; acknowledging stores the
deadline the alert was held to in ``due_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from biometric_exchange.domain import Alert, AlertStatus, Severity, utc_now
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.regions import normalise_code
from biometric_exchange.store.alerts import AlertFilter, AlertStore, alert_from_row
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection, Row
from biometric_exchange.store.evidence import DEFAULT_MAX_EVIDENCE, SELECT_ALERTS, evidence_page

_S = AlertStatus

TRANSITIONS: Mapping[AlertStatus, frozenset[AlertStatus]] = {
    _S.NEW: frozenset({_S.ACKNOWLEDGED}),
    _S.ACKNOWLEDGED: frozenset({_S.INVESTIGATING, _S.CONFIRMED, _S.DISMISSED}),
    _S.INVESTIGATING: frozenset({_S.ESCALATED, _S.CONFIRMED, _S.DISMISSED}),
    _S.ESCALATED: frozenset({_S.CONFIRMED, _S.DISMISSED}),
    _S.CONFIRMED: frozenset({_S.CLOSED}),
    _S.DISMISSED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
"""Legal next states of each state (the module docstring's table)."""

STATUS_ORDER: tuple[AlertStatus, ...] = tuple(AlertStatus)

ACK_SLA: Mapping[Severity, dt.timedelta] = {
    Severity.CRITICAL: dt.timedelta(minutes=15),
    Severity.HIGH: dt.timedelta(hours=1),
    Severity.MEDIUM: dt.timedelta(hours=4),
    Severity.LOW: dt.timedelta(hours=24),
}
"""Time to acknowledge an alert, from its ``created_at``, by severity."""

OPERATOR_MAX_CHARS = 64
COMMENT_MAX_CHARS = 2000


class IllegalTransition(InvalidInput):
    """A transition the review workflow does not allow from the alert's state."""


class DismissalReason(StrEnum):
    """Why an alert was dismissed; ``other`` needs a comment."""

    FALSE_MATCH = "false_match"
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    OTHER = "other"


@dataclass(frozen=True)
class Transition:
    """One step of an alert's review, as recorded in ``alert_transitions``."""

    seq: int
    alert_id: str
    from_status: AlertStatus
    to_status: AlertStatus
    operator: str
    at: dt.datetime
    reason_code: DismissalReason | None = None
    comment: str | None = None


def allowed_next(status: AlertStatus) -> tuple[AlertStatus, ...]:
    """The states ``status`` may move to, in workflow order."""
    return tuple(s for s in STATUS_ORDER if s in TRANSITIONS[status])


def validate_operator(operator: str | None) -> str:
    """The stripped operator id, or InvalidInput (1-64 printable characters)."""
    value = (operator or "").strip()
    if not value:
        raise InvalidInput("operator: name the officer acting (--operator or BX_OPERATOR)")
    if len(value) > OPERATOR_MAX_CHARS or not value.isprintable():
        raise InvalidInput(
            f"operator: expected 1-{OPERATOR_MAX_CHARS} printable characters, got {value!r}"
        )
    return value


def _comment(comment: str | None) -> str | None:
    value = (comment or "").strip()
    if len(value) > COMMENT_MAX_CHARS:
        raise InvalidInput(f"comment: at most {COMMENT_MAX_CHARS} characters")
    return value or None


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def sla_due(alert: Alert) -> dt.datetime:
    """When ``alert`` must be (or had to be) acknowledged.

    The stored ``due_at`` once acknowledged; before that ``created_at`` plus
    ``ACK_SLA`` of its current severity.
    """
    if alert.due_at is not None:
        return _aware(alert.due_at)
    return _aware(alert.created_at) + ACK_SLA[alert.severity]


def _span(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def sla_state(alert: Alert, now: dt.datetime) -> str:
    """``due in 42 min`` / ``overdue by 2 h`` while NEW; ``met`` once acknowledged."""
    if alert.status is not AlertStatus.NEW:
        return "met"
    seconds = int((sla_due(alert) - _aware(now)).total_seconds())
    if seconds >= 0:
        return f"due in {_span(seconds)}"
    return f"overdue by {_span(-seconds)}"


def _transition_from_row(row: Row) -> Transition:
    return Transition(
        seq=int(row["seq"]),
        alert_id=row["alert_id"],
        from_status=AlertStatus(row["from_status"]),
        to_status=AlertStatus(row["to_status"]),
        operator=row["operator"],
        at=dt.datetime.fromisoformat(row["at"]),
        reason_code=DismissalReason(row["reason_code"]) if row["reason_code"] else None,
        comment=row["comment"],
    )


def find_alerts(
    store: AlertStore,
    database: Database,
    criteria: AlertFilter,
    *,
    nationality: str | None = None,
) -> list[Alert]:
    """``store.list(criteria)``, narrowed to alerts whose encounter has ``nationality``.

    Alerts without an encounter never match a nationality.
    """
    alerts = store.list(criteria)
    if nationality is None:
        return alerts
    code = normalise_code(nationality, field_name="nationality")
    rows = database.connection.execute(
        "SELECT encounter_id FROM encounters WHERE nationality = ?", (code,)
    ).fetchall()
    encounters = {str(row[0]) for row in rows}
    return [a for a in alerts if a.encounter_id is not None and a.encounter_id in encounters]


class AlertReview:
    """Moves alerts through the review workflow; ``clock`` dates the transitions."""

    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def acknowledge(self, alert_id: str, operator: str, comment: str | None = None) -> Alert:
        """NEW → ACKNOWLEDGED; records the operator and the SLA deadline."""
        return self.transition(alert_id, AlertStatus.ACKNOWLEDGED, operator, comment=comment)

    def investigate(self, alert_id: str, operator: str, comment: str | None = None) -> Alert:
        return self.transition(alert_id, AlertStatus.INVESTIGATING, operator, comment=comment)

    def escalate(self, alert_id: str, operator: str, comment: str | None = None) -> Alert:
        return self.transition(alert_id, AlertStatus.ESCALATED, operator, comment=comment)

    def confirm(self, alert_id: str, operator: str, comment: str | None = None) -> Alert:
        """Confirm the alert; ``operator`` must not be the one who acknowledged it."""
        return self.transition(alert_id, AlertStatus.CONFIRMED, operator, comment=comment)

    def dismiss(
        self,
        alert_id: str,
        operator: str,
        reason: DismissalReason | None,
        comment: str | None = None,
    ) -> Alert:
        """Dismiss with a reason code (``other`` needs a comment)."""
        return self.transition(
            alert_id, AlertStatus.DISMISSED, operator, reason=reason, comment=comment
        )

    def close(self, alert_id: str, operator: str, comment: str | None = None) -> Alert:
        return self.transition(alert_id, AlertStatus.CLOSED, operator, comment=comment)

    def transition(
        self,
        alert_id: str,
        to: AlertStatus,
        operator: str,
        *,
        reason: DismissalReason | None = None,
        comment: str | None = None,
    ) -> Alert:
        """Move ``alert_id`` to ``to`` and return the updated alert.

        Raises InvalidInput (IllegalTransition for a move the table refuses).
        """
        officer = validate_operator(operator)
        note = _comment(comment)
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT * FROM alerts WHERE alert_id = ?", (alert_id,)
            ).fetchone()
            if row is None:
                raise InvalidInput(f"alert {alert_id!r}: no such alert on this node")
            alert = alert_from_row(row)
            self._check(alert, to, officer, reason, note)
            now = self._clock()
            self._write(connection, alert, to, officer, now, reason=reason, comment=note)
            updated = connection.execute(
                f"{SELECT_ALERTS} WHERE a.alert_id = ?", (alert_id,)
            ).fetchone()
            evidence = evidence_page(connection, alert_id, offset=0, limit=DEFAULT_MAX_EVIDENCE)
            return alert_from_row(updated, evidence)

    @staticmethod
    def _check(
        alert: Alert,
        to: AlertStatus,
        officer: str,
        reason: DismissalReason | None,
        comment: str | None,
    ) -> None:
        current = alert.status
        if to not in TRANSITIONS[current]:
            following = ", ".join(s.value for s in allowed_next(current))
            allowed = f"allowed next: {following}" if following else f"{current.value} is final"
            raise IllegalTransition(
                f"alert {alert.alert_id} is {current.value}: cannot move to {to.value} ({allowed})"
            )
        if to is AlertStatus.DISMISSED:
            if reason is None:
                choices = ", ".join(r.value for r in DismissalReason)
                raise InvalidInput(
                    f"alert {alert.alert_id}: dismissal needs a reason code ({choices})"
                )
            if reason is DismissalReason.OTHER and comment is None:
                raise InvalidInput(
                    f"alert {alert.alert_id}: dismissal for reason 'other' needs a comment"
                )
        elif reason is not None:
            raise InvalidInput(f"alert {alert.alert_id}: a reason code is for dismissal only")
        if to is AlertStatus.CONFIRMED:
            if alert.acknowledged_by is None:
                raise InvalidInput(
                    f"alert {alert.alert_id}: four eyes: no acknowledging officer on record, "
                    "so confirmation cannot be checked"
                )
            if alert.acknowledged_by.casefold() == officer.casefold():
                raise InvalidInput(
                    f"alert {alert.alert_id}: four eyes: {officer} acknowledged this alert; "
                    "another officer must confirm it"
                )

    def _write(
        self,
        connection: Connection,
        alert: Alert,
        to: AlertStatus,
        officer: str,
        now: dt.datetime,
        *,
        reason: DismissalReason | None,
        comment: str | None,
    ) -> None:
        at = now.isoformat()
        reason_code = reason.value if reason is not None else None
        connection.execute(
            "INSERT INTO alert_transitions (alert_id, from_status, to_status, operator, at, "
            "reason_code, comment) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (alert.alert_id, alert.status.value, to.value, officer, at, reason_code, comment),
        )
        if to is AlertStatus.ACKNOWLEDGED:
            connection.execute(
                "UPDATE alerts SET status = ?, updated_at = ?, acknowledged_by = ?, due_at = ? "
                "WHERE alert_id = ?",
                (to.value, at, officer, sla_due(alert).isoformat(), alert.alert_id),
            )
        else:
            connection.execute(
                "UPDATE alerts SET status = ?, updated_at = ? WHERE alert_id = ?",
                (to.value, at, alert.alert_id),
            )
        self._audit.append(
            connection,
            AuditEvent.ALERT_TRANSITION,
            AuditOutcome.ACCEPTED,
            officer=officer,
            decision=to.value,
            alert_id=alert.alert_id,
            reason_code=reason_code,
            **{"from": alert.status.value},
        )

    def history(self, alert_id: str) -> list[Transition]:
        """The alert's transitions, oldest first (empty for an unknown or NEW alert)."""
        rows = self._database.connection.execute(
            "SELECT * FROM alert_transitions WHERE alert_id = ? ORDER BY seq", (alert_id,)
        ).fetchall()
        return [_transition_from_row(row) for row in rows]
