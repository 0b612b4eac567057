"""Opaque hit references handed to the partner: they name nobody.

The holder keeps the mapping reference → watchlist entry, bound to the party
it was issued to and valid until it expires; a step-2 request names the
reference. A retried probe gets the same reference.
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
            row = connection.execute(
                "SELECT reference FROM hit_references WHERE partner = ? AND probe_ref = ? "
                "AND entry_id = ?",
                (partner, probe_ref, entry_id),
            ).fetchone()
            if row:
                return str(row[0])
            reference = "HIT-" + secrets.token_urlsafe(12)
            now = utc_now()
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
