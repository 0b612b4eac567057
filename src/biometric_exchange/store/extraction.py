"""What the holder's extraction guard keeps per partner and UTC day: hits per
watchlist entry, guard refusals (strikes) and whether step 1 is held."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from biometric_exchange.exceptions import HitCapExceeded
from biometric_exchange.store.database import Database


@dataclass(frozen=True)
class Standing:
    """A partner's strikes on one day, after the latest one."""

    strikes: int
    held: bool
    newly_held: bool
    """The latest strike is the one that held the partner."""


class ExtractionStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def count_hits(
        self, partner: str, day: dt.date, entry_ids: Sequence[str], *, limit: int
    ) -> None:
        """Add one hit per id (an id may repeat) to ``partner``'s counts for ``day``.

        Must run inside the caller's transaction, which commits the counts;
        HitCapExceeded, raised when a count would pass ``limit``, undoes them."""
        connection = self._database.connection
        if not connection.in_transaction:
            raise RuntimeError("hits are counted inside the transaction that accepts them")
        with self._database.transaction():
            for entry_id, added in sorted(Counter(entry_ids).items()):
                (total,) = connection.execute(
                    "INSERT INTO extraction_hits (partner, day, entry_id, hits) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (partner, day, entry_id) "
                    "DO UPDATE SET hits = extraction_hits.hits + excluded.hits RETURNING hits",
                    (partner, day.isoformat(), entry_id, added),
                ).fetchone()
                if total > limit:
                    raise HitCapExceeded(
                        f"watchlist entry {entry_id} hit {total} times by {partner} on "
                        f"{day.isoformat()}; at most {limit} a day"
                    )

    def hits(self, partner: str, day: dt.date, entry_id: str) -> int:
        row = self._database.connection.execute(
            "SELECT hits FROM extraction_hits WHERE partner = ? AND day = ? AND entry_id = ?",
            (partner, day.isoformat(), entry_id),
        ).fetchone()
        return int(row[0]) if row else 0

    def strike(self, partner: str, day: dt.date, *, hold_at: int, hold_now: bool) -> Standing:
        """One more strike for ``partner`` on ``day``, in a transaction of its own; the
        partner is held from ``hold_at`` strikes, or at once with ``hold_now``."""
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT strikes, held FROM extraction_strikes WHERE partner = ? AND day = ?",
                (partner, day.isoformat()),
            ).fetchone()
            strikes = (int(row[0]) if row else 0) + 1
            was_held = bool(row[1]) if row else False
            held = was_held or hold_now or strikes >= hold_at
            connection.execute(
                "INSERT INTO extraction_strikes (partner, day, strikes, held) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (partner, day) DO UPDATE SET strikes = excluded.strikes, "
                "held = excluded.held",
                (partner, day.isoformat(), strikes, int(held)),
            )
        return Standing(strikes=strikes, held=held, newly_held=held and not was_held)

    def standing(self, partner: str, day: dt.date) -> tuple[int, bool]:
        """(strikes, held) of ``partner`` on ``day``."""
        row = self._database.connection.execute(
            "SELECT strikes, held FROM extraction_strikes WHERE partner = ? AND day = ?",
            (partner, day.isoformat()),
        ).fetchone()
        return (int(row[0]), bool(row[1])) if row else (0, False)
