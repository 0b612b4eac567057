"""Data key rotation without downtime.

``rotate_data_key`` retires the current key (kept under ``keys/data_keys/``),
installs a new one, and re-seals every template in batches of
``BATCH_ROWS``, each batch its own short transaction. A node running
meanwhile keeps working: it opens any row by the key id the row names, and
seals with whichever key is current when it writes. A retired key is removed
only by ``purge_retired_keys``, and only when no row still needs it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.crypto.at_rest import (
    CorruptRecord,
    open_template,
    seal_template,
    sealed_key_id,
)
from biometric_exchange.crypto.files import write_private
from biometric_exchange.crypto.keyring import (
    CURRENT_FILE,
    DATA_KEY_BYTES,
    RETIRED_DIR,
    DataKeyring,
    DataKeys,
)
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database

BATCH_ROWS = 500
SEALED_TABLES = (("encounters", "encounter_id"), ("watchlist", "entry_id"))


@dataclass(frozen=True)
class Rotation:
    new_key_id: str
    retired_key_id: str
    resealed: dict[str, int]


def rotate_data_key(keys_directory: Path, database: Database, audit: AuditLog) -> Rotation:
    """Retire the current data key, install a new one, re-seal every template."""
    retired_id, retired = DataKeyring(keys_directory).current()
    write_private(keys_directory / RETIRED_DIR / f"{retired_id}.key", retired, overwrite=True)
    (keys_directory / RETIRED_DIR).chmod(0o700)
    write_private(
        keys_directory / CURRENT_FILE, secrets.token_bytes(DATA_KEY_BYTES), overwrite=True
    )
    ring = DataKeyring(keys_directory)
    resealed = {table: _reseal(database, ring, table, column) for table, column in SEALED_TABLES}
    rotation = Rotation(ring.current()[0], retired_id, resealed)
    audit.record(
        AuditEvent.DATA_KEY_ROTATED,
        AuditOutcome.ACCEPTED,
        new_key_id=rotation.new_key_id,
        retired_key_id=rotation.retired_key_id,
        resealed=resealed,
    )
    return rotation


def _reseal(database: Database, ring: DataKeyring, table: str, column: str) -> int:
    current_id = ring.current()[0]
    resealed, last = 0, ""
    while True:
        with database.transaction() as connection:
            rows = connection.execute(
                f"SELECT {column}, template_sealed FROM {table} "  # noqa: S608 - fixed names
                f"WHERE {column} > ? ORDER BY {column} LIMIT ?",
                (last, BATCH_ROWS),
            ).fetchall()
            if not rows:
                return resealed
            for record_id, blob in rows:
                if sealed_key_id(blob) == current_id:
                    continue
                template = open_template(ring, table, record_id, blob)
                connection.execute(
                    f"UPDATE {table} SET template_sealed = ? WHERE {column} = ?",  # noqa: S608
                    (seal_template(ring, table, record_id, template), record_id),
                )
                resealed += 1
            last = rows[-1][0]


def sealed_counts(database: Database) -> dict[str, int]:
    """How many sealed templates each table holds."""
    return {
        table: int(
            database.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
        )
        for table, _column in SEALED_TABLES
    }


def unreadable_rows(database: Database, keys: DataKeys) -> list[str]:
    """Every sealed template that does not open with ``keys``, as a message each."""
    problems: list[str] = []
    for table, column in SEALED_TABLES:
        last = ""
        while True:
            rows = database.connection.execute(
                f"SELECT {column}, template_sealed FROM {table} "  # noqa: S608 - fixed names
                f"WHERE {column} > ? ORDER BY {column} LIMIT ?",
                (last, BATCH_ROWS),
            ).fetchall()
            if not rows:
                break
            for record_id, blob in rows:
                try:
                    open_template(keys, table, record_id, blob)
                except CorruptRecord as exc:
                    problems.append(str(exc))
            last = rows[-1][0]
    return problems


def keys_in_use(database: Database) -> set[str]:
    used: set[str] = set()
    for table, _column in SEALED_TABLES:
        for (blob,) in database.connection.execute(
            f"SELECT template_sealed FROM {table}"  # noqa: S608 - fixed names
        ):
            key_id = sealed_key_id(blob)
            if key_id is not None:
                used.add(key_id)
    return used


def purge_retired_keys(keys_directory: Path, database: Database) -> list[str]:
    """Delete retired keys no row is sealed under; return their ids."""
    used = keys_in_use(database)
    removed = []
    for path in sorted((keys_directory / RETIRED_DIR).glob("*.key")):
        if path.stem not in used:
            path.unlink()
            removed.append(path.stem)
    return removed
