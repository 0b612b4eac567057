"""Who an alert is assigned to: an append-only log per alert, the latest row wins.

A row with no officer takes the assignment back. Each row names who assigned
and when; the console records an ``alert.assigned`` audit entry beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection, Row


@dataclass(frozen=True)
class Assignment:
    seq: int
    alert_id: str
    officer_id: str | None
    """None: the alert was taken back (nobody holds it)."""
    assigned_by: str
    at: dt.datetime


def _assignment(row: Row) -> Assignment:
    return Assignment(
        seq=int(row["seq"]),
        alert_id=row["alert_id"],
        officer_id=row["officer_id"],
        assigned_by=row["assigned_by"],
        at=dt.datetime.fromisoformat(row["at"]),
    )


class AssignmentStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def assign(
        self,
        connection: Connection,
        alert_id: str,
        officer_id: str | None,
        *,
        by: str,
        at: dt.datetime,
    ) -> Assignment:
        """Inside the caller's transaction, assign ``alert_id`` (None: to nobody)."""
        (seq,) = connection.execute(
            "INSERT INTO alert_assignments (alert_id, officer_id, assigned_by, at) "
            "VALUES (?, ?, ?, ?) RETURNING seq",
            (alert_id, officer_id, by, at.isoformat()),
        ).fetchone()
        return Assignment(int(seq), alert_id, officer_id, by, at)

    def current(self, alert_ids: Iterable[str] | None = None) -> dict[str, str]:
        """Alert id -> the officer holding it, for alerts assigned to someone now."""
        rows = self._database.connection.execute(
            "SELECT a.alert_id, a.officer_id FROM alert_assignments a "
            "JOIN (SELECT alert_id, max(seq) AS seq FROM alert_assignments GROUP BY alert_id) l "
            "ON a.seq = l.seq WHERE a.officer_id IS NOT NULL"
        ).fetchall()
        held = {str(row[0]): str(row[1]) for row in rows}
        if alert_ids is None:
            return held
        wanted = set(alert_ids)
        return {alert: officer for alert, officer in held.items() if alert in wanted}

    def history(self, alert_id: str) -> list[Assignment]:
        """Every assignment of ``alert_id``, oldest first."""
        rows = self._database.connection.execute(
            "SELECT * FROM alert_assignments WHERE alert_id = ? ORDER BY seq", (alert_id,)
        ).fetchall()
        return [_assignment(row) for row in rows]

    def last_seq(self) -> int:
        """The newest row's number (0 when none): moves whenever anything is assigned."""
        row = self._database.connection.execute(
            "SELECT coalesce(max(seq), 0) FROM alert_assignments"
        ).fetchone()
        return int(row[0])
