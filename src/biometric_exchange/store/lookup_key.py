"""The node's lookup key, kept in its own database sealed under the data key.

Made at random the first time a row needs a keyed hash, stored in ``meta``
(``lookup_key``: the sealed blob, hex) and never changed after: a data key
rotation re-seals it, so the keyed hashes beside sealed fields stay valid. A
database whose rows carry keyed hashes but no lookup key is refused rather
than given a new key that would match none of them.
"""

from __future__ import annotations

import secrets

from biometric_exchange.crypto.at_rest import CorruptRecord, open_field, seal_field, sealed_key_id
from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.crypto.lookup import LOOKUP_KEY_BYTES
from biometric_exchange.store.database import Database

META_KEY = "lookup_key"
_WHERE = ("meta", "value", META_KEY)
"""The table, column and row the sealed key is bound to."""
INDEXED_TABLES = ("encounters", "watchlist")


def _sealed(database: Database) -> bytes | None:
    row = database.connection.execute(
        "SELECT value FROM meta WHERE key = ?", (META_KEY,)
    ).fetchone()
    return bytes.fromhex(row[0]) if row else None


def _indexed_rows(database: Database) -> int:
    return sum(
        int(
            database.connection.execute(
                f"SELECT count(*) FROM {table} WHERE document_hash IS NOT NULL"  # noqa: S608
            ).fetchone()[0]
        )
        for table in INDEXED_TABLES
    )


def load_lookup_key(database: Database, keys: bytes | DataKeys) -> bytes:
    """The node's lookup key, made and stored (sealed) when the database has none."""
    blob = _sealed(database)
    if blob is None:
        with database.transaction() as connection:
            if _sealed(database) is None:
                if indexed := _indexed_rows(database):
                    raise CorruptRecord(
                        f"the database lost its lookup key but {indexed} rows carry keyed "
                        "hashes made with it; restore the database from a backup"
                    )
                key = secrets.token_bytes(LOOKUP_KEY_BYTES)
                connection.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    (META_KEY, seal_field(keys, *_WHERE, key).hex()),
                )
        blob = _sealed(database)
        assert blob is not None
    key = open_field(keys, *_WHERE, blob)
    if len(key) != LOOKUP_KEY_BYTES:
        raise CorruptRecord(f"meta record {META_KEY}: not a {LOOKUP_KEY_BYTES}-byte key")
    return key


def reseal_lookup_key(database: Database, keys: DataKeys) -> bool:
    """Re-seal the lookup key under the current data key; False when it already is
    (or the database has none yet)."""
    with database.transaction() as connection:
        blob = _sealed(database)
        if blob is None or sealed_key_id(blob) == keys.current()[0]:
            return False
        key = open_field(keys, *_WHERE, blob)
        connection.execute(
            "UPDATE meta SET value = ? WHERE key = ?",
            (seal_field(keys, *_WHERE, key).hex(), META_KEY),
        )
    return True


def lookup_key_problems(database: Database, keys: DataKeys) -> list[str]:
    """Why the lookup key does not open with ``keys`` (empty when it does or is absent
    while no row needs it)."""
    blob = _sealed(database)
    if blob is None:
        indexed = _indexed_rows(database)
        return [f"no lookup key, but {indexed} rows carry keyed hashes"] if indexed else []
    try:
        open_field(keys, *_WHERE, blob)
    except CorruptRecord as exc:
        return [str(exc)]
    return []


def lookup_key_id(database: Database) -> str | None:
    """The id of the data key the lookup key is sealed under (None without one)."""
    blob = _sealed(database)
    return sealed_key_id(blob) if blob is not None else None
