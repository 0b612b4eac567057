"""The PostgreSQL store when something goes wrong: a writer that waited too long for
the node's write lock, a URL the server's client library cannot read, and outbox
leases that run out (a slow process, a slow call).

Real PostgreSQL (the session's throwaway cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.store.backend import open_database
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import ADVISORY_WRITE_LOCK
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.store.postgres import connect
from biometric_exchange.store.records import RecordStore
from tests.unit.test_store import DATA_KEY, make_encounter

pytestmark = pytest.mark.integration

SECRET = "s3cret-Pa55"
LEASE_MS = 30_000


@pytest.fixture
def two(pg_cluster: Any, tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two processes' databases on one PostgreSQL database."""
    url = str(pg_cluster.new_url())
    first = open_database(tmp_path / "a" / "node.sqlite3", url)
    second = open_database(tmp_path / "b" / "node.sqlite3", url)
    yield first, second
    first.close()
    second.close()


def test_a_writer_that_timed_out_on_the_write_lock_can_write_at_its_next_call(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    first.connection.execute("SET lock_timeout = '50ms'")
    with (
        second.transaction(),  # another process holds the node's write lock
        pytest.raises(psycopg.errors.LockNotAvailable),
        first.transaction() as connection,
    ):
        connection.execute("INSERT INTO meta (key, value) VALUES ('never', 'x')")
    assert not first.connection.in_transaction
    with first.transaction() as connection:
        connection.execute("INSERT INTO meta (key, value) VALUES ('later', 'x')")
    (value,) = second.connection.execute("SELECT value FROM meta WHERE key = 'later'").fetchone()
    assert value == "x"
    assert second.connection.execute("SELECT 1 FROM meta WHERE key = 'never'").fetchone() is None
    # And the lock went with the failed transaction: the other process writes at once.
    (free,) = second.connection.execute(
        "SELECT pg_try_advisory_lock(?)", (ADVISORY_WRITE_LOCK,)
    ).fetchone()
    assert free
    second.connection.execute("SELECT pg_advisory_unlock(?)", (ADVISORY_WRITE_LOCK,))


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://bx:{SECRET}%zz@127.0.0.1:1/db",  # a bad percent-escape
        f"postgresql://bx:{SECRET}@[::1/db",  # an unclosed IPv6 bracket
        f"postgresql://bx:{SECRET}@127.0.0.1:1/db",  # nobody listening
    ],
)
def test_a_url_that_cannot_connect_keeps_its_password_out_of_the_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"\[store\] url: cannot connect") as raised:
        connect(url)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(raised.value.__cause__)


def test_a_claim_another_process_took_after_the_lease_is_neither_renewed_nor_released(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    records = RecordStore(first, DATA_KEY, "PAN")
    with first.transaction() as connection:
        for number, encounter_id in enumerate(("ENC-1", "ENC-2")):
            records.insert_encounter(connection, make_encounter(encounter_id, seed=number))
            Outbox.enqueue(connection, encounter_id, ["CHL"])
    now = [1_000_000]
    slow = Outbox(first, lambda: now[0], lease_ms=LEASE_MS)
    other = Outbox(second, lambda: now[0], lease_ms=LEASE_MS)
    claimed = slow.claim()
    assert len(claimed) == 2
    now[0] += LEASE_MS + 1
    assert [i.encounter_id for i in other.claim(limit=1)] == ["ENC-1"]
    assert [i.encounter_id for i in slow.renew(claimed)] == ["ENC-2"]
    slow.release(claimed)
    # ENC-2 given back, due now; ENC-1 left as the other process holds it.
    assert [i.encounter_id for i in other.claim()] == ["ENC-2"]


def _one_item(database: Database, encounter_id: str, seed: int) -> None:
    with database.transaction() as connection:
        RecordStore(database, DATA_KEY, "PAN").insert_encounter(
            connection, make_encounter(encounter_id, seed=seed)
        )
        Outbox.enqueue(connection, encounter_id, ["CHL"])


SHORT_LEASE_MS = 2_000
CALL_MS = 15_000


def test_a_renewal_for_a_call_outlasts_a_shorter_lease(two: tuple[Database, Database]) -> None:
    """Items about to be sent stay leased past the call's deadline, so a call slower
    than ``claim_lease_s`` cannot let another process send them too."""
    first, second = two
    _one_item(first, "ENC-1", 1)
    now = [1_000_000]
    sender = Outbox(first, lambda: now[0], lease_ms=SHORT_LEASE_MS)
    other = Outbox(second, lambda: now[0], lease_ms=SHORT_LEASE_MS)
    claimed = sender.claim()
    assert [item.encounter_id for item in sender.renew(claimed, at_least_ms=CALL_MS)] == ["ENC-1"]
    now[0] += SHORT_LEASE_MS * 3  # the claim lease alone would have run out by now
    assert other.claim() == []
    now[0] += CALL_MS  # the call's lease too: the item goes to whoever claims it
    assert [item.encounter_id for item in other.claim()] == ["ENC-1"]
    assert sender.renew(claimed, at_least_ms=CALL_MS) == []  # no longer the sender's


def test_a_renewal_shorter_than_the_lease_keeps_the_lease(
    two: tuple[Database, Database],
) -> None:
    first, second = two
    _one_item(first, "ENC-2", 2)
    now = [2_000_000]
    sender = Outbox(first, lambda: now[0], lease_ms=SHORT_LEASE_MS)
    other = Outbox(second, lambda: now[0], lease_ms=SHORT_LEASE_MS)
    assert len(sender.renew(sender.claim(), at_least_ms=SHORT_LEASE_MS // 4)) == 1
    now[0] += SHORT_LEASE_MS - 1
    assert other.claim() == []
    now[0] += 2
    assert [item.encounter_id for item in other.claim()] == ["ENC-2"]
