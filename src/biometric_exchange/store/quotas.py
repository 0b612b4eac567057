"""Daily quota counters per party and kind, in the node database."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from biometric_exchange.exceptions import QuotaExceeded
from biometric_exchange.store.database import Database


class QuotaKind(StrEnum):
    PROBES_SENT = "probes_sent"
    PROBES_RECEIVED = "probes_received"
    DETAILS_SENT = "details_sent"
    DETAILS_RECEIVED = "details_received"
    ROUTED = "routed"
    """A federation router: calls forwarded for a member."""


class Quotas:
    def __init__(self, database: Database) -> None:
        self._database = database

    def consume(self, day: dt.date, party: str, kind: QuotaKind, amount: int, limit: int) -> None:
        """Count ``amount`` against the day's ``limit``; QuotaExceeded counts nothing
        (the count is undone with the transaction it raises out of)."""
        with self._database.transaction() as connection:
            (total,) = connection.execute(
                "INSERT INTO quota_usage (day, party, kind, used) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (day, party, kind) "
                "DO UPDATE SET used = quota_usage.used + excluded.used RETURNING used",
                (day.isoformat(), party, kind.value, amount),
            ).fetchone()
            if total > limit:
                raise QuotaExceeded(
                    f"daily quota {kind.value} for {party}: {total - amount} of {limit} used, "
                    f"{amount} more asked"
                )

    def used(self, day: dt.date, party: str, kind: QuotaKind) -> int:
        row = self._database.connection.execute(
            "SELECT used FROM quota_usage WHERE day = ? AND party = ? AND kind = ?",
            (day.isoformat(), party, kind.value),
        ).fetchone()
        return int(row[0]) if row else 0
