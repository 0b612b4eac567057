"""Calls a partner may make often, audited once per hour and counted.

A partner's Ping is cheap to make and says little, so each is counted per
partner, event, outcome, fixed reason and UTC hour (``counted_calls``) and only
the first of a window appends an audit entry, with ``window`` and ``counted``
in its detail and the total of that key's previous window (``previous_window``,
``previous_count``), so the audit chain holds every total an hour later at
most. The log grows by at most one entry per partner, outcome, reason and hour
however often the partner calls; the table holds the running totals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database
from biometric_exchange.store.refusals import window_of


@dataclass(frozen=True)
class CallCount:
    peer: str
    event: str
    outcome: str
    reason: str
    window: str
    count: int


class CallCounts:
    """Counts calls per window; ``clock`` gives ms since the epoch."""

    def __init__(self, database: Database, audit: AuditLog, clock: Callable[[], int]) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def count(self, event: AuditEvent, outcome: AuditOutcome, peer: str, reason: str) -> int:
        """One more call; audited when it opens its window. Returns the window's count
        so far. ``reason`` must come from a small fixed set."""
        window = window_of(self._clock())
        key = (peer, event.value, outcome.value, reason)
        with self._database.transaction() as connection:
            (count,) = connection.execute(
                "INSERT INTO counted_calls (peer, event, outcome, reason, hour, count) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (peer, event, outcome, reason, hour) "
                "DO UPDATE SET count = counted_calls.count + 1 RETURNING count",
                (*key, window),
            ).fetchone()
            if count == 1:
                previous = connection.execute(
                    "SELECT hour, count FROM counted_calls WHERE peer = ? AND event = ? "
                    "AND outcome = ? AND reason = ? AND hour < ? ORDER BY hour DESC LIMIT 1",
                    (*key, window),
                ).fetchone()
                self._audit.append(
                    connection,
                    event,
                    outcome,
                    peer=peer,
                    reason=reason,
                    window=window,
                    counted=True,
                    previous_window=previous[0] if previous else None,
                    previous_count=int(previous[1]) if previous else 0,
                )
        return int(count)

    def counts(self, event: AuditEvent | None = None) -> list[CallCount]:
        """Every window's count (of ``event`` when given), oldest window first."""
        value = event.value if event else None
        rows = self._database.connection.execute(
            "SELECT peer, event, outcome, reason, hour, count FROM counted_calls "
            "WHERE ? IS NULL OR event = ? ORDER BY hour, peer, event, outcome, reason",
            (value, value),
        ).fetchall()
        return [
            CallCount(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]))
            for r in rows
        ]
