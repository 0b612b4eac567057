"""What a partner disclosed to us in step 2, sealed at rest like our own records.

``details_sent.disclosed`` holds the values the holder sent (names, birth date,
document number…) as one JSON object, sealed under the data key and bound to
the request id, so the requester keeps no exchanged personal data in clear. A
value written before sealing is JSON text: it still reads, and
``seal_clear_disclosures`` seals it in place when the node opens.
"""

from __future__ import annotations

import json
from typing import Any

from biometric_exchange.crypto.at_rest import (
    CorruptRecord,
    open_field,
    seal_field,
    sealed_key_id,
)
from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.store.database import Database

Keys = bytes | DataKeys
TABLE, COLUMN = "details_sent", "disclosed"


def seal_disclosed(keys: Keys, request_id: str, disclosed: dict[str, str]) -> bytes:
    plain = json.dumps(disclosed, sort_keys=True).encode()
    return seal_field(keys, TABLE, COLUMN, request_id, plain)


def open_disclosed(keys: Keys, request_id: str, stored: object) -> dict[str, str]:
    """The disclosed values of one request (JSON text when written before sealing)."""
    if isinstance(stored, str):
        plain: Any = json.loads(stored)
    else:
        plain = json.loads(open_field(keys, TABLE, COLUMN, request_id, stored))
    return {str(name): str(value) for name, value in plain.items()}


def clear_disclosures(database: Database) -> int:
    """How many disclosures are still in clear (written before sealing)."""
    return int(
        database.connection.execute(
            "SELECT count(*) FROM details_sent WHERE typeof(disclosed) = 'text'"
        ).fetchone()[0]
    )


def seal_clear_disclosures(database: Database, keys: Keys) -> int:
    """Seal every disclosure still in clear, in one transaction, their clear bytes
    overwritten on disk; return how many."""
    if not clear_disclosures(database):
        return 0
    with database.overwriting(), database.transaction() as connection:
        rows = connection.execute(
            "SELECT request_id, disclosed FROM details_sent WHERE typeof(disclosed) = 'text'"
        ).fetchall()
        for request_id, text in rows:
            connection.execute(
                "UPDATE details_sent SET disclosed = ? WHERE request_id = ?",
                (
                    seal_disclosed(keys, request_id, open_disclosed(keys, request_id, text)),
                    request_id,
                ),
            )
    return len(rows)


def reseal_disclosures(database: Database, keys: DataKeys) -> int:
    """Re-seal the disclosures not under the current data key; return how many."""
    current = keys.current()[0]
    with database.transaction() as connection:
        rows = connection.execute("SELECT request_id, disclosed FROM details_sent").fetchall()
        stale = [(rid, blob) for rid, blob in rows if _key_id(blob) not in (None, current)]
        for request_id, blob in stale:
            connection.execute(
                "UPDATE details_sent SET disclosed = ? WHERE request_id = ?",
                (
                    seal_disclosed(keys, request_id, open_disclosed(keys, request_id, blob)),
                    request_id,
                ),
            )
    return len(stale)


def _key_id(stored: object) -> str | None:
    return sealed_key_id(stored) if isinstance(stored, bytes) else None


def disclosure_problems(database: Database, keys: DataKeys) -> list[str]:
    """Every sealed disclosure that does not open with ``keys``, as a message each."""
    problems = []
    for request_id, stored in database.connection.execute(
        "SELECT request_id, disclosed FROM details_sent ORDER BY request_id"
    ):
        try:
            open_disclosed(keys, request_id, stored)
        except CorruptRecord as exc:
            problems.append(str(exc))
    return problems


def disclosure_key_ids(database: Database) -> set[str]:
    """The data keys some disclosure is sealed under."""
    return {
        key_id
        for (stored,) in database.connection.execute("SELECT disclosed FROM details_sent")
        if (key_id := _key_id(stored)) is not None
    }
