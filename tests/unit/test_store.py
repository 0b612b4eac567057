"""Unit tests of templates at rest (crypto.at_rest) and the node store (store/)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.crypto.at_rest import CorruptRecord, open_template, seal_template
from biometric_exchange.crypto.envelope import TIME_WINDOW_MS
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    Encounter,
    Person,
    Provenance,
    Severity,
    Sex,
    Template,
    WatchlistCategory,
    WatchlistEntry,
    template_to_bytes,
    utc_now,
    validate_template,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.store import outbox as outbox_module
from biometric_exchange.store.alerts import AlertFilter, AlertStore, new_alert_id
from biometric_exchange.store.audit import AuditChainBroken, AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.database import Database
from biometric_exchange.store.outbox import (
    BASE_BACKOFF_MS,
    MAX_BACKOFF_MS,
    Outbox,
    OutboxItem,
    OutboxState,
    now_ms,
)
from biometric_exchange.store.records import RecordStore
from biometric_exchange.store.replay import FORGET_EVERY_MS, SqliteReplayGuard
from biometric_exchange.store.schema import MIGRATIONS
from biometric_exchange.synthetic import DemoDataset

DATA_KEY = bytes(range(32))
PERSON = Person(
    given_name="Ana",
    family_name="Synthetic",
    sex=Sex.FEMALE,
    birth_date=dt.date(1990, 5, 17),
    nationality="IND",
    document_number="X1234567",
)
PROVENANCE = Provenance(synthetic=True, generator="unit-test", seed=7)


def make_template(seed: int) -> Template:
    rng = np.random.default_rng(seed)
    return validate_template(rng.normal(0.0, 0.1, 128))


def make_encounter(encounter_id: str, *, seed: int = 1) -> Encounter:
    return Encounter(
        encounter_id=encounter_id,
        person=PERSON,
        encountered_at=dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC),
        border_point="PAN-DARIEN",
        template=make_template(seed),
        provenance=PROVENANCE,
    )


def make_entry(
    entry_id: str, *, seed: int = 2, valid_until: dt.date | None = None
) -> WatchlistEntry:
    return WatchlistEntry(
        entry_id=entry_id,
        category=WatchlistCategory.TRAFFICKING_SUSPECT,
        person=PERSON,
        template=make_template(seed),
        valid_until=valid_until,
        provenance=PROVENANCE,
    )


def make_alert(summary: str = "local hit", evidence_key: str = "encounter:ENC-1") -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.WATCHLIST_HIT,
        severity=Severity.HIGH,
        created_at=utc_now(),
        summary=summary,
        subject_key="local:W-1",
        evidence=({"key": evidence_key, "distance": 0.41},),
        encounter_id="ENC-1",
        watchlist_entry_id="W-1",
        category="trafficking_suspect",
        distance=0.25,
    )


def raw_database_bytes(database: Database) -> bytes:
    """Every byte SQLite has on disk for this database: main file plus write-ahead log."""
    wal = database.path.with_name(database.path.name + "-wal")
    return database.path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "node.db")
    yield opened
    opened.close()


@pytest.fixture
def records(database: Database) -> RecordStore:
    return RecordStore(database, DATA_KEY, "PAN")


def insert_encounters(database: Database, records: RecordStore, *ids: str) -> None:
    with database.transaction() as connection:
        for number, encounter_id in enumerate(ids):
            records.insert_encounter(connection, make_encounter(encounter_id, seed=number))


def enqueue(database: Database, records: RecordStore, encounter_id: str) -> str:
    with database.transaction() as connection:
        records.insert_encounter(connection, make_encounter(encounter_id))
        return Outbox.enqueue(connection, encounter_id, ["CHL"])["CHL"]


def item_of(outbox: Outbox, encounter_id: str) -> OutboxItem:
    item = outbox.get(encounter_id)
    assert item is not None
    return item


# --- templates at rest -----------------------------------------------------------------


def test_sealed_template_opens_bit_for_bit() -> None:
    template = make_template(3)
    blob = seal_template(DATA_KEY, "watchlist", "W-1", template)
    opened = open_template(DATA_KEY, "watchlist", "W-1", blob)
    assert opened.dtype == np.float32
    assert template_to_bytes(opened) == template_to_bytes(template)
    assert template_to_bytes(template) not in blob


def test_sealing_twice_gives_different_blobs() -> None:
    template = make_template(3)
    first = seal_template(DATA_KEY, "watchlist", "W-1", template)
    second = seal_template(DATA_KEY, "watchlist", "W-1", template)
    assert first != second
    assert first[:12] != second[:12]


@pytest.mark.parametrize(
    ("table", "record_id"),
    [("watchlist", "W-2"), ("encounters", "W-1"), ("encounters", "W-2"), ("watchlist", "")],
)
def test_blob_moved_to_another_row_does_not_open(table: str, record_id: str) -> None:
    blob = seal_template(DATA_KEY, "watchlist", "W-1", make_template(3))
    with pytest.raises(CorruptRecord, match=f"^{table} record {record_id}: template does not"):
        open_template(DATA_KEY, table, record_id, blob)


def test_wrong_data_key_does_not_open() -> None:
    blob = seal_template(DATA_KEY, "watchlist", "W-1", make_template(3))
    with pytest.raises(
        CorruptRecord, match="watchlist record W-1: sealed under an unknown data key"
    ):
        open_template(secrets.token_bytes(32), "watchlist", "W-1", blob)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (0, "not a sealed template"),  # the format byte
        (1, "sealed under an unknown data key"),  # the key id
        (9, "template does not decrypt"),  # the nonce
        (21, "template does not decrypt"),  # the ciphertext
        (100, "template does not decrypt"),
        (-1, "template does not decrypt"),  # the tag
    ],
)
def test_altered_blob_does_not_open(index: int, message: str) -> None:
    blob = bytearray(seal_template(DATA_KEY, "watchlist", "W-1", make_template(3)))
    blob[index] ^= 0x80
    with pytest.raises(CorruptRecord, match=message):
        open_template(DATA_KEY, "watchlist", "W-1", bytes(blob))


@pytest.mark.parametrize("blob", [b"", b"short", bytes(12), bytes(27)])
def test_truncated_blob_is_a_corrupt_record(blob: bytes) -> None:
    with pytest.raises(CorruptRecord, match="not a sealed template"):
        open_template(DATA_KEY, "watchlist", "W-1", blob)


def test_a_sealed_blob_with_its_body_cut_does_not_open() -> None:
    blob = seal_template(DATA_KEY, "watchlist", "W-1", make_template(3))
    with pytest.raises(CorruptRecord, match="template does not decrypt"):
        open_template(DATA_KEY, "watchlist", "W-1", blob[:30])


def test_database_file_never_holds_a_clear_template(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = nodes["PAN"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    for country, node in nodes.items():
        raw = raw_database_bytes(node.database)
        stored = list(dataset.watchlists[country])
        assert stored
        for entry in stored:
            # The row is there (its id is in clear) but its template is not.
            assert entry.entry_id.encode() in raw
            assert template_to_bytes(entry.template) not in raw, entry.entry_id
    pan_raw = raw_database_bytes(pan.database)
    for encounter in dataset.encounters["PAN"]:
        assert encounter.encounter_id.encode() in pan_raw
        assert template_to_bytes(encounter.template) not in pan_raw, encounter.encounter_id


# --- database --------------------------------------------------------------------------


def test_migration_sets_user_version_and_wal(database: Database) -> None:
    connection = database.connection
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopening_keeps_data_and_does_not_migrate_again(
    database: Database, records: RecordStore
) -> None:
    records.add_watchlist([make_entry("W-1")])
    database.close()
    reopened = Database(database.path)
    try:
        assert reopened.connection.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [e.entry_id for e in RecordStore(reopened, DATA_KEY, "PAN").watchlist()] == ["W-1"]
    finally:
        reopened.close()


def test_transaction_rolls_back_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), database.transaction() as connection:
        connection.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        raise RuntimeError("boom")
    assert database.connection.execute("SELECT count(*) FROM meta").fetchone()[0] == 0
    assert not database.connection.in_transaction


# --- audit log -------------------------------------------------------------------------


def record_three(audit: AuditLog) -> None:
    audit.record(AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="PAN", message_id="a" * 32)
    audit.record(
        AuditEvent.IDENTIFY_RECEIVED,
        AuditOutcome.ACCEPTED,
        peer="PAN",
        message_id="b" * 32,
        probes=3,
    )
    audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, reason="bad signature")


def test_audit_chain_verifies_and_counts(database: Database) -> None:
    audit = AuditLog(database)
    assert audit.verify() == 0
    record_three(audit)
    assert audit.verify() == 3
    entries = audit.entries()
    assert [e.event for e in entries] == ["identify.sent", "identify.received", "peer.refused"]
    assert entries[1].detail == {"probes": 3}
    assert entries[0].prev_hash == "0" * 64
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"probes": 4}'),
        ("outcome", "rejected"),
        ("peer", "CHL"),
        ("message_id", "c" * 32),
        ("at", "2020-01-01T00:00:00+00:00"),
    ],
)
def test_editing_an_audit_row_breaks_the_chain(database: Database, column: str, value: str) -> None:
    audit = AuditLog(database)
    record_three(audit)
    with database.transaction() as connection:
        connection.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 2", (value,))
    with pytest.raises(AuditChainBroken, match=r"^audit entry 2 was altered$"):
        audit.verify()


def test_deleting_a_middle_audit_row_breaks_the_chain(database: Database) -> None:
    audit = AuditLog(database)
    record_three(audit)
    with database.transaction() as connection:
        connection.execute("DELETE FROM audit_log WHERE seq = 2")
    with pytest.raises(
        AuditChainBroken, match=r"^audit entry after 1 was removed \(sequence jumps to 3\)$"
    ):
        audit.verify()


def test_recomputed_hash_over_edited_row_still_breaks_the_next_link(database: Database) -> None:
    audit = AuditLog(database)
    record_three(audit)
    with database.transaction() as connection:
        connection.execute("UPDATE audit_log SET entry_hash = ? WHERE seq = 1", ("f" * 64,))
    with pytest.raises(AuditChainBroken, match=r"^audit entry 1 was altered$"):
        audit.verify()


# --- alerts ----------------------------------------------------------------------------


def test_raising_the_same_alert_twice_stores_one(database: Database) -> None:
    alerts = AlertStore(database)
    first, second = make_alert("first"), make_alert("second")
    assert alerts.raise_alert(first).new is True
    again = alerts.raise_alert(second)
    assert (again.new, again.evidence_added, again.alert_id) == (False, 0, first.alert_id)
    stored = alerts.list()
    assert [a.alert_id for a in stored] == [first.alert_id]
    assert dataclasses.replace(stored[0], updated_at=None) == first


def test_new_evidence_joins_the_open_alert_of_the_same_subject(database: Database) -> None:
    alerts = AlertStore(database)
    first = make_alert("first")
    alerts.raise_alert(first)
    worse = dataclasses.replace(make_alert("second", "encounter:ENC-2"), severity=Severity.CRITICAL)
    joined = alerts.raise_alert(worse)
    assert (joined.new, joined.evidence_added, joined.alert_id) == (False, 1, first.alert_id)
    (stored,) = alerts.list()
    assert [e["key"] for e in stored.evidence] == ["encounter:ENC-1", "encounter:ENC-2"]
    assert stored.severity is Severity.CRITICAL, "the higher severity is kept"


def test_a_closed_alert_leaves_room_for_a_new_one(database: Database) -> None:
    alerts = AlertStore(database)
    first = make_alert()
    alerts.raise_alert(first)
    database.connection.execute("UPDATE alerts SET status = 'CLOSED'")
    second = make_alert("again", "encounter:ENC-3")
    assert alerts.raise_alert(second).new is True
    assert {a.alert_id for a in alerts.list()} == {first.alert_id, second.alert_id}
    assert [a.alert_id for a in alerts.list(AlertFilter(open_only=True))] == [second.alert_id]


def test_alerts_of_other_subjects_are_kept_and_filtered_by_kind(database: Database) -> None:
    alerts = AlertStore(database)
    local = make_alert()
    partner = Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER,
        severity=Severity.CRITICAL,
        created_at=utc_now(),
        summary="our subject seen by PAN",
        subject_key="entry:W-1",
        partner="PAN",
        hit_reference="HIT-1",
    )
    assert alerts.raise_alert(local).new
    assert alerts.raise_alert(partner).new
    assert len(alerts.list()) == 2
    assert [a.alert_id for a in alerts.list(kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)] == [
        partner.alert_id
    ]
    assert alerts.list(kind=AlertKind.IDENTITY_CONFLICT) == []


# --- outbox ----------------------------------------------------------------------------


def next_attempt_ms(database: Database, encounter_id: str) -> int:
    row = database.connection.execute(
        "SELECT next_attempt_at_ms FROM outbox WHERE encounter_id = ?", (encounter_id,)
    ).fetchone()
    return int(row[0])


def test_enqueued_item_is_pending_and_due(database: Database, records: RecordStore) -> None:
    outbox = Outbox(database)
    probe_ref = enqueue(database, records, "ENC-1")
    item = outbox.get("ENC-1")
    assert item is not None
    assert (item.state, item.attempts, item.last_error, item.probe_ref) == (
        OutboxState.PENDING,
        0,
        None,
        probe_ref,
    )
    assert [i.encounter_id for i in outbox.due()] == ["ENC-1"]
    assert outbox.depth() == 1
    assert outbox.get("ENC-404") is None


def test_enqueue_needs_an_enrolled_encounter(database: Database) -> None:
    with (
        pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"),
        database.transaction() as connection,
    ):
        Outbox.enqueue(connection, "ENC-NOT-ENROLLED", ["CHL"])
    assert Outbox(database).get("ENC-NOT-ENROLLED") is None


def test_due_respects_its_limit(database: Database, records: RecordStore) -> None:
    for encounter_id in ("ENC-1", "ENC-2", "ENC-3"):
        enqueue(database, records, encounter_id)
    assert len(Outbox(database).due(limit=2)) == 2
    assert len(Outbox(database).due()) == 3


def test_retry_later_backs_off_and_counts(database: Database, records: RecordStore) -> None:
    outbox = Outbox(database)
    enqueue(database, records, "ENC-1")
    before = now_ms()
    outbox.retry_later(item_of(outbox, "ENC-1"), "partner unavailable")
    after = now_ms()
    item = outbox.get("ENC-1")
    assert item is not None
    assert (item.state, item.attempts, item.last_error) == (
        OutboxState.PENDING,
        1,
        "partner unavailable",
    )
    low, high = (
        (1 - outbox_module.JITTER) * BASE_BACKOFF_MS,
        (1 + outbox_module.JITTER) * BASE_BACKOFF_MS,
    )
    assert before + low <= next_attempt_ms(database, "ENC-1") <= after + high
    assert outbox.due() == []
    assert outbox.depth() == 1


def test_retry_back_off_doubles_and_is_capped(
    database: Database, records: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = Outbox(database)
    enqueue(database, records, "ENC-1")
    monkeypatch.setattr(outbox_module, "now_ms", lambda: 1_000_000)
    delays = []
    for _ in range(8):
        outbox.retry_later(item_of(outbox, "ENC-1"), "down")
        delays.append(next_attempt_ms(database, "ENC-1") - 1_000_000)
    nominal = [BASE_BACKOFF_MS * 2**n for n in range(7)] + [MAX_BACKOFF_MS]
    jitter = outbox_module.JITTER
    for delay, expected in zip(delays, nominal, strict=True):
        assert (1 - jitter) * expected <= delay <= (1 + jitter) * expected
    item = outbox.get("ENC-1")
    assert item is not None and item.attempts == 8
    # Once its time has come, the item is due again.
    monkeypatch.setattr(
        outbox_module, "now_ms", lambda: 1_000_000 + int((1 + jitter) * MAX_BACKOFF_MS)
    )
    assert [i.encounter_id for i in outbox.due()] == ["ENC-1"]


@pytest.mark.parametrize(
    ("method", "args", "state", "error"),
    [
        ("mark_done", (), OutboxState.DONE, None),
        (
            "mark_out_of_scope",
            ("out of scope: nationality",),
            OutboxState.OUT_OF_SCOPE,
            "out of scope: nationality",
        ),
        ("mark_failed", ("agreement refused",), OutboxState.FAILED, "agreement refused"),
    ],
)
def test_finished_items_are_no_longer_due(
    database: Database,
    records: RecordStore,
    method: str,
    args: tuple[str, ...],
    state: OutboxState,
    error: str | None,
) -> None:
    outbox = Outbox(database)
    enqueue(database, records, "ENC-1")
    outbox.retry_later(item_of(outbox, "ENC-1"), "down")
    getattr(outbox, method)(item_of(outbox, "ENC-1"), *args)
    item = outbox.get("ENC-1")
    assert item is not None
    assert (item.state, item.attempts, item.last_error) == (state, 2, error)
    assert outbox.due() == []
    assert outbox.depth() == 0


# --- replay guard ----------------------------------------------------------------------


def test_sqlite_replay_guard_remembers_per_sender(database: Database) -> None:
    guard = SqliteReplayGuard(database, window_ms=TIME_WINDOW_MS)
    message_id, now = "ab" * 16, 1_760_000_000_000
    assert guard.remember(message_id, "CHL", now) is True
    assert guard.remember(message_id, "CHL", now) is False
    assert guard.remember(message_id, "PAN", now) is True
    assert guard.remember("cd" * 16, "CHL", now) is True


def test_sqlite_replay_guard_is_shared_through_the_database(database: Database) -> None:
    guard = SqliteReplayGuard(database, window_ms=TIME_WINDOW_MS)
    guard.remember("ab" * 16, "CHL", 1_760_000_000_000)
    other_process_view = Database(database.path)
    try:
        other = SqliteReplayGuard(other_process_view, window_ms=TIME_WINDOW_MS)
        assert other.remember("ab" * 16, "CHL", 1) is False
    finally:
        other_process_view.close()


def test_sqlite_replay_guard_forgets_only_ids_outside_twice_the_window(database: Database) -> None:
    guard = SqliteReplayGuard(database, window_ms=TIME_WINDOW_MS)
    now = 1_760_000_000_000
    assert guard.remember("01" * 16, "CHL", now - 2 * TIME_WINDOW_MS - 1)
    assert guard.remember("02" * 16, "CHL", now - 2 * TIME_WINDOW_MS)
    assert guard.remember("03" * 16, "CHL", now)  # prunes what is older than now - 2 windows
    kept = {row[0] for row in database.connection.execute("SELECT message_id FROM seen_messages")}
    assert kept == {"02" * 16, "03" * 16}
    assert guard.remember("02" * 16, "CHL", now) is False


def test_sqlite_replay_guard_forgets_at_most_once_a_minute(database: Database) -> None:
    guard = SqliteReplayGuard(database, window_ms=TIME_WINDOW_MS)
    now = 1_760_000_000_000
    stale = now - 2 * TIME_WINDOW_MS - 1

    def ids() -> set[str]:
        rows = database.connection.execute("SELECT message_id FROM seen_messages")
        return {row[0] for row in rows}

    assert guard.remember("01" * 16, "CHL", now)  # forgets (nothing yet), then not for 60 s
    with database.transaction() as connection:
        connection.execute(
            "INSERT INTO seen_messages (sender, message_id, created_at_ms) VALUES (?, ?, ?)",
            ("CHL", "02" * 16, stale),
        )
    assert guard.remember("03" * 16, "CHL", now + FORGET_EVERY_MS - 1)
    assert "02" * 16 in ids(), "within the minute: the stale id is still there"
    assert guard.remember("04" * 16, "CHL", now + FORGET_EVERY_MS)
    assert "02" * 16 not in ids()


# --- records ---------------------------------------------------------------------------


def test_encounter_round_trips(database: Database, records: RecordStore) -> None:
    insert_encounters(database, records, "ENC-1")
    stored = records.encounter("ENC-1")
    expected = make_encounter("ENC-1", seed=0)
    assert stored is not None
    assert (stored.person, stored.encountered_at, stored.border_point, stored.provenance) == (
        expected.person,
        expected.encountered_at,
        expected.border_point,
        expected.provenance,
    )
    assert template_to_bytes(stored.template) == template_to_bytes(expected.template)
    assert records.encounter("ENC-404") is None


def test_duplicate_encounter_id_is_refused(database: Database, records: RecordStore) -> None:
    insert_encounters(database, records, "ENC-1")
    with (
        pytest.raises(InvalidInput, match=r"^encounter_id: 'ENC-1' is already enrolled"),
        database.transaction() as connection,
    ):
        records.insert_encounter(connection, make_encounter("ENC-1", seed=9))
    assert records.count_encounters() == 1


def outbox_rows(node: Node) -> int:
    return int(node.database.connection.execute("SELECT count(*) FROM outbox").fetchone()[0])


def test_enrol_twice_keeps_the_first_record_and_its_single_outbox_item(
    nodes: dict[str, Node],
) -> None:
    pan = nodes["PAN"]
    (probe_ref,) = enrol(pan, make_encounter("ENC-1", seed=1)).values()
    with pytest.raises(InvalidInput, match="'ENC-1' is already enrolled"):
        enrol(pan, make_encounter("ENC-1", seed=2))
    assert pan.records.count_encounters() == 1
    assert outbox_rows(pan) == 1
    item = pan.outbox.get("ENC-1")
    assert item is not None and item.probe_ref == probe_ref
    stored = pan.records.encounter("ENC-1")
    assert stored is not None
    assert template_to_bytes(stored.template) == template_to_bytes(make_template(1))


def test_enrol_failing_after_the_insert_leaves_nothing_behind(
    nodes: dict[str, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    pan = nodes["PAN"]

    def failing_enqueue(
        connection: sqlite3.Connection, encounter_id: str, partners: Sequence[str]
    ) -> dict[str, str]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Outbox, "enqueue", staticmethod(failing_enqueue))
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        enrol(pan, make_encounter("ENC-1"))
    assert pan.records.count_encounters() == 0
    assert outbox_rows(pan) == 0
    assert pan.records.encounter("ENC-1") is None


def test_enrol_refuses_non_synthetic_records(nodes: dict[str, Node]) -> None:
    pan = nodes["PAN"]
    real = make_encounter("ENC-1")
    real = Encounter(
        encounter_id=real.encounter_id,
        person=real.person,
        encountered_at=real.encountered_at,
        border_point=real.border_point,
        template=real.template,
        provenance=Provenance(synthetic=False, generator="passport scanner"),
    )
    with pytest.raises(InvalidInput, match="synthetic records only"):
        enrol(pan, real)
    assert pan.records.count_encounters() == 0
    assert outbox_rows(pan) == 0


def test_watchlist_batch_with_a_duplicate_adds_nothing(records: RecordStore) -> None:
    assert records.watchlist_generation() == 0
    assert records.add_watchlist([make_entry("W-1")]) == 1
    assert records.watchlist_generation() == 1
    with pytest.raises(InvalidInput, match=r"^entry_id: 'W-1' is already on this node's watchlist"):
        records.add_watchlist([make_entry("W-2"), make_entry("W-1"), make_entry("W-3")])
    assert [e.entry_id for e in records.watchlist()] == ["W-1"]
    assert records.watchlist_generation() == 1


def test_watchlist_batch_repeating_an_id_adds_nothing(records: RecordStore) -> None:
    with pytest.raises(InvalidInput, match="'W-5' is already on"):
        records.add_watchlist([make_entry("W-4"), make_entry("W-5"), make_entry("W-5", seed=3)])
    assert list(records.watchlist()) == []
    assert records.watchlist_generation() == 0


def test_watchlist_generation_counts_successful_batches(records: RecordStore) -> None:
    records.add_watchlist([make_entry("W-1")])
    records.add_watchlist([make_entry("W-2", seed=5), make_entry("W-3", seed=6)])
    assert records.watchlist_generation() == 2
    entries = {e.entry_id: e for e in records.watchlist()}
    assert sorted(entries) == ["W-1", "W-2", "W-3"]
    assert template_to_bytes(entries["W-3"].template) == template_to_bytes(make_template(6))
    assert records.watchlist_category("W-2") is WatchlistCategory.TRAFFICKING_SUSPECT
    assert records.watchlist_category("W-404") is None


def test_watchlist_valid_on_leaves_out_expired_entries(records: RecordStore) -> None:
    records.add_watchlist(
        [
            make_entry("W-OPEN"),
            make_entry("W-EXPIRED", valid_until=dt.date(2025, 1, 31)),
            make_entry("W-LAST-DAY", valid_until=dt.date(2025, 2, 1)),
        ]
    )
    in_force = [e.entry_id for e in records.watchlist(valid_on=dt.date(2025, 2, 1))]
    assert in_force == ["W-LAST-DAY", "W-OPEN"]
    assert len(list(records.watchlist())) == 3


def test_watchlist_row_under_another_data_key_is_a_corrupt_record(
    database: Database, records: RecordStore
) -> None:
    records.add_watchlist([make_entry("W-1")])
    with pytest.raises(CorruptRecord, match="watchlist record W-1"):
        list(RecordStore(database, secrets.token_bytes(32), "PAN").watchlist())


def test_template_copied_onto_another_watchlist_row_is_a_corrupt_record(
    database: Database, records: RecordStore
) -> None:
    records.add_watchlist([make_entry("W-1", seed=1), make_entry("W-2", seed=2)])
    with database.transaction() as connection:
        connection.execute(
            "UPDATE watchlist SET template_sealed = "
            "(SELECT template_sealed FROM watchlist WHERE entry_id = 'W-1') WHERE entry_id = 'W-2'"
        )
    with pytest.raises(CorruptRecord, match="watchlist record W-2"):
        list(records.watchlist())


def test_back_off_is_jittered() -> None:
    waits = {outbox_module.backoff_ms(3) for _ in range(50)}
    assert len(waits) > 10, "retries after one outage spread out"
    assert all(1600 <= w <= 2400 for w in waits)
