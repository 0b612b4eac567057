"""What opens the scope commitments of the probes we sent: the facts and the salt.

Kept by the sender only, so that an auditor can have any probe's commitment
opened; purged with the partner's exchanged data. A probe sent again (a retry)
keeps the commitment it was first sent with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from biometric_exchange.domain import utc_now
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Row


@dataclass(frozen=True)
class StoredOpening:
    probe_ref: str
    partner: str
    facts: str
    """The canonical JSON the commitment hashes."""
    salt: bytes
    commitment: bytes


class ScopeOpenings:
    def __init__(self, database: Database) -> None:
        self._database = database

    def keep(self, partner: str, openings: Sequence[StoredOpening]) -> dict[str, StoredOpening]:
        """Store ``openings`` whose probe has none yet; every probe's opening, by probe ref."""
        now = utc_now().isoformat()
        refs = [o.probe_ref for o in openings]
        with self._database.transaction() as connection:
            connection.executemany(
                "INSERT INTO scope_openings (probe_ref, partner, facts, salt, "
                "commitment, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (probe_ref) DO NOTHING",
                [(o.probe_ref, partner, o.facts, o.salt, o.commitment, now) for o in openings],
            )
            marks = ", ".join("?" * len(refs))
            rows = connection.execute(
                f"SELECT * FROM scope_openings WHERE probe_ref IN ({marks})",  # noqa: S608
                refs,
            ).fetchall()
        return {row["probe_ref"]: _opening(row) for row in rows}

    def get(self, probe_ref: str) -> StoredOpening | None:
        row = self._database.connection.execute(
            "SELECT * FROM scope_openings WHERE probe_ref = ?", (probe_ref,)
        ).fetchone()
        return _opening(row) if row else None


def _opening(row: Row) -> StoredOpening:
    return StoredOpening(
        row["probe_ref"], row["partner"], row["facts"], bytes(row["salt"]), bytes(row["commitment"])
    )
