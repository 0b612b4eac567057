"""Data key rotation without downtime.

``rotate_data_key`` retires the current key (kept under ``keys/data_keys/``),
installs a new one, and re-seals every template, every sealed personal field
(step-2 disclosures received included) and the lookup key, in batches of
``BATCH_ROWS``, each batch its own short transaction; the keyed hashes stay,
as the lookup key does not change. A node running
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
from biometric_exchange.store.dialect import Connection, Row
from biometric_exchange.store.disclosed import (
    disclosure_key_ids,
    disclosure_problems,
    reseal_disclosures,
)
from biometric_exchange.store.lookup_key import (
    lookup_key_id,
    lookup_key_problems,
    reseal_lookup_key,
)
from biometric_exchange.store.personal import SEALED_COLUMNS, opened_values, seal_values

BATCH_ROWS = 500
SEALED_TABLES = (("encounters", "encounter_id"), ("watchlist", "entry_id"))


@dataclass(frozen=True)
class Rotation:
    new_key_id: str
    retired_key_id: str
    resealed: dict[str, int]


def rotate_data_key(keys_directory: Path, database: Database, audit: AuditLog) -> Rotation:
    """Retire the current data key, install a new one, re-seal every sealed row."""
    retired_id, retired = DataKeyring(keys_directory).current()
    write_private(keys_directory / RETIRED_DIR / f"{retired_id}.key", retired, overwrite=True)
    (keys_directory / RETIRED_DIR).chmod(0o700)
    write_private(
        keys_directory / CURRENT_FILE, secrets.token_bytes(DATA_KEY_BYTES), overwrite=True
    )
    ring = DataKeyring(keys_directory)
    resealed = {table: _reseal(database, ring, table, column) for table, column in SEALED_TABLES}
    resealed["details_sent"] = reseal_disclosures(database, ring)
    reseal_lookup_key(database, ring)
    rotation = Rotation(ring.current()[0], retired_id, resealed)
    audit.record(
        AuditEvent.DATA_KEY_ROTATED,
        AuditOutcome.ACCEPTED,
        new_key_id=rotation.new_key_id,
        retired_key_id=rotation.retired_key_id,
        resealed=resealed,
    )
    return rotation


_SELECTED = ", ".join(("template_sealed", *SEALED_COLUMNS, "document_hash"))


def _rows(connection: Connection, table: str, column: str, after: str) -> list[Row]:
    """The next ``BATCH_ROWS`` rows of ``table`` after id ``after``, every sealed column."""
    return connection.execute(
        f"SELECT {column} AS id, {_SELECTED} FROM {table} "  # noqa: S608 - fixed names
        f"WHERE {column} > ? ORDER BY {column} LIMIT ?",
        (after, BATCH_ROWS),
    ).fetchall()


def _fields_sealed(row: Row) -> bool:
    """False for a row written before personal fields were sealed, not sealed yet."""
    return row["document_hash"] is not None


def _key_ids(row: Row) -> set[str | None]:
    columns = ("template_sealed", *(SEALED_COLUMNS if _fields_sealed(row) else ()))
    return {_key_id(row[column]) for column in columns}


def _key_id(blob: object) -> str | None:
    return sealed_key_id(blob) if isinstance(blob, bytes) else None


def _reseal(database: Database, ring: DataKeyring, table: str, column: str) -> int:
    """Re-seal the rows of ``table`` not wholly under the current key; return how many."""
    current_id = ring.current()[0]
    resealed, last = 0, ""
    while True:
        with database.transaction() as connection:
            rows = _rows(connection, table, column, last)
            if not rows:
                return resealed
            for row in rows:
                if _key_ids(row) != {current_id}:
                    _reseal_row(connection, ring, table, column, row)
                    resealed += 1
            last = rows[-1]["id"]


def _reseal_row(
    connection: Connection, ring: DataKeyring, table: str, column: str, row: Row
) -> None:
    record_id = row["id"]
    template = open_template(ring, table, record_id, row["template_sealed"])
    connection.execute(
        f"UPDATE {table} SET template_sealed = ? WHERE {column} = ?",  # noqa: S608
        (seal_template(ring, table, record_id, template), record_id),
    )
    if _fields_sealed(row):
        values = opened_values(ring, table, record_id, row)
        assigned = ", ".join(f"{name} = ?" for name in SEALED_COLUMNS)
        connection.execute(
            f"UPDATE {table} SET {assigned} WHERE {column} = ?",  # noqa: S608
            (*seal_values(ring, table, record_id, values), record_id),
        )


def sealed_counts(database: Database) -> dict[str, int]:
    """How many sealed templates each table holds."""
    return {
        table: int(
            database.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
        )
        for table, _column in SEALED_TABLES
    }


def unreadable_rows(database: Database, keys: DataKeys) -> list[str]:
    """Every sealed template, personal field or disclosure (and the lookup key) that
    does not open with ``keys``, as a message each."""
    problems = lookup_key_problems(database, keys) + disclosure_problems(database, keys)
    for table, column in SEALED_TABLES:
        last = ""
        while rows := _rows(database.connection, table, column, last):
            for row in rows:
                try:
                    open_template(keys, table, row["id"], row["template_sealed"])
                    if _fields_sealed(row):
                        opened_values(keys, table, row["id"], row)
                except CorruptRecord as exc:
                    problems.append(str(exc))
            last = rows[-1]["id"]
    return problems


def keys_in_use(database: Database) -> set[str]:
    """The ids of the data keys some sealed value is sealed under."""
    used: set[str] = set()
    for table, _column in SEALED_TABLES:
        for row in database.connection.execute(
            f"SELECT {_SELECTED} FROM {table}"  # noqa: S608 - fixed names
        ):
            used.update(key_id for key_id in _key_ids(row) if key_id is not None)
    lookup = lookup_key_id(database)
    return used | disclosure_key_ids(database) | ({lookup} if lookup else set())


def purge_retired_keys(keys_directory: Path, database: Database) -> list[str]:
    """Delete retired keys no row is sealed under; return their ids."""
    used = keys_in_use(database)
    removed = []
    for path in sorted((keys_directory / RETIRED_DIR).glob("*.key")):
        if path.stem not in used:
            path.unlink()
            removed.append(path.stem)
    return removed
