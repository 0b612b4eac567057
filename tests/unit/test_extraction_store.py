"""The extraction guard's rows at rest (store/extraction.py): the migration that adds
them, strikes and holds per partner and day, and their retention."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditLog
from biometric_exchange.store.database import Database
from biometric_exchange.store.extraction import ExtractionStore, Standing
from biometric_exchange.store.retention import run_retention
from biometric_exchange.store.schema import MIGRATIONS

NOW = dt.datetime(2027, 6, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def database(tmp_path: Path) -> Database:
    return Database(tmp_path / "node.sqlite3")


@pytest.fixture
def store(database: Database) -> ExtractionStore:
    return ExtractionStore(database)


def test_a_database_of_the_previous_version_gains_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:-1], start=1):
        connection.executescript(script)
        connection.execute(f"PRAGMA user_version = {number}")
    connection.commit()
    connection.close()
    store = ExtractionStore(Database(path))
    assert store.standing("PAN", TODAY) == (0, False)
    assert store.hits("PAN", TODAY, "W-1") == 0


def test_strikes_count_per_partner_and_day(store: ExtractionStore) -> None:
    assert store.strike("PAN", TODAY, hold_at=2, hold_now=False) == Standing(1, False, False)
    assert store.strike("PAN", TODAY, hold_at=2, hold_now=False) == Standing(2, True, True)
    assert store.strike("PAN", TODAY, hold_at=2, hold_now=False) == Standing(3, True, False)
    assert store.strike("MEX", TODAY, hold_at=2, hold_now=True) == Standing(1, True, True)
    tomorrow = TODAY + dt.timedelta(days=1)
    assert store.standing("PAN", tomorrow) == (0, False)
    assert store.standing("PAN", TODAY) == (3, True)


def test_a_strike_commits_on_its_own(store: ExtractionStore, tmp_path: Path) -> None:
    store.strike("PAN", TODAY, hold_at=1, hold_now=False)
    assert ExtractionStore(Database(tmp_path / "node.sqlite3")).standing("PAN", TODAY) == (1, True)


def test_retention_purges_the_guard_days_past_each_partner_period(
    database: Database, store: ExtractionStore
) -> None:
    for partner in ("PAN", "MEX", "USA"):
        for age in (0, 29, 31, 89, 91):
            day = TODAY - dt.timedelta(days=age)
            with database.transaction():
                store.count_hits(partner, day, ["W-1"], limit=10)
            store.strike(partner, day, hold_at=5, hold_now=False)
    result = run_retention(
        database,
        AuditLog(database),
        exchanged_data_days={"PAN": 90, "MEX": 30},
        audit_days=730,
        now=NOW,
    )
    kept = {
        partner: [
            age
            for age in (0, 29, 31, 89, 91)
            if store.standing(partner, TODAY - dt.timedelta(days=age))[0]
        ]
        for partner in ("PAN", "MEX", "USA")
    }
    # A partner no agreement names any more gets the shortest period (30 days).
    assert kept == {"PAN": [0, 29, 31, 89], "MEX": [0, 29], "USA": [0, 29]}
    assert store.hits("PAN", TODAY - dt.timedelta(days=91), "W-1") == 0
    assert store.hits("PAN", TODAY - dt.timedelta(days=89), "W-1") == 1
    assert result.guard_days == 2 * (1 + 3 + 3)


def test_an_opened_node_holds_the_store(pair_dirs: tuple[Path, Path]) -> None:
    node = Node.open(pair_dirs[0])
    try:
        assert isinstance(node.extraction, ExtractionStore)
        assert node.extraction.standing("PAN", TODAY) == (0, False)
    finally:
        node.close()
