"""Refusals of calls that never proved their sender, counted rather than logged.

A call refused before its envelope's signature verified (or whose bytes are not
a request at all) costs its sender nothing, so it must cost us little: each is
counted per peer, event, fixed reason and UTC hour (``unauthenticated_refusals``),
and only the first of a window appends an audit entry (with ``window`` and
``counted`` in its detail). The audit chain is never rewritten; the table holds
the totals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database

WINDOW_FORMAT = "%Y-%m-%dT%H"
"""A window is one UTC hour."""


@dataclass(frozen=True)
class RefusalCount:
    peer: str
    event: str
    reason: str
    window: str
    count: int


def window_of(at_ms: int) -> str:
    """The UTC hour ``at_ms`` falls in, e.g. ``2026-12-06T01``."""
    return dt.datetime.fromtimestamp(at_ms / 1000, tz=dt.UTC).strftime(WINDOW_FORMAT)


class RefusalCounts:
    """Counts unauthenticated refusals; ``clock`` gives ms since the epoch."""

    def __init__(self, database: Database, audit: AuditLog, clock: Callable[[], int]) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def count(
        self, event: AuditEvent, peer: str, reason: str, *, claimed_message_id: str | None = None
    ) -> int:
        """One more refusal of ``reason``; audited when it opens its window. Returns
        the window's count so far. ``reason`` must come from a small fixed set."""
        window = window_of(self._clock())
        with self._database.transaction() as connection:
            (count,) = connection.execute(
                "INSERT INTO unauthenticated_refusals (peer, event, reason, hour, count) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT (peer, event, reason, hour) "
                "DO UPDATE SET count = unauthenticated_refusals.count + 1 RETURNING count",
                (peer, event.value, reason, window),
            ).fetchone()
            if count == 1:
                self._audit.append(
                    connection,
                    event,
                    AuditOutcome.REJECTED,
                    peer=peer,
                    claimed_message_id=claimed_message_id,
                    reason=reason,
                    window=window,
                    counted=True,
                )
        return int(count)

    def counts(self) -> list[RefusalCount]:
        """Every window's count, oldest window first."""
        rows = self._database.connection.execute(
            "SELECT peer, event, reason, hour, count FROM unauthenticated_refusals "
            "ORDER BY hour, peer, event, reason"
        ).fetchall()
        return [RefusalCount(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]
