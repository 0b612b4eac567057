"""A worker pass on a leased outbox (several processes of one node) that is told to
stop halfway through its partners: what it did not send is due again at once, what
it already settled keeps its back-off (real stores, the real worker)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from biometric_exchange.agreement.policy import scope_facts
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
    sendable = [
        encounter
        for encounter in dataset.encounters["PAN"]
        if all(
            link.policy.scope_refusal(
                scope_facts(encounter.person, encounter.encountered_at.date()), link.purpose
            )
            is None
            for link in panama.links()
        )
    ][:2]
    assert len(sendable) == 2
    for encounter in sendable:
        enrol(panama, encounter)
    now = panama.clock() + 1
    panama.outbox = Outbox(panama.database, lambda: now, lease_ms=LEASE_MS)
    stop, called = threading.Event(), []
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
