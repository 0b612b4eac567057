"""Opaque hit references handed to the partner: they name nobody, and link nothing.

The holder keeps the mapping reference → watchlist entry, bound to the party
it was issued to and valid until it expires; a step-2 request or a sighting
names the reference. Every probe gets fresh references: two hits on the same
entry by two probes carry unrelated references, so a partner cannot use them
as a pseudonym of our watchlist subject (it can still compare its own probes,
which it holds anyway). A probe sent again (a retry: same reference and same
template) gets the reference it was given, while that is valid; reusing a probe
reference for another template gets a new one, so it links nothing either.
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
    sighted_at: dt.datetime | None = None
    """When the partner reported where and when it saw the subject, if it has."""

    def valid_for(self, partner: str, now: dt.datetime) -> bool:
        return self.partner == partner and (self.expires_at is None or now < self.expires_at)


class HitReferences:
    def __init__(self, database: Database) -> None:
        self._database = database

    def issue(
        self,
        partner: str,
        probe_ref: str,
        entry_id: str,
        *,
        probe_digest: str,
        ttl: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> str:
        """A new reference to ``entry_id`` for ``partner``'s probe ``probe_ref``. The same
        probe sent again (a retry: same reference, same template, ``probe_digest``) gets
        the one it was given while that is valid; any other probe, even under a
        reference used before, a new one."""
        now = now or utc_now()
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT reference FROM hit_references WHERE partner = ? AND probe_ref = ? "
                "AND entry_id = ? AND probe_digest = ? "
                "AND julianday(expires_at) > julianday(?)",
                (partner, probe_ref, entry_id, probe_digest, now.isoformat()),
            ).fetchone()
            if row is not None:
                return str(row[0])
            reference = "HIT-" + secrets.token_urlsafe(12)
            connection.execute(
                "INSERT INTO hit_references (reference, entry_id, partner, probe_ref, created_at, "
                "expires_at, probe_digest) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (partner, probe_ref, entry_id) DO UPDATE SET "
                "reference = excluded.reference, created_at = excluded.created_at, "
                "expires_at = excluded.expires_at, probe_digest = excluded.probe_digest, "
                "sighted_at = NULL",
                (
                    reference,
                    entry_id,
                    partner,
                    probe_ref,
                    now.isoformat(),
                    (now + ttl).isoformat(),
                    probe_digest,
                ),
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
            sighted_at=dt.datetime.fromisoformat(row["sighted_at"]) if row["sighted_at"] else None,
        )

    def entry_for(self, partner: str, reference: str) -> str | None:
        found = self.get(reference)
        return found.entry_id if found and found.partner == partner else None

    def mark_sighted(self, reference: str, at: dt.datetime) -> bool:
        """Record the sighting of ``reference``; False when one was recorded already."""
        with self._database.transaction() as connection:
            changed = connection.execute(
                "UPDATE hit_references SET sighted_at = ? "
                "WHERE reference = ? AND sighted_at IS NULL",
                (at.isoformat(), reference),
            ).rowcount
        return changed == 1
