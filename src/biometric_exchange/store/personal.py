"""A person's fields at rest in the encounters and watchlist tables.

Sealed (AES-256-GCM under the data key, bound to table, column and row id):
names, sex, birth date and document number. The document number is looked
up by its keyed hash (``document_hash``). Clear: nationality, legal status
and the unaccompanied-minor flag, the facts the agreement's scope and
protection rules decide on (daily counts by nationality, the protected
persons of a watchlist search) without opening any row.

A database written before sealing holds these fields in clear (its rows have
no ``document_hash``); ``seal_clear_rows`` seals them in place, in batches,
the first time the node opens it with its keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from biometric_exchange.crypto.at_rest import open_field, seal_field
from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.crypto.lookup import document_hash
from biometric_exchange.domain import LegalStatus, Person, Sex
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Row

SEALED_COLUMNS = ("given_name", "family_name", "sex", "birth_date", "document_number")
CLEAR_COLUMNS = ("nationality", "legal_status", "unaccompanied_minor")
PERSON_COLUMNS = (*SEALED_COLUMNS, *CLEAR_COLUMNS, "document_hash")
"""Every column a person is written to, in the order ``person_values`` gives them."""
ID_COLUMNS: Mapping[str, str] = {"encounters": "encounter_id", "watchlist": "entry_id"}
BATCH_ROWS = 500

Keys = bytes | DataKeys


def _clear_values(person: Person) -> dict[str, str]:
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "sex": person.sex.value,
        "birth_date": person.birth_date.isoformat(),
        "document_number": person.document_number,
    }


def seal_values(
    keys: Keys, table: str, record_id: str, values: Mapping[str, str]
) -> tuple[bytes, ...]:
    """The sealed columns' values (clear text by column name), sealed for their row."""
    return tuple(
        seal_field(keys, table, column, record_id, values[column].encode())
        for column in SEALED_COLUMNS
    )


def person_values(
    keys: Keys, lookup_key: bytes, table: str, record_id: str, person: Person
) -> tuple[bytes | str | int, ...]:
    """What to write in ``PERSON_COLUMNS`` for ``person``."""
    return (
        *seal_values(keys, table, record_id, _clear_values(person)),
        person.nationality,
        person.legal_status.value,
        int(person.unaccompanied_minor),
        document_hash(lookup_key, person.document_number),
    )


def opened_values(keys: Keys, table: str, record_id: str, row: Row) -> dict[str, str]:
    """The sealed columns of ``row`` (record ``record_id``), opened (CorruptRecord when
    one does not)."""
    return {
        column: open_field(keys, table, column, record_id, row[column]).decode()
        for column in SEALED_COLUMNS
    }


def person_from_row(keys: Keys, table: str, row: Row) -> Person:
    """The person of an encounters or watchlist row, its sealed fields opened."""
    values = opened_values(keys, table, row[ID_COLUMNS[table]], row)
    return Person(
        given_name=values["given_name"],
        family_name=values["family_name"],
        sex=Sex(values["sex"]),
        birth_date=dt.date.fromisoformat(values["birth_date"]),
        nationality=row["nationality"],
        document_number=values["document_number"],
        legal_status=LegalStatus(row["legal_status"]),
        unaccompanied_minor=bool(row["unaccompanied_minor"]),
    )


def has_clear_rows(database: Database) -> bool:
    """Whether a row still holds its personal fields in clear (written before sealing)."""
    return any(
        database.connection.execute(
            f"SELECT 1 FROM {table} WHERE document_hash IS NULL LIMIT 1"  # noqa: S608
        ).fetchone()
        for table in ID_COLUMNS
    )


def clear_row_counts(database: Database) -> dict[str, int]:
    """Rows per table whose personal fields are still in clear."""
    return {
        table: int(
            database.connection.execute(
                f"SELECT count(*) FROM {table} WHERE document_hash IS NULL"  # noqa: S608
            ).fetchone()[0]
        )
        for table in ID_COLUMNS
    }


def seal_clear_rows(database: Database, keys: Keys, lookup_key: bytes) -> dict[str, int]:
    """Seal, in place, the personal fields of every row that holds them in clear; return
    how many rows per table. Each batch is one transaction; the clear values' bytes
    are overwritten on disk (``Database.overwriting``)."""
    with database.overwriting():
        return {table: _seal_table(database, keys, lookup_key, table) for table in ID_COLUMNS}


def _seal_table(database: Database, keys: Keys, lookup_key: bytes, table: str) -> int:
    id_column = ID_COLUMNS[table]
    columns = ", ".join(SEALED_COLUMNS)
    assignments = ", ".join(f"{column} = ?" for column in SEALED_COLUMNS)
    done = 0
    while True:
        with database.transaction() as connection:
            rows = connection.execute(
                f"SELECT {id_column}, {columns} FROM {table} "  # noqa: S608 - fixed names
                f"WHERE document_hash IS NULL ORDER BY {id_column} LIMIT ?",
                (BATCH_ROWS,),
            ).fetchall()
            if not rows:
                return done
            for row in rows:
                record_id = row[id_column]
                values = {column: str(row[column]) for column in SEALED_COLUMNS}
                connection.execute(
                    f"UPDATE {table} SET {assignments}, document_hash = ? "  # noqa: S608
                    f"WHERE {id_column} = ? AND document_hash IS NULL",
                    (
                        *seal_values(keys, table, record_id, values),
                        document_hash(lookup_key, values["document_number"]),
                        record_id,
                    ),
                )
            done += len(rows)
