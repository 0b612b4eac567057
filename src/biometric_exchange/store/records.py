"""Encounters and watchlist entries: templates and personal fields sealed under the
data key (``store.personal`` says which fields and why)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from biometric_exchange.crypto.at_rest import open_template, seal_template
from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.crypto.lookup import document_hash
from biometric_exchange.domain import (
    Encounter,
    LegalStatus,
    Person,
    Provenance,
    Template,
    WatchlistCategory,
    WatchlistEntry,
    check_entry,
    utc_now,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection, Row
from biometric_exchange.store.disclosed import seal_clear_disclosures
from biometric_exchange.store.lookup_key import load_lookup_key
from biometric_exchange.store.personal import (
    PERSON_COLUMNS,
    has_clear_rows,
    person_from_row,
    person_values,
    seal_clear_rows,
)

_COLUMNS = ", ".join(PERSON_COLUMNS)
_MARKS = ", ".join("?" * len(PERSON_COLUMNS))
_LABEL_COLUMNS = "entry_id, category, unaccompanied_minor, nationality, legal_status, valid_until"


def _provenance(row: Row) -> Provenance:
    return Provenance(bool(row["synthetic"]), row["generator"], row["seed"])


@dataclass(frozen=True)
class DocumentHolders:
    """The records holding one document number, by id."""

    encounters: list[str]
    watchlist: list[str]


@dataclass(frozen=True)
class WatchlistPerson:
    """A watchlist entry's subject without its template."""

    entry_id: str
    category: WatchlistCategory
    person: Person
    added_at: dt.datetime


@dataclass(frozen=True)
class WatchlistLabel:
    """An entry's category, the facts that make its subject a protected person and the
    last day it is in force (None: no end)."""

    entry_id: str
    category: WatchlistCategory
    unaccompanied_minor: bool
    nationality: str
    legal_status: LegalStatus
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class WatchlistVersion:
    """The watchlist generation and the token drawn with it (``bump_watchlist_generation``):
    equal versions, equal watchlists."""

    generation: int
    token: str

    @property
    def stamp(self) -> str:
        return f"{self.generation}/{self.token}"


def _label(row: Row) -> WatchlistLabel:
    """A row of ``_LABEL_COLUMNS`` as a label."""
    return WatchlistLabel(
        row[0],
        WatchlistCategory(row[1]),
        bool(row[2]),
        row[3],
        LegalStatus(row[4]),
        dt.date.fromisoformat(row[5]) if row[5] else None,
    )


def bump_watchlist_generation(connection: Connection) -> None:
    """Mark a change of anything a watchlist search reads (an entry, its template,
    category, validity or protected facts), inside that change's transaction: the
    generation goes up by one and a new random token is drawn, so a snapshot made
    before is never taken for the watchlist after, even by a copy of the store
    restored from a backup and changed again up to the same generation."""
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('watchlist_generation', '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(meta.value AS INTEGER) + 1"
    )
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('watchlist_token', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (secrets.token_hex(8),),
    )


class RecordStore:
    """Reads and writes person records; templates and personal fields never leave it
    unsealed on disk.

    Every record written passes ``domain.check_entry`` for the node's ``country``.
    Rows a database holds in clear from before personal fields were sealed are
    sealed when it is first opened here.
    """

    def __init__(self, database: Database, data_key: bytes | DataKeys, country: str) -> None:
        self._database = database
        self._data_key = data_key
        self._country = country
        self._lookup: bytes | None = None
        if has_clear_rows(database):
            seal_clear_rows(database, data_key, self.lookup_key())
        seal_clear_disclosures(database, data_key)

    @property
    def data_keys(self) -> bytes | DataKeys:
        """The keys records are sealed under (other stores of the node seal with them)."""
        return self._data_key

    def lookup_key(self) -> bytes:
        """The node's key for keyed hashes (document numbers, identity digests), opened
        once per store; rotation re-seals it without changing it."""
        if self._lookup is None:
            self._lookup = load_lookup_key(self._database, self._data_key)
        return self._lookup

    def insert_encounter(self, connection: Connection, encounter: Encounter) -> None:
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
        record_id = encounter.encounter_id
        connection.execute(
            f"INSERT INTO encounters (encounter_id, {_COLUMNS}, encountered_at, "  # noqa: S608
            "border_point, template_sealed, synthetic, generator, seed, enrolled_at) "
            f"VALUES (?, {_MARKS}, ?, ?, ?, ?, ?, ?, ?)",
            (
                record_id,
                *person_values(
                    self._data_key, self.lookup_key(), "encounters", record_id, encounter.person
                ),
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

    def _encounter(self, row: Row) -> Encounter:
        return Encounter(
            encounter_id=row["encounter_id"],
            person=person_from_row(self._data_key, "encounters", row),
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
            bump_watchlist_generation(connection)
        return len(entries)

    def _insert_watchlist_entry(self, connection: Connection, entry: WatchlistEntry) -> None:
        exists = connection.execute(
            "SELECT 1 FROM watchlist WHERE entry_id = ?", (entry.entry_id,)
        ).fetchone()
        if exists:
            raise InvalidInput(f"entry_id: {entry.entry_id!r} is already on this node's watchlist")
        connection.execute(
            f"INSERT INTO watchlist (entry_id, category, {_COLUMNS}, valid_until, "  # noqa: S608
            "template_sealed, synthetic, generator, seed, added_at) "
            f"VALUES (?, ?, {_MARKS}, ?, ?, ?, ?, ?, ?)",
            (
                entry.entry_id,
                entry.category.value,
                *person_values(
                    self._data_key, self.lookup_key(), "watchlist", entry.entry_id, entry.person
                ),
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

    def watchlist_version(self) -> WatchlistVersion:
        """The watchlist generation and its token, read at once."""
        rows = self._database.connection.execute(
            "SELECT key, value FROM meta WHERE key IN ('watchlist_generation', 'watchlist_token')"
        ).fetchall()
        found = {str(row[0]): str(row[1]) for row in rows}
        return WatchlistVersion(
            int(found.get("watchlist_generation", 0)), found.get("watchlist_token", "")
        )

    def count_watchlist(self) -> int:
        return int(
            self._database.connection.execute("SELECT count(*) FROM watchlist").fetchone()[0]
        )

    def watchlist(self, *, valid_on: dt.date | None = None) -> Iterable[WatchlistEntry]:
        """Entries in force on ``valid_on`` (all when None), templates opened."""
        rows = self._database.connection.execute(
            "SELECT * FROM watchlist WHERE ? IS NULL OR valid_until IS NULL OR valid_until >= ? "
            "ORDER BY entry_id",
            (valid_on.isoformat() if valid_on else None,) * 2,
        ).fetchall()
        for row in rows:
            yield self._watchlist_entry(row)

    def watchlist_templates(self) -> tuple[list[str], list[Template]]:
        """Every entry's id and template (in force or not, ordered by id), no personal
        field opened: what a gallery is built from."""
        rows = self._database.connection.execute(
            "SELECT entry_id, template_sealed FROM watchlist ORDER BY entry_id"
        ).fetchall()
        ids = [str(row["entry_id"]) for row in rows]
        templates = [
            open_template(self._data_key, "watchlist", row["entry_id"], row["template_sealed"])
            for row in rows
        ]
        return ids, templates

    def watchlist_rows(
        self, *, batch: int = 10_000
    ) -> Iterator[tuple[list[WatchlistLabel], list[Template]]]:
        """Every entry (in force or not, ordered by id) as its label and template,
        ``batch`` at a time, read by one statement (one view of the table); no
        personal field opened: what a gallery and its labels are built from."""
        cursor = self._database.connection.execute(
            f"SELECT {_LABEL_COLUMNS}, template_sealed FROM watchlist "  # noqa: S608
            "ORDER BY entry_id"
        )
        rows = iter(cursor)
        while chunk := list(islice(rows, batch)):
            yield (
                [_label(row) for row in chunk],
                [open_template(self._data_key, "watchlist", row[0], row[6]) for row in chunk],
            )

    def watchlist_entry(self, entry_id: str) -> WatchlistEntry | None:
        """One entry by id, in force or not, its template opened."""
        row = self._database.connection.execute(
            "SELECT * FROM watchlist WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return self._watchlist_entry(row) if row else None

    def _watchlist_entry(self, row: Row) -> WatchlistEntry:
        template: Template = open_template(
            self._data_key, "watchlist", row["entry_id"], row["template_sealed"]
        )
        return WatchlistEntry(
            entry_id=row["entry_id"],
            category=WatchlistCategory(row["category"]),
            person=person_from_row(self._data_key, "watchlist", row),
            template=template,
            valid_until=dt.date.fromisoformat(row["valid_until"]) if row["valid_until"] else None,
            provenance=_provenance(row),
        )

    def watchlist_person(self, entry_id: str) -> WatchlistPerson | None:
        """One entry's subject (its template left sealed), in force or not."""
        row = self._database.connection.execute(
            "SELECT * FROM watchlist WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            return None
        return WatchlistPerson(
            entry_id=row["entry_id"],
            category=WatchlistCategory(row["category"]),
            person=person_from_row(self._data_key, "watchlist", row),
            added_at=dt.datetime.fromisoformat(row["added_at"]),
        )

    def document_holders(self, document_number: str) -> DocumentHolders:
        """The encounters and watchlist entries holding ``document_number`` (upper or
        lower case, blanks ignored), found by its keyed hash."""
        digest = document_hash(self.lookup_key(), document_number)
        connection = self._database.connection
        encounters = connection.execute(
            "SELECT encounter_id FROM encounters WHERE document_hash = ? ORDER BY encounter_id",
            (digest,),
        ).fetchall()
        entries = connection.execute(
            "SELECT entry_id FROM watchlist WHERE document_hash = ? ORDER BY entry_id", (digest,)
        ).fetchall()
        return DocumentHolders([str(r[0]) for r in encounters], [str(r[0]) for r in entries])

    def watchlist_labels(self, *, valid_on: dt.date | None = None) -> list[WatchlistLabel]:
        """What the matcher tells about each entry in force on ``valid_on`` (every entry
        when None), ordered by id, no template opened."""
        rows = self._database.connection.execute(
            f"SELECT {_LABEL_COLUMNS} FROM watchlist "  # noqa: S608
            "WHERE ? IS NULL OR valid_until IS NULL OR valid_until >= ? ORDER BY entry_id",
            (valid_on.isoformat() if valid_on else None,) * 2,
        ).fetchall()
        return [_label(row) for row in rows]

    def watchlist_category(self, entry_id: str) -> WatchlistCategory | None:
        row = self._database.connection.execute(
            "SELECT category FROM watchlist WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return WatchlistCategory(row[0]) if row else None
