"""Items about to be sent stay leased past the call's deadline (shared store), so a
call slower than ``claim_lease_s`` cannot let another process send them too.

Real PostgreSQL (the session's throwaway cluster); the clock is injected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biometric_exchange.store.backend import open_database
from biometric_exchange.store.database import Database
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.store.records import RecordStore
from tests.unit.test_store import DATA_KEY, make_encounter

pytestmark = pytest.mark.integration

LEASE_MS = 2_000
CALL_MS = 15_000


@pytest.fixture
def two(pg_cluster: Any, tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two processes' databases on one PostgreSQL database."""
    url = str(pg_cluster.new_url())
    first = open_database(tmp_path / "a" / "node.sqlite3", url)
    second = open_database(tmp_path / "b" / "node.sqlite3", url)
    yield first, second
    first.close()
    second.close()


def test_a_renewal_for_a_call_outlasts_a_shorter_lease(two: tuple[Database, Database]) -> None:
    first, second = two
    with first.transaction() as connection:
        RecordStore(first, DATA_KEY, "PAN").insert_encounter(
            connection, make_encounter("ENC-1", seed=1)
        )
        Outbox.enqueue(connection, "ENC-1", ["CHL"])
    now = [1_000_000]
    sender = Outbox(first, lambda: now[0], lease_ms=LEASE_MS)
    other = Outbox(second, lambda: now[0], lease_ms=LEASE_MS)
    claimed = sender.claim()
    assert [item.encounter_id for item in sender.renew(claimed, at_least_ms=CALL_MS)] == ["ENC-1"]

    now[0] += LEASE_MS * 3  # the claim lease alone would have run out by now
    assert other.claim() == []
    now[0] += CALL_MS  # the call's lease too: the item goes to whoever claims it
    assert [item.encounter_id for item in other.claim()] == ["ENC-1"]
    assert sender.renew(claimed, at_least_ms=CALL_MS) == []  # and is no longer the sender's


def test_a_shorter_renewal_keeps_the_claim_lease(two: tuple[Database, Database]) -> None:
    first, second = two
    with first.transaction() as connection:
        RecordStore(first, DATA_KEY, "PAN").insert_encounter(
            connection, make_encounter("ENC-2", seed=2)
        )
        Outbox.enqueue(connection, "ENC-2", ["CHL"])
    now = [2_000_000]
    sender = Outbox(first, lambda: now[0], lease_ms=LEASE_MS)
    other = Outbox(second, lambda: now[0], lease_ms=LEASE_MS)
    claimed = sender.claim()
    assert len(sender.renew(claimed, at_least_ms=LEASE_MS // 4)) == 1
    now[0] += LEASE_MS - 1
    assert other.claim() == []
    now[0] += 2
    assert [item.encounter_id for item in other.claim()] == ["ENC-2"]
