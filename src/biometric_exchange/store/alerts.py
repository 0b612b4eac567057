"""Alerts at rest. A dedup key makes raising the same alert twice a no-op."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3

from biometric_exchange.domain import Alert, AlertKind, AlertStatus, Severity
from biometric_exchange.store.database import Database


def _alert(row: sqlite3.Row) -> Alert:
    return Alert(
        alert_id=row["alert_id"],
        kind=AlertKind(row["kind"]),
        severity=Severity(row["severity"]),
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        summary=row["summary"],
        partner=row["partner"],
        encounter_id=row["encounter_id"],
        watchlist_entry_id=row["watchlist_entry_id"],
        hit_reference=row["hit_reference"],
        category=row["category"],
        distance=row["distance"],
        status=AlertStatus(row["status"]),
    )


def new_alert_id() -> str:
    return "ALR-" + secrets.token_hex(6).upper()


class AlertStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def raise_alert(self, alert: Alert, dedup_key: str) -> bool:
        """Store ``alert`` unless one with ``dedup_key`` exists; True when new."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO alerts (alert_id, kind, severity, status, created_at, summary, "
                "partner, encounter_id, watchlist_entry_id, hit_reference, category, distance, "
                "dedup_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
                (
                    alert.alert_id,
                    alert.kind.value,
                    alert.severity.value,
                    alert.status.value,
                    alert.created_at.isoformat(),
                    alert.summary,
                    alert.partner,
                    alert.encounter_id,
                    alert.watchlist_entry_id,
                    alert.hit_reference,
                    alert.category,
                    alert.distance,
                    dedup_key,
                ),
            )
            return cursor.rowcount == 1

    def list(self, *, kind: AlertKind | None = None) -> list[Alert]:
        rows = self._database.connection.execute(
            "SELECT * FROM alerts WHERE ? IS NULL OR kind = ? ORDER BY created_at, alert_id",
            (kind, kind),
        ).fetchall()
        return [_alert(row) for row in rows]
