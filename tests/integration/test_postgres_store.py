"""The PostgreSQL store with several processes on one database: each ``database``
below is opened on its own connections, as another node process would be.

Real PostgreSQL (the session's throwaway cluster): claims that skip each other's
rows, one audit chain, a shared replay cache and quotas, watchlist changes seen
by another process's index, and migrations applied once and refused when newer."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from biometric_exchange.exceptions import ConfigError, QuotaExceeded
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.store.audit import AuditEvent, AuditLog, AuditOutcome
from biometric_exchange.store.backend import open_database
from biometric_exchange.store.database import Database
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.store.postgres import PostgresDatabase
from biometric_exchange.store.quotas import QuotaKind, Quotas
from biometric_exchange.store.records import RecordStore
from biometric_exchange.store.replay import SqliteReplayGuard
from biometric_exchange.store.schema import MIGRATIONS
from tests.unit.test_store import DATA_KEY, PERSON, make_encounter, make_entry

pytestmark = pytest.mark.integration

LEASE_MS = 30_000


@pytest.fixture
def url(pg_cluster: Any) -> str:
    return str(pg_cluster.new_url())


@pytest.fixture
def two(url: str, tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two processes' databases on one PostgreSQL database."""
    first = open_database(tmp_path / "a" / "node.sqlite3", url)
    second = open_database(tmp_path / "b" / "node.sqlite3", url)
    yield first, second
    first.close()
    second.close()


def _enqueue(database: Database, *ids: str) -> None:
    records = RecordStore(database, DATA_KEY, "PAN")
    with database.transaction() as connection:
        for number, encounter_id in enumerate(ids):
            records.insert_encounter(connection, make_encounter(encounter_id, seed=number))
            Outbox.enqueue(connection, encounter_id, ["CHL"])


def test_a_url_opens_postgresql_and_no_file_is_made(two: tuple[Database, Database]) -> None:
    first, _ = two
    assert isinstance(first, PostgresDatabase) and first.shared
    assert not (first.folder / "node.sqlite3").exists()


def test_claims_of_two_processes_are_disjoint_and_cover_every_item(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    ids = [f"ENC-{n}" for n in range(10)]
    _enqueue(first, *ids)
    clock = lambda: 1_000_000  # noqa: E731
    claimed_a = Outbox(first, clock, lease_ms=LEASE_MS).claim(limit=6)
    claimed_b = Outbox(second, clock, lease_ms=LEASE_MS).claim(limit=6)
    a = {item.encounter_id for item in claimed_a}
    b = {item.encounter_id for item in claimed_b}
    assert len(a) == 6 and len(b) == 4
    assert a.isdisjoint(b) and a | b == set(ids)


def test_a_claim_skips_rows_another_process_holds_instead_of_waiting(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    _enqueue(first, "ENC-1", "ENC-2", "ENC-3")
    with first.transaction(exclusive=False) as connection:
        held = connection.execute(
            "SELECT encounter_id FROM outbox WHERE encounter_id IN ('ENC-1', 'ENC-2') FOR UPDATE"
        ).fetchall()
        assert len(held) == 2
        claimed = Outbox(second, lease_ms=LEASE_MS).claim()
    assert [item.encounter_id for item in claimed] == ["ENC-3"]


def test_a_dead_process_claims_go_to_another_when_the_lease_runs_out(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    _enqueue(first, "ENC-1", "ENC-2")
    now = [1_000_000]
    assert len(Outbox(first, lambda: now[0], lease_ms=LEASE_MS).claim()) == 2
    survivor = Outbox(second, lambda: now[0], lease_ms=LEASE_MS)
    now[0] += LEASE_MS - 1
    assert survivor.claim() == []
    now[0] += 2
    assert {item.encounter_id for item in survivor.claim()} == {"ENC-1", "ENC-2"}


def test_released_claims_are_due_again_at_once(two: tuple[Database, Database]) -> None:
    first, second = two
    _enqueue(first, "ENC-1", "ENC-2")
    mine = Outbox(first, lease_ms=LEASE_MS)
    items = mine.claim()
    mine.release(items[1:])
    assert [i.encounter_id for i in Outbox(second, lease_ms=LEASE_MS).claim()] == ["ENC-2"]


def test_writers_in_two_processes_append_to_one_audit_chain(
    two: tuple[Database, Database],
) -> None:
    logs = [AuditLog(database) for database in two]
    each, threads_per_process = 25, 3

    def write(log: AuditLog) -> None:
        for _ in range(each):
            log.record(AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN")

    threads = [
        threading.Thread(target=write, args=(log,))
        for log in logs
        for _ in range(threads_per_process)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = 2 * threads_per_process * each
    assert logs[0].verify() == logs[1].verify() == total
    entries = logs[1].entries()
    assert [e.seq for e in entries] == sorted({e.seq for e in entries})
    assert all(e.prev_hash == p.entry_hash for p, e in itertools.pairwise(entries))


def test_an_append_that_never_commits_leaves_no_gap(two: tuple[Database, Database]) -> None:
    """A process killed mid-transaction: its entry's number is taken again, and the
    chain still verifies (a database sequence would have skipped it)."""
    database, other = two
    log = AuditLog(database)
    log.record(AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN")

    class Killed(Exception):
        pass

    with pytest.raises(Killed), database.transaction() as connection:
        log.append(connection, AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN")
        raise Killed
    AuditLog(other).record(AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN")
    assert [entry.seq for entry in log.entries()] == [1, 2]
    assert log.verify() == 2


def test_the_replay_cache_is_shared(two: tuple[Database, Database]) -> None:
    first, second = two
    assert SqliteReplayGuard(first, window_ms=60_000).remember("m-1", "PAN", 5_000)
    assert not SqliteReplayGuard(second, window_ms=60_000).remember("m-1", "PAN", 5_000)
    assert SqliteReplayGuard(second, window_ms=60_000).remember("m-2", "PAN", 5_000)


def test_quotas_are_shared(two: tuple[Database, Database]) -> None:
    first, second = two
    day = dt.date(2026, 1, 2)
    Quotas(first).consume(day, "CHL", QuotaKind.PROBES_RECEIVED, 6, 10)
    with pytest.raises(QuotaExceeded, match="6 of 10 used, 5 more asked"):
        Quotas(second).consume(day, "CHL", QuotaKind.PROBES_RECEIVED, 5, 10)
    Quotas(second).consume(day, "CHL", QuotaKind.PROBES_RECEIVED, 4, 10)
    assert Quotas(first).used(day, "CHL", QuotaKind.PROBES_RECEIVED) == 10


def test_a_watchlist_change_in_one_process_reaches_the_other_s_index(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    RecordStore(first, DATA_KEY, "CHL").add_watchlist([make_entry("W-1", seed=3)])
    index = WatchlistIndex(RecordStore(second, DATA_KEY, "CHL"), shared_dir=None)
    probe = make_entry("W-2", seed=4)
    assert index.search([probe.template], threshold=0.01, max_candidates=1) == [[]]
    RecordStore(first, DATA_KEY, "CHL").add_watchlist([probe])
    (found,) = index.search([probe.template], threshold=0.01, max_candidates=1)
    assert [match.entry_id for match in found] == ["W-2"]


def test_processes_starting_at_once_apply_each_migration_once(url: str, tmp_path: Path) -> None:
    opened: list[Database] = []
    failures: list[BaseException] = []

    def start(number: int) -> None:
        try:
            opened.append(open_database(tmp_path / str(number) / "node.sqlite3", url))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    (version,) = opened[0].connection.execute("SELECT version FROM schema_version").fetchall()
    assert version[0] == len(MIGRATIONS)
    for database in opened:
        database.close()


def test_a_newer_schema_is_refused(url: str, tmp_path: Path) -> None:
    database = open_database(tmp_path / "node.sqlite3", url)
    with database.transaction() as connection:
        connection.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    database.close()
    with pytest.raises(ConfigError, match=f"schema version {len(MIGRATIONS) + 1} is newer"):
        open_database(tmp_path / "again" / "node.sqlite3", url)


def test_an_unreachable_server_names_the_store_url(tmp_path: Path, pg_cluster: Any) -> None:
    wrong = pg_cluster.url("no_such_database")
    with pytest.raises(ConfigError, match=r"\[store\] url: cannot connect"):
        open_database(tmp_path / "node.sqlite3", wrong)


def test_names_documents_and_birth_dates_reach_postgresql_only_sealed(
    two: tuple[Database, Database],
) -> None:
    first, _ = two
    records = RecordStore(first, DATA_KEY, "PAN")
    with first.transaction() as connection:
        records.insert_encounter(connection, make_encounter("ENC-1"))
    encounter = records.encounter("ENC-1")
    assert encounter is not None and encounter.person == PERSON
    clear = [
        PERSON.given_name,
        PERSON.family_name,
        PERSON.document_number,
        PERSON.birth_date.isoformat(),
    ]
    seen = 0
    for table in sorted(first.tables()):
        for row in first.connection.execute(f"SELECT * FROM {table}").fetchall():
            for value in row:
                seen += 1
                if isinstance(value, bytes):
                    assert not any(text.encode() in value for text in clear), table
                elif isinstance(value, str):
                    assert not any(text in value for text in clear), table
    assert seen > 10


def test_a_connection_the_server_ended_is_replaced_at_the_next_call(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    (pid,) = first.connection.execute("SELECT pg_backend_pid()").fetchone()
    second.connection.execute("SELECT pg_terminate_backend(?)", (pid,)).fetchone()
    with pytest.raises(psycopg.OperationalError):
        first.connection.execute("SELECT 1").fetchone()
    assert first.connection.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    (again,) = first.connection.execute("SELECT pg_backend_pid()").fetchone()
    assert again != pid
