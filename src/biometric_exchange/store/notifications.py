"""The notifications outbox: one row per alert and reason, delivered with retries.

A notification is queued once per (alert, reason): a critical alert, or an
alert that breached its acknowledgement SLA. Its JSON payload is built when it
is queued and sent as is on every attempt. States: ``pending`` (with the time
of the next attempt), ``delivered``, ``failed`` (attempts used up).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum

from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Row


class NotificationState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Notification:
    notification_id: str
    alert_id: str
    reason: str
    payload: str
    state: NotificationState
    attempts: int
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    last_error: str | None = None
    delivered_at: dt.datetime | None = None


def _notification(row: Row) -> Notification:
    delivered = row["delivered_at"]
    return Notification(
        notification_id=row["notification_id"],
        alert_id=row["alert_id"],
        reason=row["reason"],
        payload=row["payload"],
        state=NotificationState(row["state"]),
        attempts=int(row["attempts"]),
        next_attempt_at=dt.datetime.fromisoformat(row["next_attempt_at"]),
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        last_error=row["last_error"],
        delivered_at=dt.datetime.fromisoformat(delivered) if delivered else None,
    )


class NotificationOutbox:
    def __init__(self, database: Database) -> None:
        self._database = database

    def queued_reasons(self) -> set[tuple[str, str]]:
        """(alert id, reason) of every notification ever queued."""
        rows = self._database.connection.execute(
            "SELECT alert_id, reason FROM notifications"
        ).fetchall()
        return {(str(row[0]), str(row[1])) for row in rows}

    def enqueue(self, alert_id: str, reason: str, payload: str, *, at: dt.datetime) -> bool:
        """Queue a notification due now; False when this alert already had one for
        ``reason``."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO notifications (notification_id, alert_id, reason, payload, state, "
                "attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (alert_id, reason) DO NOTHING",
                (
                    "NTF-" + secrets.token_hex(6).upper(),
                    alert_id,
                    reason,
                    payload,
                    NotificationState.PENDING.value,
                    at.isoformat(),
                    at.isoformat(),
                ),
            )
            return cursor.rowcount == 1

    def due(self, now: dt.datetime, *, limit: int = 50) -> list[Notification]:
        """Pending notifications whose next attempt is due, oldest first."""
        rows = self._database.connection.execute(
            "SELECT * FROM notifications WHERE state = ? "
            "AND julianday(next_attempt_at) <= julianday(?) ORDER BY created_at LIMIT ?",
            (NotificationState.PENDING.value, now.isoformat(), limit),
        ).fetchall()
        return [_notification(row) for row in rows]

    def delivered(self, notification_id: str, *, at: dt.datetime) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE notifications SET state = ?, attempts = attempts + 1, delivered_at = ?, "
                "last_error = NULL WHERE notification_id = ?",
                (NotificationState.DELIVERED.value, at.isoformat(), notification_id),
            )

    def attempt_failed(
        self, notification_id: str, error: str, *, retry_at: dt.datetime | None
    ) -> None:
        """Count a failed attempt; retry at ``retry_at``, or give up when None."""
        state = NotificationState.PENDING if retry_at is not None else NotificationState.FAILED
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE notifications SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = coalesce(?, next_attempt_at) WHERE notification_id = ?",
                (
                    state.value,
                    error[:500],
                    retry_at.isoformat() if retry_at else None,
                    notification_id,
                ),
            )

    def list(self) -> list[Notification]:
        rows = self._database.connection.execute(
            "SELECT * FROM notifications ORDER BY created_at, notification_id"
        ).fetchall()
        return [_notification(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Notifications by state (every state, zeros included)."""
        counts = dict.fromkeys((s.value for s in NotificationState), 0)
        for row in self._database.connection.execute(
            "SELECT state, count(*) FROM notifications GROUP BY state"
        ).fetchall():
            counts[str(row[0])] = int(row[1])
        return counts
