"""Encounters and watchlist entries, templates sealed under the data key."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from biometric_exchange.crypto.at_rest import open_template, seal_template
from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.domain import (
    Encounter,
    LegalStatus,
    Person,
    Provenance,
    Sex,
    Template,
    WatchlistCategory,
    WatchlistEntry,
    check_entry,
    utc_now,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.database import Database

_PERSON_COLUMNS = (
    "given_name, family_name, sex, birth_date, nationality, document_number, "
    "legal_status, unaccompanied_minor"
)


def _person_values(person: Person) -> tuple[str | int, ...]:
    return (
        person.given_name,
        person.family_name,
        person.sex.value,
        person.birth_date.isoformat(),
        person.nationality,
        person.document_number,
        person.legal_status.value,
        int(person.unaccompanied_minor),
    )


def person_from_row(row: sqlite3.Row) -> Person:
    """The person columns shared by the encounters and watchlist tables."""
    return Person(
        given_name=row["given_name"],
        family_name=row["family_name"],
        sex=Sex(row["sex"]),
        birth_date=dt.date.fromisoformat(row["birth_date"]),
        nationality=row["nationality"],
        document_number=row["document_number"],
        legal_status=LegalStatus(row["legal_status"]),
        unaccompanied_minor=bool(row["unaccompanied_minor"]),
    )


def _provenance(row: sqlite3.Row) -> Provenance:
    return Provenance(bool(row["synthetic"]), row["generator"], row["seed"])


@dataclass(frozen=True)
class WatchlistLabel:
    """An entry's category and the facts that make its subject a protected person."""

    entry_id: str
    category: WatchlistCategory
    unaccompanied_minor: bool
    nationality: str
    legal_status: LegalStatus


class RecordStore:
    """Reads and writes person records; templates never leave it unsealed on disk.

    Every record written passes ``domain.check_entry`` for the node's ``country``.
    """

    def __init__(self, database: Database, data_key: bytes | DataKeys, country: str) -> None:
        self._database = database
        self._data_key = data_key
        self._country = country

    def insert_encounter(self, connection: sqlite3.Connection, encounter: Encounter) -> None:
        """Insert inside the caller's transaction; a duplicate id is an error."""
        check_entry(encounter, self._country)
        exists = connection.execute(
            "SELECT 1 FROM encounters WHERE encounter_id = ?", (encounter.encounter_id,)
        ).fetchone()
        if exists:
            raise InvalidInput(
                f"encounter_id: {encounter.encounter_id!r} is already enrolled on this node"
            )
        sealed = seal_template(
            self._data_key, "encounters", encounter.encounter_id, encounter.template
        )
        connection.execute(
            f"INSERT INTO encounters (encounter_id, {_PERSON_COLUMNS}, encountered_at, "  # noqa: S608
            "border_point, template_sealed, synthetic, generator, seed, enrolled_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                encounter.encounter_id,
                *_person_values(encounter.person),
                encounter.encountered_at.isoformat(),
                encounter.border_point,
                sealed,
                int(encounter.provenance.synthetic),
                encounter.provenance.generator,
                encounter.provenance.seed,
                utc_now().isoformat(),
            ),
        )

    def encounter(self, encounter_id: str) -> Encounter | None:
        row = self._database.connection.execute(
            "SELECT * FROM encounters WHERE encounter_id = ?", (encounter_id,)
        ).fetchone()
        return self._encounter(row) if row else None

    def checked_encounters(self) -> Iterator[Encounter]:
        """Encounters whose checks have run (an outbox item is no longer pending)."""
        rows = self._database.connection.execute(
            "SELECT e.* FROM encounters e WHERE EXISTS (SELECT 1 FROM outbox o "
            "WHERE o.encounter_id = e.encounter_id AND o.state != 'pending') "
            "ORDER BY e.encountered_at, e.encounter_id"
        ).fetchall()
        for row in rows:
            yield self._encounter(row)

    def _encounter(self, row: sqlite3.Row) -> Encounter:
        return Encounter(
            encounter_id=row["encounter_id"],
            person=person_from_row(row),
            encountered_at=dt.datetime.fromisoformat(row["encountered_at"]),
            border_point=row["border_point"],
            template=open_template(
                self._data_key, "encounters", row["encounter_id"], row["template_sealed"]
            ),
            provenance=_provenance(row),
        )

    def count_encounters(self) -> int:
        return int(
            self._database.connection.execute("SELECT count(*) FROM encounters").fetchone()[0]
        )

    def add_watchlist(self, entries: Sequence[WatchlistEntry]) -> int:
        """Add entries in one transaction; any duplicate id rejects the whole batch."""
        if not entries:
            return 0
        for entry in entries:
            check_entry(entry, self._country)
        with self._database.transaction() as connection:
            for entry in entries:
                self._insert_watchlist_entry(connection, entry)
            connection.execute(
                "INSERT INTO meta (key, value) VALUES ('watchlist_generation', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
        return len(entries)

    def _insert_watchlist_entry(
        self, connection: sqlite3.Connection, entry: WatchlistEntry
    ) -> None:
        exists = connection.execute(
            "SELECT 1 FROM watchlist WHERE entry_id = ?", (entry.entry_id,)
        ).fetchone()
        if exists:
            raise InvalidInput(f"entry_id: {entry.entry_id!r} is already on this node's watchlist")
        connection.execute(
            f"INSERT INTO watchlist (entry_id, category, {_PERSON_COLUMNS}, valid_until, "  # noqa: S608
            "template_sealed, synthetic, generator, seed, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.entry_id,
                entry.category.value,
                *_person_values(entry.person),
                entry.valid_until.isoformat() if entry.valid_until else None,
                seal_template(self._data_key, "watchlist", entry.entry_id, entry.template),
                int(entry.provenance.synthetic),
                entry.provenance.generator,
                entry.provenance.seed,
                utc_now().isoformat(),
            ),
        )

    def watchlist_generation(self) -> int:
        row = self._database.connection.execute(
            "SELECT value FROM meta WHERE key = 'watchlist_generation'"
        ).fetchone()
        return int(row[0]) if row else 0

    def watchlist(self, *, valid_on: dt.date | None = None) -> Iterable[WatchlistEntry]:
        """Entries in force on ``valid_on`` (all when None), templates opened."""
        rows = self._database.connection.execute(
            "SELECT * FROM watchlist WHERE ? IS NULL OR valid_until IS NULL OR valid_until >= ? "
            "ORDER BY entry_id",
            (valid_on.isoformat() if valid_on else None,) * 2,
        ).fetchall()
        for row in rows:
            yield self._watchlist_entry(row)

    def watchlist_entry(self, entry_id: str) -> WatchlistEntry | None:
        """One entry by id, in force or not, its template opened."""
        row = self._database.connection.execute(
            "SELECT * FROM watchlist WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return self._watchlist_entry(row) if row else None

    def _watchlist_entry(self, row: sqlite3.Row) -> WatchlistEntry:
        template: Template = open_template(
            self._data_key, "watchlist", row["entry_id"], row["template_sealed"]
        )
        return WatchlistEntry(
            entry_id=row["entry_id"],
            category=WatchlistCategory(row["category"]),
            person=person_from_row(row),
            template=template,
            valid_until=dt.date.fromisoformat(row["valid_until"]) if row["valid_until"] else None,
            provenance=_provenance(row),
        )

    def watchlist_labels(self, *, valid_on: dt.date | None = None) -> list[WatchlistLabel]:
        """What the matcher tells about each entry in force, no template opened."""
        rows = self._database.connection.execute(
            "SELECT entry_id, category, unaccompanied_minor, nationality, legal_status "
            "FROM watchlist WHERE ? IS NULL OR valid_until IS NULL OR valid_until >= ? "
            "ORDER BY entry_id",
            (valid_on.isoformat() if valid_on else None,) * 2,
        ).fetchall()
        return [
            WatchlistLabel(
                row[0], WatchlistCategory(row[1]), bool(row[2]), row[3], LegalStatus(row[4])
            )
            for row in rows
        ]

    def watchlist_category(self, entry_id: str) -> WatchlistCategory | None:
        row = self._database.connection.execute(
            "SELECT category FROM watchlist WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return WatchlistCategory(row[0]) if row else None
