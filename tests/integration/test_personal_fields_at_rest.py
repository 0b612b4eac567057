"""Names, document numbers, sex and birth dates sealed at rest like templates (and
the values a partner disclosed to us in step 2); the document number looked up by
a keyed hash; nationality and the protection facts left in clear for the scope
rules."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.config import DATABASE_PATH
from biometric_exchange.crypto.at_rest import CorruptRecord, seal_template, sealed_key_id
from biometric_exchange.crypto.backup import PASSPHRASE_ENV
from biometric_exchange.crypto.keyring import DataKeyring
from biometric_exchange.crypto.keys import keys_dir
from biometric_exchange.crypto.lookup import document_hash
from biometric_exchange.domain import Encounter, Person, RequestStatus, WatchlistEntry
from biometric_exchange.node.custody import custody_problems
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.database import database_files
from biometric_exchange.store.details import SentRequest, SentRequests
from biometric_exchange.store.lookup_key import load_lookup_key
from biometric_exchange.store.personal import SEALED_COLUMNS
from biometric_exchange.store.rekey import keys_in_use, purge_retired_keys, rotate_data_key
from biometric_exchange.store.schema import MIGRATIONS
from biometric_exchange.synthetic import DemoDataset

pytestmark = pytest.mark.integration

PASSPHRASE = "correct horse battery staple"
LEGACY_VERSION = 11
"""The schema version before personal fields were sealed."""
MIN_BYTES = 6
"""Shorter values could turn up by chance among sealed bytes; they are checked by
the columns' types instead."""


def _clear_values(person: Person) -> list[bytes]:
    values = (
        person.given_name,
        person.family_name,
        person.document_number,
        person.birth_date.isoformat(),
    )
    return [value.encode() for value in values]


def _file_bytes(node_dir: Path) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    return b"".join(path.read_bytes() for path in database_files(node_dir / DATABASE_PATH))


def _assert_absent(data: bytes, people: Iterable[Person]) -> None:
    checked = 0
    for person in people:
        for value in _clear_values(person):
            if len(value) >= MIN_BYTES:
                assert value not in data
                checked += 1
    assert checked >= 20


def _plain(node_dir: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(node_dir / DATABASE_PATH)
    connection.row_factory = sqlite3.Row
    return connection


def _column_types(node_dir: Path, table: str) -> set[str]:
    """The SQLite types the sealed columns of ``table`` hold."""
    with _plain(node_dir) as connection:
        return {
            row[0]
            for column in SEALED_COLUMNS
            for row in connection.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")
        }


@pytest.mark.sqlite_files
def test_names_documents_and_birth_dates_are_not_stored_in_clear(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]
    encounters = dataset.encounters["PAN"][:10]
    for encounter in encounters:
        enrol(pan, encounter)
    pan.close()
    people = [e.person for e in encounters] + [e.person for e in dataset.watchlists["PAN"]]
    _assert_absent(_file_bytes(pan.node_dir), people)
    assert _column_types(pan.node_dir, "encounters") == {"blob"}
    assert _column_types(pan.node_dir, "watchlist") == {"blob"}
    with _plain(pan.node_dir) as connection:
        nationalities = {row[0] for row in connection.execute("SELECT nationality FROM watchlist")}
    assert nationalities == {e.person.nationality for e in dataset.watchlists["PAN"]}
    # The node itself reads them as they were.
    reopened = Node.open(pan.node_dir)
    try:
        for encounter in encounters:
            stored = reopened.records.encounter(encounter.encounter_id)
            assert stored is not None and stored.person == encounter.person
    finally:
        reopened.close()


def test_sealed_personal_field_cannot_be_moved_to_another_row(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    first, second = (entry.entry_id for entry in dataset.watchlists["CHL"][:2])
    with chl.database.transaction() as connection:
        connection.execute(
            "UPDATE watchlist SET given_name = (SELECT given_name FROM watchlist "
            "WHERE entry_id = ?) WHERE entry_id = ?",
            (first, second),
        )
    with pytest.raises(CorruptRecord, match=f"^watchlist record {second}: given_name does not"):
        chl.records.watchlist_entry(second)
    # Nor into another column of its own row.
    with chl.database.transaction() as connection:
        connection.execute(
            "UPDATE watchlist SET family_name = given_name WHERE entry_id = ?", (first,)
        )
    with pytest.raises(CorruptRecord, match=f"^watchlist record {first}: family_name does not"):
        chl.records.watchlist_person(first)
    problems = custody_problems(chl.node_dir)
    assert f"watchlist record {first}: family_name does not decrypt" in problems
    assert f"watchlist record {second}: given_name does not decrypt" in problems


def _legacy_database(path: Path, data_key: bytes, dataset: DemoDataset) -> None:
    """A database as a node wrote it before personal fields were sealed."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        for script in MIGRATIONS[:LEGACY_VERSION]:
            connection.executescript(script)
        connection.execute(f"PRAGMA user_version = {LEGACY_VERSION}")
        for encounter in dataset.encounters["PAN"][:8]:
            _insert_legacy_encounter(connection, data_key, encounter)
        for entry in dataset.watchlists["PAN"]:
            _insert_legacy_entry(connection, data_key, entry)
        connection.commit()
    finally:
        connection.close()
    path.chmod(0o600)


def _person(person: Person) -> tuple[object, ...]:
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


_PERSON = (
    "given_name, family_name, sex, birth_date, nationality, document_number, "
    "legal_status, unaccompanied_minor"
)


def _insert_legacy_encounter(
    connection: sqlite3.Connection, data_key: bytes, encounter: Encounter
) -> None:
    connection.execute(
        f"INSERT INTO encounters (encounter_id, {_PERSON}, encountered_at, border_point, "
        "template_sealed, synthetic, generator, seed, enrolled_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            encounter.encounter_id,
            *_person(encounter.person),
            encounter.encountered_at.isoformat(),
            encounter.border_point,
            seal_template(data_key, "encounters", encounter.encounter_id, encounter.template),
            1,
            encounter.provenance.generator,
            encounter.provenance.seed,
            encounter.encountered_at.isoformat(),
        ),
    )


def _insert_legacy_entry(
    connection: sqlite3.Connection, data_key: bytes, entry: WatchlistEntry
) -> None:
    connection.execute(
        f"INSERT INTO watchlist (entry_id, category, {_PERSON}, valid_until, "
        "template_sealed, synthetic, generator, seed, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.entry_id,
            entry.category.value,
            *_person(entry.person),
            entry.valid_until.isoformat() if entry.valid_until else None,
            seal_template(data_key, "watchlist", entry.entry_id, entry.template),
            1,
            entry.provenance.generator,
            entry.provenance.seed,
            "2026-01-01T00:00:00+00:00",
        ),
    )


@pytest.mark.sqlite_files
def test_existing_clear_database_is_sealed_at_first_open(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset
) -> None:
    panama = pair_dirs[1]
    data_key = (keys_dir(panama) / "data.key").read_bytes()
    _legacy_database(panama / DATABASE_PATH, data_key, dataset)
    encounters, entries = dataset.encounters["PAN"][:8], dataset.watchlists["PAN"]
    assert encounters[0].person.document_number.encode() in _file_bytes(panama)
    assert "in clear" in " ".join(custody_problems(panama))

    node = Node.open(panama)
    try:
        for encounter in encounters:
            stored = node.records.encounter(encounter.encounter_id)
            assert stored is not None
            assert (stored.person, stored.template.tolist()) == (
                encounter.person,
                encounter.template.tolist(),
            )
        assert [e.person for e in node.records.watchlist()] == [
            e.person for e in sorted(entries, key=lambda e: e.entry_id)
        ]
        holders = node.records.document_holders(encounters[3].person.document_number)
        assert encounters[3].encounter_id in holders.encounters
        version = node.database.connection.execute("PRAGMA user_version").fetchone()[0]
        assert version == len(MIGRATIONS)
    finally:
        node.close()
    people = [e.person for e in encounters] + [e.person for e in entries]
    _assert_absent(_file_bytes(panama), people)
    assert _column_types(panama, "encounters") == {"blob"}
    assert _column_types(panama, "watchlist") == {"blob"}
    assert custody_problems(panama) == []


def _field_key_ids(node: Node) -> set[str | None]:
    columns = ", ".join(SEALED_COLUMNS)
    return {
        sealed_key_id(blob)
        for table in ("encounters", "watchlist")
        for row in node.database.connection.execute(f"SELECT {columns} FROM {table}")
        for blob in row
    }


def test_rekey_reseals_personal_fields(nodes: dict[str, Node], dataset: DemoDataset) -> None:
    pan = nodes["PAN"]
    encounter = dataset.encounters["PAN"][0]
    enrol(pan, encounter)
    (old_id,) = _field_key_ids(pan)
    before = pan.records.document_holders(encounter.person.document_number)

    rotation = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    assert rotation.retired_key_id == old_id
    assert _field_key_ids(pan) == {rotation.new_key_id}
    assert keys_in_use(pan.database) == {rotation.new_key_id}
    assert purge_retired_keys(keys_dir(pan.node_dir), pan.database) == [old_id]

    reopened = Node.open(pan.node_dir)  # only the new key is left
    try:
        stored = reopened.records.encounter(encounter.encounter_id)
        assert stored is not None and stored.person == encounter.person
        # The keyed hashes stay valid: the lookup key is re-sealed, not changed.
        assert reopened.records.document_holders(encounter.person.document_number) == before
    finally:
        reopened.close()
    assert custody_problems(pan.node_dir) == []


@pytest.mark.sqlite_files
def test_lookup_by_document_number_uses_keyed_hash(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = dataset.encounters["PAN"][0]
    enrol(pan, encounter)
    number = encounter.person.document_number
    spaced = f" {number[:3]} {number[3:].lower()} "
    holders = pan.records.document_holders(spaced)
    assert holders.encounters == [encounter.encounter_id]
    assert pan.records.document_holders("NO-SUCH-DOCUMENT").encounters == []

    (stored,) = pan.database.connection.execute(
        "SELECT document_hash FROM encounters WHERE encounter_id = ?", (encounter.encounter_id,)
    ).fetchone()
    key = load_lookup_key(pan.database, DataKeyring(keys_dir(pan.node_dir)))
    assert stored == document_hash(key, number)
    # Not a plain hash anyone could recompute from a guessed number, and another
    # node's key gives another hash for the same number.
    assert stored != hashlib.sha256(number.encode()).hexdigest()
    assert (
        document_hash(load_lookup_key(chl.database, DataKeyring(keys_dir(chl.node_dir))), number)
        != stored
    )
    plan = " ".join(
        str(row[3])
        for row in pan.database.connection.execute(
            "EXPLAIN QUERY PLAN SELECT encounter_id FROM encounters WHERE document_hash = ?",
            (stored,),
        )
    )
    assert "encounters_by_document" in plan

    found = CliRunner().invoke(
        app, ["watchlist", "find", "--node", str(pan.node_dir), "--document", number]
    )
    assert found.exit_code == 0, found.output
    assert encounter.encounter_id in found.output
    rows = json.loads(
        CliRunner()
        .invoke(
            app,
            [
                "watchlist",
                "find",
                "-n",
                str(pan.node_dir),
                "--document",
                number,
                "--format",
                "json",
            ],
        )
        .stdout
    )
    assert {"record": "encounter", "id": encounter.encounter_id} in rows


def test_backup_and_restore_keep_personal_fields_readable(
    nodes: dict[str, Node], dataset: DemoDataset, tmp_path: Path
) -> None:
    pan = nodes["PAN"]
    encounter = dataset.encounters["PAN"][0]
    enrol(pan, encounter)
    pan.close()
    out = tmp_path / "pan.bxkeys"
    env = {PASSPHRASE_ENV: PASSPHRASE}
    runner = CliRunner()
    backup = ["keys", "backup", "--node", str(pan.node_dir), "--output", str(out)]
    assert runner.invoke(app, backup, env=env).exit_code == 0
    shutil.rmtree(keys_dir(pan.node_dir))
    restore = ["keys", "restore", "--node", str(pan.node_dir), "--from", str(out)]
    assert runner.invoke(app, restore, env=env).exit_code == 0
    checked = runner.invoke(app, ["keys", "check", "--node", str(pan.node_dir)])
    assert checked.exit_code == 0, checked.output
    node = Node.open(pan.node_dir)
    try:
        stored = node.records.encounter(encounter.encounter_id)
        assert stored is not None and stored.person == encounter.person
        holders = node.records.document_holders(encounter.person.document_number)
        assert holders.encounters == [encounter.encounter_id]
    finally:
        node.close()


@pytest.mark.sqlite_files
def test_step2_values_disclosed_to_us_are_sealed_and_old_clear_ones_sealed_at_open(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]
    person = dataset.watchlists["CHL"][0].person
    disclosed = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "document_number": person.document_number,
    }
    requests = SentRequests(pan.database, pan.records.data_keys)
    now = dt.datetime.now(dt.UTC)
    requests.add(_sent("DR-SEALED", disclosed, now))
    requests.add(_sent("DR-LEGACY", {}, now))
    with pan.database.transaction() as connection:  # as written before sealing
        connection.execute(
            "UPDATE details_sent SET disclosed = ? WHERE request_id = 'DR-LEGACY'",
            (json.dumps(disclosed, sort_keys=True),),
        )
    assert custody_problems(pan.node_dir) == [
        f"1 details_sent rows hold personal fields in clear; opening the node seals them "
        f"(e.g. `bx status -n {pan.node_dir}`)"
    ]
    pan.close()

    reopened = Node.open(pan.node_dir)
    try:
        reread = SentRequests(reopened.database, reopened.records.data_keys)
        assert [r.disclosed for r in reread.list()] == [disclosed, disclosed]
        rotation = rotate_data_key(keys_dir(pan.node_dir), reopened.database, reopened.audit)
        assert rotation.resealed["details_sent"] == 2
        assert [r.disclosed for r in reread.list()] == [disclosed, disclosed]
        reopened.database.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        reopened.close()
    data = _file_bytes(pan.node_dir)
    assert person.document_number.encode() not in data
    with _plain(pan.node_dir) as connection:
        types = {row[0] for row in connection.execute("SELECT typeof(disclosed) FROM details_sent")}
    assert types == {"blob"}
    assert custody_problems(pan.node_dir) == []


def _sent(request_id: str, disclosed: dict[str, str], now: dt.datetime) -> SentRequest:
    return SentRequest(
        request_id=request_id,
        partner="CHL",
        hit_reference="HR-1",
        purpose="missing_persons",
        justification="synthetic",
        officer_id="PAN-OFFICER-1",
        fields=("names", "document_numbers"),
        status=RequestStatus.APPROVED,
        sent_at=now,
        disclosed=disclosed,
    )
