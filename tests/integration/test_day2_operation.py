"""Day-2 operation of a running node: one partner's trouble never holds up
another's items, a worker pass stops when told or when its time is up, items
are taken in turn across partners, one process per folder, and connections
refused at the TLS layer are counted (real stores, real gRPC with mTLS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from biometric_exchange.agreement.document import parse
from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.crypto import pki
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.live import LiveConfiguration
from biometric_exchange.node.metrics import NodeMetrics
from biometric_exchange.node.presence import Presence, RunningState, is_serving, read_state
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node, agreement_files
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.services import Services
from biometric_exchange.node.tls import TLS_SERVER_NAME
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import create_federation
from tests.wiring import Reply, Request, in_memory, serving

pytestmark = pytest.mark.integration


class Broken:
    """A transport whose every call fails with an error nobody planned for."""

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        raise RuntimeError(f"{rpc.name}: a fault in a test")

    def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def corridor(tmp_path: Path) -> Iterator[dict[str, Node]]:
    folders = create_federation(tmp_path)
    nodes = {country: Node.open(folder) for country, folder in folders.items()}
    try:
        yield nodes
    finally:
        for node in nodes.values():
            node.database.close()


def _sendable(panama: Node, dataset: DemoDataset, count: int) -> list[Encounter]:
    """``count`` of Panama's encounters that both its agreements let it send."""
    found = []
    for encounter in dataset.encounters["PAN"]:
        facts = scope_facts(encounter.person, encounter.encountered_at.date())
        if all(link.policy.scope_refusal(facts, link.purpose) is None for link in panama.links()):
            found.append(encounter)
    assert len(found) >= count
    return found[:count]


def test_one_partners_failure_leaves_the_other_partners_items_flowing(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    panama, mexico = corridor["PAN"], corridor["MEX"]
    encounters = _sendable(panama, dataset, 3)
    for encounter in encounters:
        enrol(panama, encounter)
    worker = ExchangeWorker(
        panama, Services.of(panama), {"CHL": Broken(), "MEX": in_memory(mexico, "PAN")}
    )

    taken = worker.run_once()

    assert taken == 6
    for encounter in encounters:
        to_mexico = panama.outbox.get(encounter.encounter_id, "MEX")
        to_chile = panama.outbox.get(encounter.encounter_id, "CHL")
        assert to_mexico is not None and to_mexico.state is OutboxState.DONE
        assert to_chile is not None and to_chile.state is OutboxState.PENDING
        assert to_chile.attempts == 1 and to_chile.last_error == "not sent: internal error"
    assert panama.outbox.due() == []  # backed off: the fault does not spin the worker


def test_worker_stops_between_items_when_told(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    panama = corridor["PAN"]
    for encounter in _sendable(panama, dataset, 2):
        enrol(panama, encounter)
    stop = threading.Event()
    worker = ExchangeWorker(panama, Services.of(panama), {}, stop=stop)
    stop.set()  # as SIGTERM does, through the event the node process passes in

    assert worker.run_once() == 0
    assert all(item.attempts == 0 for item in panama.outbox.due())


def test_a_pass_takes_no_more_items_once_its_time_budget_is_spent(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    panama, mexico, chile = corridor["PAN"], corridor["MEX"], corridor["CHL"]
    for encounter in _sendable(panama, dataset, 5):
        enrol(panama, encounter)
    ticks = iter(range(1000))  # each look at the clock is one second later
    worker = ExchangeWorker(
        panama,
        Services.of(panama),
        {"CHL": in_memory(chile, "PAN"), "MEX": in_memory(mexico, "PAN")},
        budget_s=3.5,
        monotonic=lambda: float(next(ticks)),
    )

    taken = worker.run_once()

    assert taken == 3  # the clock read 1, 2, 3 before items; 4 is past the budget
    states = [item.state for item in panama.outbox.due()]
    assert len(states) == 10 - taken and set(states) == {OutboxState.PENDING}


def test_items_are_taken_in_turn_across_partners(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    panama = corridor["PAN"]
    encounters = _sendable(panama, dataset, 6)
    for encounter in encounters:
        enrol(panama, encounter)
    # Chile's items all fall due first: a long backlog ahead of Mexico's.
    with panama.database.transaction() as connection:
        connection.execute("UPDATE outbox SET next_attempt_at_ms = 1 WHERE partner = 'CHL'")
        connection.execute("UPDATE outbox SET next_attempt_at_ms = 2 WHERE partner = 'MEX'")

    taken = panama.outbox.due(limit=4)

    assert [item.partner for item in taken] == ["CHL", "MEX", "CHL", "MEX"]


def test_a_second_process_on_the_same_folder_is_refused(corridor: dict[str, Node]) -> None:
    folder = corridor["CHL"].node_dir
    assert not is_serving(folder) and read_state(folder) is None
    with Presence.claim(folder) as presence:
        presence.publish(RunningState(pid=4242, started_ms=1, listen="x:1", agreements={}))
        assert is_serving(folder)
        assert read_state(folder) == RunningState(4242, 1, "x:1", {})
        refused = pytest.raises(ConfigError, match=r"already serves this folder \(pid 4242\)")
        with refused, Presence.claim(folder):
            pass
    assert not is_serving(folder) and read_state(folder) is None


def _health_with(endpoint: str, server_ca: bytes, key_pem: bytes, certificate_pem: bytes) -> str:
    """Ask ``endpoint``'s health service, presenting the given client certificate."""
    credentials = grpc.ssl_channel_credentials(server_ca, key_pem, certificate_pem)
    with grpc.secure_channel(
        endpoint, credentials, options=[("grpc.ssl_target_name_override", TLS_SERVER_NAME)]
    ) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.RpcError as error:
            return str(error.code().name)
    return "OK"


def test_connections_refused_at_the_tls_layer_are_counted_in_metrics(
    corridor: dict[str, Node],
) -> None:
    chile, panama = corridor["CHL"], corridor["PAN"]
    metrics = NodeMetrics(chile)
    stranger = pki.issue_node_certificate(pki.create_ca("ARG"), "node_stranger", "ARG")
    with serving(chile, interceptors=[metrics.interceptor]) as served:
        metrics.follow_tls(served.server.credentials)
        endpoint, server_ca = served.endpoint, chile.keys.ca_certificate_pem
        refused = [
            _health_with(endpoint, server_ca, stranger.key_pem(), stranger.certificate_pem())
            for _ in range(3)
        ]
        accepted = _health_with(
            endpoint, server_ca, panama.keys.tls_key_pem, panama.keys.tls_certificate_pem
        )

    assert refused == ["UNAVAILABLE"] * 3 and accepted == "OK"
    value = metrics.registry.get_sample_value
    assert value("bx_tls_connections_with_calls_total") == 1
    assert value("bx_tls_connections_total") == 4
    assert value("bx_tls_connections_refused") == 3


def test_items_wait_for_an_agreement_on_disk_and_never_drop_on_a_broken_install(
    tmp_path: Path,
) -> None:
    folders = create_federation(tmp_path)
    chile_dir = folders["CHL"]
    mexico_file = next(
        path for path in agreement_files(chile_dir) if parse(path).partner_of("CHL").code == "MEX"
    )
    kept = mexico_file.read_bytes()
    mexico_file.unlink()
    config = chile_dir / "node.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[node]\n", "[node]\nwatch_agreements = false\n", 1
        ),
        encoding="utf-8",
    )
    chile = Node.open(chile_dir)
    try:
        live = LiveConfiguration(chile)
        assert not live.awaits("MEX")  # no agreement on disk: revoked, not waited for
        mexico_file.write_bytes(kept)
        assert live.awaits("MEX")  # on disk, not loaded: the item waits
        panama_file = next(
            p for p in agreement_files(chile_dir) if parse(p).partner_of("CHL").code == "PAN"
        )
        panama_file.write_text("not an agreement", encoding="utf-8")
        assert live.awaits("ARG")  # the files do not load: wait rather than drop
        assert chile.partner_codes == ["PAN"]  # nothing loaded without a request
    finally:
        chile.database.close()
