"""Alert evidence as rows (store/evidence.py): joins insert only new rows, reads page
and stay bounded, the cap counts the rest, and the migration moves old JSON evidence."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from biometric_exchange.alerts.export import csv_row, read_jsonl, with_deadline, write_jsonl
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    Evidence,
    EvidenceOverflow,
    Severity,
    utc_now,
)
from biometric_exchange.store.alerts import AlertFilter, AlertStore, new_alert_id
from biometric_exchange.store.database import Database
from biometric_exchange.store.schema import MIGRATIONS

EVIDENCE_MIGRATION = next(
    number for number, script in enumerate(MIGRATIONS, start=1) if "alert_evidence (" in script
)
"""The migration that moved evidence into rows of its own."""


def conflict(items: list[Evidence], subject: str = "conflict:PAN-ENC-1") -> Alert:
    return Alert(
        alert_id=new_alert_id(),
        kind=AlertKind.IDENTITY_CONFLICT,
        severity=Severity.HIGH,
        created_at=utc_now(),
        summary="encounter PAN-ENC-2 shows the face of encounter PAN-ENC-1",
        subject_key=subject,
        encounter_id="PAN-ENC-2",
        evidence=tuple(items),
    )


def item(number: int, *differences: str) -> Evidence:
    return {
        "key": f"identity:{number:032x}",
        "rule": AlertKind.IDENTITY_CONFLICT.value,
        "differences": list(differences or ("names",)),
    }


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    opened = Database(tmp_path / "node.db")
    yield opened
    opened.close()


class Statements:
    """Every SQL statement one connection runs (SQLite's own trace callback)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.seen: list[str] = []
        self._connection = connection

    def __enter__(self) -> Statements:
        self._connection.set_trace_callback(self.seen.append)
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.set_trace_callback(None)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.seen if table in s]


def test_a_join_inserts_only_the_new_rows(database: Database) -> None:
    alerts = AlertStore(database)
    first = alerts.raise_alert(conflict([item(1)]))
    with Statements(database.connection) as statements:
        joined = alerts.raise_alert(conflict([item(1), item(2)]))
    assert (joined.new, joined.evidence_added, joined.alert_id) == (False, 1, first.alert_id)
    writes = [s for s in statements.touching("alert_evidence") if not s.startswith("SELECT")]
    assert len(writes) == 2, "one INSERT … ON CONFLICT DO NOTHING per incoming item, no rewrite"
    assert all(s.startswith("INSERT INTO alert_evidence") for s in writes)
    assert all("ON CONFLICT (alert_id, key) DO NOTHING" in s for s in writes)
    assert alerts.evidence_count(first.alert_id) == 2
    assert [e["key"] for e in alerts.evidence(first.alert_id)] == [
        item(1)["key"],
        item(2)["key"],
    ]


def test_evidence_pages_in_the_order_it_arrived(database: Database) -> None:
    alerts = AlertStore(database)
    alert_id = alerts.raise_alert(conflict([item(n) for n in range(7)])).alert_id
    pages = [alerts.evidence(alert_id, offset=offset, limit=3) for offset in (0, 3, 6, 9)]
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    assert [e["key"] for page in pages for e in page] == [item(n)["key"] for n in range(7)]
    assert alerts.evidence_count(alert_id) == 7
    assert alerts.evidence_count("ALR-UNKNOWN") == 0


def test_a_named_occurrence_counts_on_the_known_item(database: Database) -> None:
    alerts = AlertStore(database)
    alert_id = alerts.raise_alert(conflict([item(1)]), occurrence="PAN-ENC-2").alert_id
    again = alerts.raise_alert(conflict([item(1)]), occurrence="PAN-ENC-3")
    same = alerts.raise_alert(conflict([item(1)]), occurrence="PAN-ENC-3")
    plain = alerts.raise_alert(conflict([item(1)]))
    assert (again.evidence_added, again.evidence_repeated) == (0, 1)
    assert (same.evidence_repeated, plain.evidence_repeated) == (0, 0), "counted once each"
    (stored,) = alerts.evidence(alert_id)
    assert (stored["occurrences"], stored["last_occurrence"]) == (2, "PAN-ENC-3")
    assert alerts.evidence_count(alert_id) == 1


def test_the_cap_counts_what_it_does_not_keep(database: Database) -> None:
    alerts = AlertStore(database, max_evidence=3)
    alert_id = alerts.raise_alert(conflict([item(0), item(1)])).alert_id
    late = alerts.raise_alert(
        conflict([item(1), item(2), item(3, "names", "birth_date"), item(4, "document_number")])
    )
    assert (late.evidence_added, late.evidence_overflowed) == (1, 2)
    assert alerts.raise_alert(conflict([item(2)])).evidence_overflowed == 0, "kept: known"
    assert alerts.raise_alert(conflict([item(4, "document_number")])).evidence_overflowed == 0, (
        "counted already: a retry is not counted twice"
    )
    stored = alerts.get(alert_id)
    assert stored is not None
    assert [e["key"] for e in stored.evidence] == [item(n)["key"] for n in range(3)]
    assert stored.evidence_overflow == EvidenceOverflow(
        items=2,
        by_rule={"IDENTITY_CONFLICT": 2},
        by_field={"names": 1, "birth_date": 1, "document_number": 1},
    )
    (listed,) = alerts.list()
    assert listed == stored
    assert alerts.evidence_count(alert_id) == 3
    again = alerts.raise_alert(conflict([item(4, "document_number")]), occurrence="PAN-ENC-9")
    assert again.evidence_overflowed == 1, "a new occurrence of a counted item counts"
    after = alerts.get(alert_id)
    assert after is not None and after.evidence_overflow is not None
    assert (after.evidence_overflow.items, after.evidence_overflow.by_field["document_number"]) == (
        3,
        2,
    )


def test_the_overflow_summary_survives_an_export(database: Database, tmp_path: Path) -> None:
    alerts = AlertStore(database, max_evidence=1)
    alerts.raise_alert(conflict([item(0), item(1, "birth_date")]))
    (stored,) = alerts.list()
    assert stored.evidence_overflow is not None
    path = tmp_path / "alerts.jsonl"
    write_jsonl([stored], path)
    assert read_jsonl(path) == [with_deadline(stored)]  # the export fills the deadline
    assert csv_row(stored)["evidence_count"] == 2


def test_reads_load_at_most_the_cap_per_alert_in_one_query(database: Database) -> None:
    roomy = AlertStore(database, max_evidence=20)
    for subject in range(5):
        roomy.raise_alert(conflict([item(n) for n in range(8)], subject=f"conflict:S{subject}"))
    narrow = AlertStore(database, max_evidence=4)
    with Statements(database.connection) as statements:
        listed = narrow.list(AlertFilter(kind=AlertKind.IDENTITY_CONFLICT))
    assert [len(a.evidence) for a in listed] == [4] * 5
    assert len(statements.touching("FROM alert_evidence")) == 1, "one query for every alert"
    one = narrow.get(listed[0].alert_id)
    assert one is not None and len(one.evidence) == 4
    assert len(narrow.evidence(listed[0].alert_id, limit=100)) == 8, "paging reaches all"


def test_received_references_come_from_the_rows(database: Database) -> None:
    alerts = AlertStore(database)
    for number, reference in enumerate(("HIT-A", "HIT-B")):
        alerts.raise_alert(
            Alert(
                alert_id=new_alert_id(),
                kind=AlertKind.WATCHLIST_HIT,
                severity=Severity.HIGH,
                created_at=utc_now(),
                summary="hit on CHL watchlist",
                subject_key=f"CHL:{reference}",
                partner="CHL",
                encounter_id=f"PAN-ENC-{number}",
                hit_reference=reference,
                evidence=({"key": f"encounter:PAN-ENC-{number}", "hit_reference": reference},),
            )
        )
    assert alerts.received_references("CHL") == {"HIT-A", "HIT-B"}
    assert alerts.received_references("MEX") == set()
    assert {a.hit_reference for a in alerts.partner_hits("CHL")} == {"HIT-A", "HIT-B"}


def _database_before_rows(path: Path) -> None:
    """A database at the migration before evidence rows, holding JSON evidence."""
    connection = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[: EVIDENCE_MIGRATION - 1], start=1):
        connection.executescript(script)
        connection.execute(f"PRAGMA user_version = {number}")
    evidence = [
        {"key": "encounter:PAN-ENC-1", "hit_reference": "HIT-1", "distance": 0.3},
        {"key": "encounter:PAN-ENC-2", "hit_reference": "HIT-1", "distance": 0.4},
        {"note": "an item without a key"},
    ]
    connection.execute(
        "INSERT INTO alerts (alert_id, kind, severity, status, created_at, updated_at, summary, "
        "partner, encounter_id, hit_reference, subject_key, evidence) "
        "VALUES ('ALR-OLD', 'WATCHLIST_HIT', 'high', 'NEW', ?, ?, 'hit', 'CHL', 'PAN-ENC-1', "
        "'HIT-1', 'CHL:HIT-1', ?)",
        (utc_now().isoformat(), utc_now().isoformat(), json.dumps(evidence)),
    )
    connection.commit()
    connection.close()


def test_the_migration_moves_json_evidence_into_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _database_before_rows(path)
    database = Database(path)
    try:
        alerts = AlertStore(database)
        stored = alerts.get("ALR-OLD")
        assert stored is not None
        assert [e.get("key") for e in stored.evidence] == [
            "encounter:PAN-ENC-1",
            "encounter:PAN-ENC-2",
            None,
        ]
        assert stored.evidence[2] == {"note": "an item without a key"}
        assert alerts.evidence_count("ALR-OLD") == 3
        assert alerts.received_references("CHL") == {"HIT-1"}
        columns = {row[1] for row in database.connection.execute("PRAGMA table_info(alerts)")}
        assert "evidence" not in columns, "the JSON column is gone"
        joined = alerts.raise_alert(
            dataclasses.replace(
                conflict([{"key": "encounter:PAN-ENC-3"}]),
                kind=AlertKind.WATCHLIST_HIT,
                subject_key="CHL:HIT-1",
            )
        )
        assert (joined.alert_id, joined.evidence_added) == ("ALR-OLD", 1)
    finally:
        database.close()
