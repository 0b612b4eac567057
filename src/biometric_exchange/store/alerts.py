"""Alerts at rest: one open alert per subject and cause; new evidence joins it.

Raising an alert whose (kind, subject) already has an open one (any status
but CLOSED) adds the evidence items whose ``key`` it does not hold yet and
keeps the higher severity; raising the same evidence twice changes nothing
(unless an occurrence is named: ``store.evidence``). Evidence lives in rows
of its own, at most ``max_evidence`` per alert; reads load at most that many
per alert, and ``evidence`` pages through them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
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
from biometric_exchange.store.dialect import Connection, Row
from biometric_exchange.store.evidence import (
    DEFAULT_MAX_EVIDENCE,
    SELECT_ALERTS,
    add_evidence,
    evidence_of_alerts,
    evidence_page,
    overflow_from_row,
)

SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
PARTNER_HIT_KINDS = (AlertKind.WATCHLIST_HIT.value, AlertKind.PROTECTION.value)


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def alert_from_row(row: Row, evidence: Sequence[Evidence] = ()) -> Alert:
    """The alert of an ``alerts`` row, with ``evidence`` (loaded separately)."""
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
        evidence=tuple(evidence),
        updated_at=_moment(row["updated_at"]),
        acknowledged_by=row["acknowledged_by"],
        due_at=_moment(row["due_at"]),
        evidence_overflow=overflow_from_row(row),
    )


def new_alert_id() -> str:
    return "ALR-" + secrets.token_hex(6).upper()


@dataclass(frozen=True)
class Raised:
    alert_id: str
    new: bool
    """A new alert (else evidence joined an open one, or nothing changed)."""
    evidence_added: int
    """Items stored as rows of their own."""
    evidence_repeated: int = 0
    """Known items that counted one more occurrence."""
    evidence_overflowed: int = 0
    """Items only counted: the alert held its cap of evidence."""


@dataclass(frozen=True)
class AlertFilter:
    kind: AlertKind | None = None
    status: AlertStatus | None = None
    queue: AlertQueue | None = None
    severity: Severity | None = None
    since: dt.datetime | None = None
    open_only: bool = False


def _filter_sql(criteria: AlertFilter) -> tuple[str, list[object]]:
    """``criteria`` as a condition on ``alerts AS a`` and its values."""
    clauses: list[str] = []
    values: list[object] = []
    for column, value in (
        ("kind", criteria.kind),
        ("status", criteria.status),
        ("queue", criteria.queue),
        ("severity", criteria.severity),
    ):
        if value is not None:
            clauses.append(f"a.{column} = ?")
            values.append(value.value)
    if criteria.since is not None:
        clauses.append("julianday(a.created_at) >= julianday(?)")
        values.append(criteria.since.isoformat())
    if criteria.open_only:
        clauses.append("a.status != ?")
        values.append(AlertStatus.CLOSED.value)
    return " AND ".join(clauses) or "1 = 1", values


class AlertStore:
    """``max_evidence``: the items one alert keeps (more are counted, not kept)."""

    def __init__(self, database: Database, *, max_evidence: int = DEFAULT_MAX_EVIDENCE) -> None:
        self._database = database
        self.max_evidence = max_evidence

    def raise_alert(self, alert: Alert, *, occurrence: str | None = None) -> Raised:
        """Store ``alert``, or add its evidence to the open alert of the same subject and
        kind. ``occurrence`` (e.g. the encounter behind it): a key the alert holds already
        counts one more occurrence, remembering this one as the last."""
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT alert_id, severity, evidence_count FROM alerts "
                "WHERE kind = ? AND subject_key = ? AND status != ?",
                (alert.kind.value, alert.subject_key, AlertStatus.CLOSED.value),
            ).fetchone()
            if row is None:
                self._insert(connection, alert)
                held, severity = 0, alert.severity
            else:
                held, severity = int(row["evidence_count"]), Severity(row["severity"])
            alert_id = alert.alert_id if row is None else str(row["alert_id"])
            added = add_evidence(
                connection,
                alert_id,
                alert.evidence,
                kind=alert.kind.value,
                held=held,
                cap=self.max_evidence,
                occurrence=occurrence,
            )
            if row is None or added.changed:
                connection.execute(
                    "UPDATE alerts SET evidence_count = evidence_count + ?, severity = ?, "
                    "updated_at = ? WHERE alert_id = ?",
                    (
                        added.stored,
                        max(severity, alert.severity, key=SEVERITY_RANK.__getitem__).value,
                        utc_now().isoformat(),
                        alert_id,
                    ),
                )
            return Raised(
                alert_id,
                new=row is None,
                evidence_added=added.stored,
                evidence_repeated=added.repeated,
                evidence_overflowed=added.overflowed,
            )

    def _insert(self, connection: Connection, alert: Alert) -> None:
        now = utc_now().isoformat()
        connection.execute(
            "INSERT INTO alerts (alert_id, kind, severity, status, queue, created_at, updated_at, "
            "summary, partner, encounter_id, watchlist_entry_id, hit_reference, category, "
            "distance, subject_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        )

    def get(self, alert_id: str) -> Alert | None:
        """The alert with its first ``max_evidence`` items (``evidence`` pages on)."""
        connection = self._database.connection
        row = connection.execute(f"{SELECT_ALERTS} WHERE a.alert_id = ?", (alert_id,)).fetchone()
        if row is None:
            return None
        return alert_from_row(
            row, evidence_page(connection, alert_id, offset=0, limit=self.max_evidence)
        )

    def evidence(self, alert_id: str, *, offset: int = 0, limit: int = 100) -> list[Evidence]:
        """One page of ``alert_id``'s evidence, in the order it arrived."""
        return evidence_page(self._database.connection, alert_id, offset=offset, limit=limit)

    def evidence_count(self, alert_id: str) -> int:
        """How many items ``alert_id`` keeps (0 for an unknown alert)."""
        row = self._database.connection.execute(
            "SELECT evidence_count FROM alerts WHERE alert_id = ?", (alert_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def received_references(self, partner: str) -> set[str]:
        """Hit references ``partner`` handed us in step 1 (what step 2 may name)."""
        kinds = ", ".join("?" * len(PARTNER_HIT_KINDS))
        rows = self._database.connection.execute(
            "SELECT e.hit_reference FROM alerts AS a "  # noqa: S608 - fixed placeholders
            "JOIN alert_evidence AS e ON e.alert_id = a.alert_id "
            f"WHERE a.partner = ? AND a.kind IN ({kinds}) AND a.encounter_id IS NOT NULL "
            "AND e.hit_reference IS NOT NULL "
            "UNION SELECT hit_reference FROM alerts "
            f"WHERE partner = ? AND kind IN ({kinds}) AND encounter_id IS NOT NULL "
            "AND hit_reference IS NOT NULL",
            (partner, *PARTNER_HIT_KINDS, partner, *PARTNER_HIT_KINDS),
        ).fetchall()
        return {str(row[0]) for row in rows}

    def partner_hits(self, partner: str) -> list[Alert]:
        """Our encounters' hits on ``partner``'s watchlist (enforcement or protection)."""
        kinds = ", ".join("?" * len(PARTNER_HIT_KINDS))
        return self._select(
            f"a.partner = ? AND a.kind IN ({kinds}) AND a.encounter_id IS NOT NULL",
            [partner, *PARTNER_HIT_KINDS],
        )

    def _select(self, where: str, values: Sequence[object]) -> list[Alert]:
        """Alerts matching ``where`` (on ``alerts AS a``), oldest first: two queries, one
        for the alerts and one for their evidence."""
        connection = self._database.connection
        rows = connection.execute(
            f"{SELECT_ALERTS} WHERE {where} ORDER BY a.created_at, a.alert_id",
            values,
        ).fetchall()
        if not rows:
            return []
        evidence = evidence_of_alerts(
            connection,
            f"SELECT a.alert_id FROM alerts AS a WHERE {where}",  # noqa: S608
            values,
            each=self.max_evidence,
        )
        return [alert_from_row(row, evidence.get(row["alert_id"], ())) for row in rows]

    def list(
        self, criteria: AlertFilter | None = None, *, kind: AlertKind | None = None
    ) -> list[Alert]:
        """Alerts matching ``criteria`` (or just ``kind``), oldest first, each with its
        first ``max_evidence`` items."""
        where, values = _filter_sql(criteria or AlertFilter(kind=kind))
        return self._select(where, values)
