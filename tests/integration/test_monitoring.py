"""Monitoring a running node: its /metrics over HTTP after real calls, reflection v1
over mutual TLS, and the Grafana dashboard's queries against what a node exports.

Panama runs as the node process runs (``run_node``: server, worker, partner checks,
metrics endpoint) in a thread, on a clock the test moves or stops; Chile serves in
this process and is started and stopped by the test, so that Panama sees it down,
then up, then down again.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.domain import AlertStatus, Encounter
from biometric_exchange.exceptions import ExchangeError, PartnerUnavailable
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.metrics import NodeMetrics, serve_metrics
from biometric_exchange.node.process import run_node
from biometric_exchange.node.reachability import ObservedTransport, Outcome, Reachability
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node, system_clock
from biometric_exchange.node.server import EXCHANGE_SERVICE, RunningServer, start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.alerts import AlertFilter
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import server_reflection_pb2 as v1
from biometric_exchange.v1 import server_reflection_pb2_grpc as v1_grpc
from biometric_exchange.workspace import create_pair, free_port
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "biometric-exchange.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class StoppableClock:
    """The system's clock moved on by ``advance``, or stopped at one instant by ``stop_at``."""

    def __init__(self) -> None:
        self.ahead_ms = 0
        self.stopped_ms: int | None = None

    def __call__(self) -> int:
        return self.stopped_ms if self.stopped_ms is not None else system_clock() + self.ahead_ms

    def advance(self, seconds: float) -> None:
        self.ahead_ms += round(seconds * 1000)

    def stop_at(self, moment: dt.datetime) -> None:
        self.stopped_ms = round(moment.timestamp() * 1000)

    def run(self) -> None:
        self.stopped_ms = None


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@dataclass
class Watched:
    """Panama running (its handle for the test's own reads), Chile when serving."""

    panama: Node
    chile: Node
    clock: StoppableClock
    panama_port: int
    chile_metrics: NodeMetrics
    chile_port: int
    chile_server: RunningServer | None = None

    def pan(self) -> Samples:
        return scrape(self.panama_port)

    def chl(self) -> Samples:
        return scrape(self.chile_port)

    def start_chile(self) -> None:
        self.chile_server = start_server(
            self.chile, Services.of(self.chile), interceptors=[self.chile_metrics.interceptor]
        )
        self.chile_metrics.follow_tls(self.chile_server.credentials)

    def stop_chile(self) -> None:
        if self.chile_server is not None:
            self.chile_server.stop(0)
            self.chile_server = None


def _settled(node: Node, encounters: list[Encounter]) -> bool:
    items = [node.outbox.get(e.encounter_id) for e in encounters]
    return all(item is not None and item.state is not OutboxState.PENDING for item in items)


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset) -> Iterator[Watched]:
    chile_dir, panama_dir = create_pair(tmp_path_factory.mktemp("watched"))
    panama_port = free_port()
    with (panama_dir / CONFIG_FILENAME).open("a", encoding="utf-8") as config:
        config.write(f'\n[metrics]\nlisten = "127.0.0.1:{panama_port}"\n')
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    chile.records.add_watchlist(dataset.watchlists["CHL"])
    panama.records.add_watchlist(dataset.watchlists["PAN"])
    chile_metrics = NodeMetrics(chile)
    endpoint = serve_metrics("127.0.0.1:0", chile_metrics.registry)
    clock, stop = StoppableClock(), threading.Event()
    thread = threading.Thread(
        target=run_node, args=(panama_dir,), kwargs={"stop": stop, "clock": clock}, daemon=True
    )
    thread.start()
    watching = Watched(panama, chile, clock, panama_port, chile_metrics, endpoint.port)
    try:
        yield watching
    finally:
        stop.set()
        thread.join(timeout=30)
        watching.stop_chile()
        endpoint.stop()
        chile.database.close()
        panama.database.close()


def _up(watched: Watched, expected: float) -> bool:
    try:
        return value(watched.pan(), "bx_partner_up", partner="CHL") == expected
    except OSError:  # the endpoint is not listening yet
        return False


def test_a_partner_down_and_the_age_of_what_waits_for_it(
    watched: Watched, dataset: DemoDataset
) -> None:
    eventually(lambda: _up(watched, 0), timeout=30)  # the first partner check failed
    encounters = list(dataset.encounters["PAN"])
    for encounter in encounters:
        enrol(watched.panama, encounter)
    rows = watched.panama.database.connection.execute(
        "SELECT enrolled_at FROM encounters ORDER BY enrolled_at LIMIT 1"
    ).fetchall()
    oldest = dt.datetime.fromisoformat(rows[0][0])

    watched.clock.stop_at(oldest + dt.timedelta(seconds=90))
    try:
        samples = watched.pan()
    finally:
        watched.clock.run()
    age = value(samples, "bx_outbox_oldest_pending_age_seconds", partner="CHL")
    assert age == pytest.approx(90.0, abs=0.001)
    assert value(samples, "bx_outbox_pending", partner="CHL") == len(encounters)
    assert value(samples, "bx_partner_up", partner="CHL") == 0


def test_a_partner_up_once_it_answers_and_the_outbox_empties(
    watched: Watched, dataset: DemoDataset
) -> None:
    watched.start_chile()
    watched.clock.advance(61)  # past any back-off: every item is due now
    encounters = list(dataset.encounters["PAN"])
    eventually(lambda: _settled(watched.panama, encounters), timeout=60)
    samples = watched.pan()
    assert value(samples, "bx_partner_up", partner="CHL") == 1
    assert value(samples, "bx_outbox_oldest_pending_age_seconds", partner="CHL") == 0
    assert value(samples, "bx_outbox_pending", partner="CHL") == 0


def test_a_refusal_is_an_answer_and_no_answer_is_down(watched: Watched) -> None:
    """What ``bx_partner_up`` is made of, over real mTLS: Chile refuses an envelope that
    does not open (UNAUTHENTICATED: up); a port nobody serves does not answer (down)."""
    reachability = Reachability(lambda: 0.0)
    link = watched.panama.link("CHL")
    refusing = ObservedTransport(GrpcPeerTransport(link), "CHL", reachability)
    nobody = ObservedTransport(
        GrpcPeerTransport(link, endpoint=f"127.0.0.1:{free_port()}"), "NOBODY", reachability
    )
    try:
        with pytest.raises(ExchangeError):
            refusing.call(IDENTIFY, pb.SealedEnvelope(), timeout=5)
        with pytest.raises(PartnerUnavailable):
            nobody.call(IDENTIFY, pb.SealedEnvelope(), timeout=5)
    finally:
        refusing.close()
        nobody.close()
    refused = reachability.last("CHL")
    assert refused is not None and refused.up  # the holder's refusal code is an answer
    assert refused.reason not in {"OK", "UNAVAILABLE", "DEADLINE_EXCEEDED"}
    assert reachability.last("NOBODY") == Outcome(False, 0.0, "UNAVAILABLE")


def _oldest_new_by_queue(node: Node) -> dict[str, dt.datetime]:
    oldest: dict[str, dt.datetime] = {}
    for alert in node.alerts.list(AlertFilter(open_only=True)):
        if alert.status is AlertStatus.NEW:
            queue = alert.queue.value
            oldest[queue] = min(oldest.get(queue, alert.created_at), alert.created_at)
    return oldest


def test_the_oldest_unacknowledged_alert_ages_until_an_officer_acknowledges_it(
    watched: Watched,
) -> None:
    from biometric_exchange.alerts.review import AlertReview

    panama = watched.panama
    eventually(lambda: "enforcement" in _oldest_new_by_queue(panama), timeout=30)
    first = _oldest_new_by_queue(panama)["enforcement"]
    at = first + dt.timedelta(hours=2)
    watched.clock.stop_at(at)
    try:
        before = watched.pan()
        oldest = next(
            a
            for a in panama.alerts.list(AlertFilter(open_only=True))
            if a.status is AlertStatus.NEW and a.created_at == first
        )
        AlertReview(panama.database, panama.audit).acknowledge(oldest.alert_id, "officer-017")
        after = watched.pan()
    finally:
        watched.clock.run()
    queue = {"queue": "enforcement"}
    assert value(before, "bx_alert_oldest_unacknowledged_age_seconds", **queue) == pytest.approx(
        7200.0, abs=0.001
    )
    remaining = _oldest_new_by_queue(panama).get("enforcement")
    expected = 0.0 if remaining is None else (at - remaining).total_seconds()
    assert value(after, "bx_alert_oldest_unacknowledged_age_seconds", **queue) == pytest.approx(
        expected, abs=0.001
    )
    assert (
        value(after, "bx_alert_oldest_unacknowledged_age_seconds", queue="protection") is not None
    )


def test_served_calls_under_the_names_stock_grpc_dashboards_query(watched: Watched) -> None:
    samples = watched.chl()
    replies = [e for e in watched.chile.audit.entries() if e.event == "identify.reply_sent"]
    identify = {
        "grpc_type": "unary",
        "grpc_service": EXCHANGE_SERVICE,
        "grpc_method": "Identify",
    }
    handled = value(samples, "grpc_server_handled_total", **identify, grpc_code="OK")
    assert handled == len(replies) > 0
    ours = value(
        samples,
        "bx_grpc_server_handled_total",
        service=EXCHANGE_SERVICE,
        method="Identify",
        code="OK",
    )
    assert ours == handled  # the project's first names still count the same calls
    every_code = sum(
        count
        for (name, labels), count in samples.items()
        if name == "grpc_server_handled_total" and set(identify.items()) <= set(labels)
    )
    assert every_code >= handled
    for name in (
        "grpc_server_started_total",
        "grpc_server_msg_received_total",
        "grpc_server_handling_seconds_count",
    ):
        assert value(samples, name, **identify) == every_code, name
    assert value(samples, "grpc_server_msg_sent_total", **identify) == handled  # replies sent
    ping = {**identify, "grpc_method": "Ping"}
    assert (value(samples, "grpc_server_handled_total", **ping, grpc_code="OK") or 0) >= 1


def test_process_metrics_are_on_the_node_registry(watched: Watched) -> None:
    samples = watched.pan()
    names = {name for name, _labels in samples}
    assert (value(samples, "process_cpu_seconds_total") or 0) > 0
    assert (value(samples, "process_open_fds") or 0) > 0
    assert (value(samples, "process_resident_memory_bytes") or 0) > 0
    assert "python_info" in names and "python_gc_collections_total" in names


def _v1_stub(caller: Node, server: Node) -> tuple[grpc.Channel, v1_grpc.ServerReflectionStub]:
    channel = grpc.secure_channel(
        server.config.node.listen,
        channel_credentials(caller, server.keys.ca_certificate_pem),
        options=channel_options(),
    )
    return channel, v1_grpc.ServerReflectionStub(channel)


def test_reflection_v1_answers_over_mutual_tls(watched: Watched) -> None:
    panama = watched.panama
    channel, stub = _v1_stub(panama, panama)  # our own operators' certificate
    with channel:
        requests = [
            v1.ServerReflectionRequest(list_services=""),
            v1.ServerReflectionRequest(file_containing_symbol=EXCHANGE_SERVICE),
            v1.ServerReflectionRequest(
                file_containing_symbol="grpc.reflection.v1.ServerReflection"
            ),
            v1.ServerReflectionRequest(file_containing_symbol="no.such.Service"),
        ]
        listed, exchange, itself, missing = list(
            stub.ServerReflectionInfo(iter(requests), timeout=10)
        )
    names = {service.name for service in listed.list_services_response.service}
    assert names == {
        EXCHANGE_SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in exchange.file_descriptor_response.file_descriptor_proto
    ]
    (declaring,) = [f for f in files if f.package == "biometric_exchange.v1"]
    assert declaring.name == "biometric_exchange/v1/exchange.proto"
    assert "Identify" in {m.name for s in declaring.service for m in s.method}
    assert exchange.original_request.file_containing_symbol == EXCHANGE_SERVICE
    (own,) = itself.file_descriptor_response.file_descriptor_proto
    assert descriptor_pb2.FileDescriptorProto.FromString(own).package == "grpc.reflection.v1"
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_reflection_v1_refuses_a_client_without_a_trusted_certificate(watched: Watched) -> None:
    stranger_dir, _ = create_pair(watched.panama.node_dir.parent / "strangers")
    stranger = Node.open(stranger_dir)  # a CA Panama trusts nowhere
    channel, stub = _v1_stub(stranger, watched.panama)
    try:
        with channel, pytest.raises(grpc.RpcError) as refused:
            list(stub.ServerReflectionInfo(iter([v1.ServerReflectionRequest(list_services="")])))
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        stranger.database.close()


# --- The Grafana dashboard -------------------------------------------------------------------

PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
     "unless", "offset", "inf", "nan"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names or Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)  # $__rate_interval, ${partner}
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, rest = match.group(0), text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_the_promql_reader_finds_metric_names_only() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, grpc_method) "
        "(rate(grpc_server_handling_seconds_bucket"
        '{job=~"$job", grpc_service="x"}[$__rate_interval]))) / on (instance) bx_node_info'
    )
    assert metric_names(expr) == {"grpc_server_handling_seconds_bucket", "bx_node_info"}


def test_every_dashboard_query_reads_metrics_a_running_node_exports(watched: Watched) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["schemaVersion"] >= 39
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    # Panama answers a health check, so that it has served calls of its own to count.
    channel, _stub = _v1_stub(watched.panama, watched.panama)
    with channel:
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    exported = {name for name, _labels in watched.pan()}
    queries = 0
    for panel in _panels(dashboard):
        if panel.get("type") == "row":
            continue
        assert panel["datasource"]["uid"] == "${" + variable["name"] + "}", panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, f"{panel['title']}: no metric in {target['expr']!r}"
            assert names <= exported, f"{panel['title']}: not exported: {names - exported}"
            queries += 1
    assert queries >= 10
    for templated in dashboard["templating"]["list"]:
        if templated["type"] == "query":  # label_values(<metric>{…}, <label>)
            read = re.fullmatch(r"label_values\((\w+)\W.*", templated["definition"])
            assert read is not None and read.group(1) in exported, templated["name"]


def test_a_partner_that_stops_answering_is_down_at_the_next_check(watched: Watched) -> None:
    """Runs last: stops Chile. Panama's next partner check (due 30 s after the last
    answer on its clock, moved on here) finds no answer."""
    watched.stop_chile()
    watched.clock.advance(31)
    eventually(lambda: _up(watched, 0), timeout=30)
