"""Opaque hit references handed to the partner: they name nobody.

The holder keeps the mapping reference → watchlist entry, bound to the party
it was issued to and valid until it expires; a step-2 request names the
reference. While a reference is valid, every probe of that party that hits the
same entry gets the same reference: the partner can then keep one alert per
subject and see the same face under two identities, learning nothing it
could not learn by comparing its own probes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from biometric_exchange.domain import utc_now
from biometric_exchange.store.database import Database


@dataclass(frozen=True)
class HitReference:
    reference: str
    entry_id: str
    partner: str
    probe_ref: str
    created_at: dt.datetime
    expires_at: dt.datetime | None


class HitReferences:
    def __init__(self, database: Database) -> None:
        self._database = database

    def issue(self, partner: str, probe_ref: str, entry_id: str, *, ttl: dt.timedelta) -> str:
        with self._database.transaction() as connection:
            now = utc_now()
            row = connection.execute(
                "SELECT reference FROM hit_references WHERE partner = ? AND entry_id = ? "
                "AND (expires_at IS NULL OR julianday(expires_at) > julianday(?)) "
                "ORDER BY created_at DESC LIMIT 1",
                (partner, entry_id, now.isoformat()),
            ).fetchone()
            if row:
                return str(row[0])
            reference = "HIT-" + secrets.token_urlsafe(12)
            connection.execute(
                "INSERT INTO hit_references (reference, entry_id, partner, probe_ref, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (reference, entry_id, partner, probe_ref, now.isoformat(), (now + ttl).isoformat()),
            )
            return reference

    def get(self, reference: str) -> HitReference | None:
        """The reference whoever it was issued to; callers check party and expiry."""
        row = self._database.connection.execute(
            "SELECT * FROM hit_references WHERE reference = ?", (reference,)
        ).fetchone()
        if row is None:
            return None
        return HitReference(
            reference=row["reference"],
            entry_id=row["entry_id"],
            partner=row["partner"],
            probe_ref=row["probe_ref"],
            created_at=dt.datetime.fromisoformat(row["created_at"]),
            expires_at=dt.datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
        )

    def entry_for(self, partner: str, reference: str) -> str | None:
        found = self.get(reference)
        return found.entry_id if found and found.partner == partner else None
