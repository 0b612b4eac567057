"""Alerts at rest: one open alert per subject and cause; new evidence joins it.

Raising an alert whose (kind, subject) already has an open one (any status
but CLOSED) appends the evidence items whose ``key`` it does not hold yet and
keeps the higher severity; raising the same evidence twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from dataclasses import dataclass

from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    AlertStatus,
    Evidence,
    Severity,
    utc_now,
)
from biometric_exchange.store.database import Database

SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def alert_from_row(row: sqlite3.Row) -> Alert:
    return Alert(
        alert_id=row["alert_id"],
        kind=AlertKind(row["kind"]),
        severity=Severity(row["severity"]),
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        summary=row["summary"],
        subject_key=row["subject_key"],
        queue=AlertQueue(row["queue"]),
        partner=row["partner"],
        encounter_id=row["encounter_id"],
        watchlist_entry_id=row["watchlist_entry_id"],
        hit_reference=row["hit_reference"],
        category=row["category"],
        distance=row["distance"],
        status=AlertStatus(row["status"]),
        evidence=tuple(json.loads(row["evidence"])),
        updated_at=_moment(row["updated_at"]),
        acknowledged_by=row["acknowledged_by"],
        due_at=_moment(row["due_at"]),
    )


def new_alert_id() -> str:
    return "ALR-" + secrets.token_hex(6).upper()


@dataclass(frozen=True)
class Raised:
    alert_id: str
    new: bool
    """A new alert (else evidence joined an open one, or nothing changed)."""
    evidence_added: int


@dataclass(frozen=True)
class AlertFilter:
    kind: AlertKind | None = None
    status: AlertStatus | None = None
    queue: AlertQueue | None = None
    severity: Severity | None = None
    since: dt.datetime | None = None
    open_only: bool = False


class AlertStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def raise_alert(self, alert: Alert) -> Raised:
        """Store ``alert``, or add its evidence to the open alert of the same subject and kind."""
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT * FROM alerts WHERE kind = ? AND subject_key = ? AND status != ?",
                (alert.kind.value, alert.subject_key, AlertStatus.CLOSED.value),
            ).fetchone()
            if row is None:
                self._insert(connection, alert)
                return Raised(alert.alert_id, new=True, evidence_added=len(alert.evidence))
            return self._join(connection, alert_from_row(row), alert)

    def _insert(self, connection: sqlite3.Connection, alert: Alert) -> None:
        now = utc_now().isoformat()
        connection.execute(
            "INSERT INTO alerts (alert_id, kind, severity, status, queue, created_at, updated_at, "
            "summary, partner, encounter_id, watchlist_entry_id, hit_reference, category, "
            "distance, subject_key, evidence) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                alert.alert_id,
                alert.kind.value,
                alert.severity.value,
                alert.status.value,
                alert.queue.value,
                alert.created_at.isoformat(),
                now,
                alert.summary,
                alert.partner,
                alert.encounter_id,
                alert.watchlist_entry_id,
                alert.hit_reference,
                alert.category,
                alert.distance,
                alert.subject_key,
                json.dumps(list(alert.evidence), sort_keys=True),
            ),
        )

    def _join(self, connection: sqlite3.Connection, existing: Alert, incoming: Alert) -> Raised:
        known = {item.get("key") for item in existing.evidence}
        added: list[Evidence] = [item for item in incoming.evidence if item.get("key") not in known]
        if not added:
            return Raised(existing.alert_id, new=False, evidence_added=0)
        severity = max(existing.severity, incoming.severity, key=SEVERITY_RANK.__getitem__)
        connection.execute(
            "UPDATE alerts SET evidence = ?, severity = ?, updated_at = ? WHERE alert_id = ?",
            (
                json.dumps([*existing.evidence, *added], sort_keys=True),
                severity.value,
                utc_now().isoformat(),
                existing.alert_id,
            ),
        )
        return Raised(existing.alert_id, new=False, evidence_added=len(added))

    def get(self, alert_id: str) -> Alert | None:
        row = self._database.connection.execute(
            "SELECT * FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchone()
        return alert_from_row(row) if row else None

    def received_references(self, partner: str) -> set[str]:
        """Hit references ``partner`` handed us in step 1 (what step 2 may name)."""
        return {
            str(item["hit_reference"])
            for alert in self.partner_hits(partner)
            for item in alert.evidence
            if item.get("hit_reference")
        }

    def partner_hits(self, partner: str) -> list[Alert]:
        """Our encounters' hits on ``partner``'s watchlist (enforcement or protection)."""
        return [
            a
            for a in self.list(AlertFilter())
            if a.partner == partner
            and a.encounter_id is not None
            and a.kind in {AlertKind.WATCHLIST_HIT, AlertKind.PROTECTION}
        ]

    def list(
        self, criteria: AlertFilter | None = None, *, kind: AlertKind | None = None
    ) -> list[Alert]:
        """Alerts matching ``criteria`` (or just ``kind``), oldest first."""
        criteria = criteria or AlertFilter(kind=kind)
        clauses, values = [], []
        for column, value in (
            ("kind", criteria.kind),
            ("status", criteria.status),
            ("queue", criteria.queue),
            ("severity", criteria.severity),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value.value)
        if criteria.since is not None:
            clauses.append("julianday(created_at) >= julianday(?)")
            values.append(criteria.since.isoformat())
        if criteria.open_only:
            clauses.append("status != ?")
            values.append(AlertStatus.CLOSED.value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._database.connection.execute(
            f"SELECT * FROM alerts {where} ORDER BY created_at, alert_id",  # noqa: S608
            values,
        ).fetchall()
        return [alert_from_row(row) for row in rows]
