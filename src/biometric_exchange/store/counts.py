"""Daily encounter counts: ours, computed from the encounters table, and the
partners', as they last sent them (``partner_counts``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from biometric_exchange.domain import DailyCount
from biometric_exchange.store.database import Database


class DailyCounts:
    def __init__(self, database: Database) -> None:
        self._database = database

    def local(self, first_day: dt.date, last_day: dt.date) -> list[DailyCount]:
        """Our own daily counts in [first_day, last_day], unsuppressed (for local use)."""
        rows = self._database.connection.execute(
            "SELECT date(encountered_at) AS day, nationality, border_point, count(*) AS n "
            "FROM encounters WHERE date(encountered_at) BETWEEN ? AND ? "
            "GROUP BY day, nationality, border_point ORDER BY day, nationality, border_point",
            (first_day.isoformat(), last_day.isoformat()),
        ).fetchall()
        return [
            DailyCount(
                dt.date.fromisoformat(row["day"]), row["nationality"], row["border_point"], row["n"]
            )
            for row in rows
        ]

    def first_local_day(self) -> dt.date | None:
        """The UTC day of our earliest encounter (where our series start)."""
        row = self._database.connection.execute(
            "SELECT min(date(encountered_at)) FROM encounters"
        ).fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None

    def replace_partner(
        self,
        party: str,
        first_day: dt.date,
        last_day: dt.date,
        counts: Iterable[DailyCount],
        *,
        received_at: dt.datetime,
    ) -> int:
        """Replace ``party``'s stored counts for [first_day, last_day] with ``counts``
        (upserted; rows of the range not in ``counts`` are removed). Return how many."""
        rows = [
            (
                party,
                c.day.isoformat(),
                c.nationality,
                c.border_point,
                c.count,
                received_at.isoformat(),
            )
            for c in counts
        ]
        with self._database.transaction() as connection:
            connection.execute(
                "DELETE FROM partner_counts WHERE party = ? AND day BETWEEN ? AND ?",
                (party, first_day.isoformat(), last_day.isoformat()),
            )
            connection.executemany(
                "INSERT INTO partner_counts (party, day, nationality, border_point, count, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (party, day, nationality, border_point) DO UPDATE SET "
                "count = excluded.count, received_at = excluded.received_at",
                rows,
            )
        return len(rows)

    def partner(self, party: str, first_day: dt.date, last_day: dt.date) -> list[DailyCount]:
        """``party``'s stored counts in [first_day, last_day]."""
        rows = self._database.connection.execute(
            "SELECT day, nationality, border_point, count FROM partner_counts "
            "WHERE party = ? AND day BETWEEN ? AND ? ORDER BY day, nationality, border_point",
            (party, first_day.isoformat(), last_day.isoformat()),
        ).fetchall()
        return [
            DailyCount(
                dt.date.fromisoformat(row["day"]),
                row["nationality"],
                row["border_point"],
                row["count"],
            )
            for row in rows
        ]

    def first_partner_day(self, party: str) -> dt.date | None:
        """The earliest day we hold a count of ``party`` for (where its series start)."""
        row = self._database.connection.execute(
            "SELECT min(day) FROM partner_counts WHERE party = ?", (party,)
        ).fetchone()
        return dt.date.fromisoformat(row[0]) if row and row[0] else None
