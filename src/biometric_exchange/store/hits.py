"""Opaque hit references handed to the partner: they name nobody.

The holder keeps the mapping reference → watchlist entry; a later step-2
request names the reference. A retried probe gets the same reference.
"""

from __future__ import annotations

import secrets

from biometric_exchange.domain import utc_now
from biometric_exchange.store.database import Database


class HitReferences:
    def __init__(self, database: Database) -> None:
        self._database = database

    def issue(self, partner: str, probe_ref: str, entry_id: str) -> str:
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT reference FROM hit_references WHERE partner = ? AND probe_ref = ? "
                "AND entry_id = ?",
                (partner, probe_ref, entry_id),
            ).fetchone()
            if row:
                return str(row[0])
            reference = "HIT-" + secrets.token_urlsafe(12)
            connection.execute(
                "INSERT INTO hit_references (reference, entry_id, partner, probe_ref, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (reference, entry_id, partner, probe_ref, utc_now().isoformat()),
            )
            return reference

    def entry_for(self, partner: str, reference: str) -> str | None:
        row = self._database.connection.execute(
            "SELECT entry_id FROM hit_references WHERE partner = ? AND reference = ?",
            (partner, reference),
        ).fetchone()
        return str(row[0]) if row else None
