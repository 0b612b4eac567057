"""A worker pass on a leased outbox (several processes of one node) that is told to
stop halfway through its partners: what it did not send is due again at once, what
it already settled keeps its back-off (real stores, the real worker)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.services import Services
from biometric_exchange.store.outbox import Outbox
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import create_federation
from tests.wiring import Reply, Request

pytestmark = pytest.mark.integration

LEASE_MS = 30_000


class UnreachableThenStop:
    """A partner that cannot be reached; its first call also asks the worker to stop
    (as SIGTERM arriving while the pass sends)."""

    def __init__(self, stop: threading.Event, called: list[str], partner: str) -> None:
        self._stop, self._called, self._partner = stop, called, partner

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        self._called.append(self._partner)
        self._stop.set()
        raise PartnerUnavailable(f"partner unavailable: UNAVAILABLE ({rpc.name} in a test)")

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def panama(tmp_path: Path) -> Iterator[Node]:
    node = Node.open(create_federation(tmp_path)["PAN"])
    try:
        yield node
    finally:
        node.database.close()


def test_a_stop_while_sending_releases_only_the_partners_not_reached(
    panama: Node, dataset: DemoDataset
) -> None:
    sendable = _sendable(panama, dataset, 2)
    for encounter in sendable:
        enrol(panama, encounter)
    now = panama.clock() + 1
    panama.outbox = Outbox(panama.database, lambda: now, lease_ms=LEASE_MS)
    stop, called = threading.Event(), list[str]()
    worker = ExchangeWorker(
        panama,
        Services.of(panama),
        {code: UnreachableThenStop(stop, called, code) for code in ("CHL", "MEX")},
        stop=stop,
    )

    assert worker.run_once() == 4
    (reached,) = called  # the stop came before the second partner was sent to
    (not_reached,) = {"CHL", "MEX"} - {reached}
    # The reached partner's items back off as an unreachable partner's do; the other's
    # claims are given back, due now.
    assert {item.partner for item in panama.outbox.due()} == {not_reached}
    backed_off = [panama.outbox.get(e.encounter_id, reached) for e in sendable]
    assert all(item is not None and item.attempts == 1 for item in backed_off)


class SlowThenOvertaken:
    """A partner that answers so late that the pass's leases run out meanwhile, and
    another process of the node claims what is due (as ``claim`` does after a lease)."""

    def __init__(self, now: list[int], other: Outbox, called: list[str], partner: str) -> None:
        self._now, self._other, self._called, self._partner = now, other, called, partner
        self.overtaken: list[tuple[str, str]] = []

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        self._called.append(self._partner)
        if not self.overtaken:
            self._now[0] += LEASE_MS + 1
            self.overtaken = [(i.encounter_id, i.partner) for i in self._other.claim()]
        raise PartnerUnavailable(f"partner unavailable: UNAVAILABLE ({rpc.name} in a test)")

    def close(self) -> None:
        """Nothing to release."""


def _sendable(panama: Node, dataset: DemoDataset, count: int) -> list[Encounter]:
    found = [
        encounter
        for encounter in dataset.encounters["PAN"]
        if all(
            link.policy.scope_refusal(
                scope_facts(encounter.person, encounter.encountered_at.date()), link.purpose
            )
            is None
            for link in panama.links()
        )
    ][:count]
    assert len(found) == count
    return found


def test_items_whose_lease_ran_out_before_their_turn_are_not_sent_twice(
    panama: Node, dataset: DemoDataset
) -> None:
    for encounter in _sendable(panama, dataset, 2):
        enrol(panama, encounter)
    now = [panama.clock() + 1]
    panama.outbox = Outbox(panama.database, lambda: now[0], lease_ms=LEASE_MS)
    other = Outbox(panama.database, lambda: now[0], lease_ms=LEASE_MS)
    called: list[str] = []
    transports = {code: SlowThenOvertaken(now, other, called, code) for code in ("CHL", "MEX")}
    worker = ExchangeWorker(panama, Services.of(panama), transports, stop=threading.Event())

    assert worker.run_once() == 4
    (first,) = called  # the second partner's items were the other process's by its turn
    (second,) = {"CHL", "MEX"} - {first}
    overtaken = transports[first].overtaken
    assert {partner for _, partner in overtaken} == {"CHL", "MEX"}
    # The other process still holds the second partner's items: nothing reset its lease.
    assert [i for i in panama.outbox.due() if i.partner == second] == []
    assert all(
        item is not None and item.attempts == 0
        for item in (panama.outbox.get(e, p) for e, p in overtaken if p == second)
    )
