"""Operations of running nodes: Prometheus metrics over HTTP, JSON log lines, ``bx status``.

Both nodes run as real processes with JSON logs and a metrics endpoint (Chile
through ``BX_LOG_FORMAT=json``, Panama through ``--log-format json``); Panama
enrols its synthetic encounters and exchanges them with Chile before the tests look.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.metrics import NodeMetrics, serve_metrics
from biometric_exchange.node.probe import reflected_services
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import EXCHANGE_SERVICE, start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.store.alerts import AlertFilter
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from biometric_exchange.workspace import (
    create_pair,
    free_port,
    start_node_process,
    stop_process,
    wait_serving,
)
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
HANDLED = "bx_grpc_server_handled_total"


@dataclass
class ObservedPair:
    chile: Node
    panama: Node
    processes: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    metrics_ports: dict[str, int]
    encounters: list[Encounter]

    def scrape(self, country: str) -> Samples:
        url = f"http://127.0.0.1:{self.metrics_ports[country]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def handled(samples: Samples, method: str, code: str) -> float:
    return value(samples, HANDLED, service=EXCHANGE_SERVICE, method=method, code=code)


def handled_codes(registry: CollectorRegistry, service: str, method: str) -> dict[str, float]:
    """Calls of one method served so far, by status code."""
    return {
        sample.labels["code"]: sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == HANDLED
        and (sample.labels["service"], sample.labels["method"]) == (service, method)
    }


def _add_metrics_section(node_dir: Path, port: int) -> None:
    with (node_dir / CONFIG_FILENAME).open("a", encoding="utf-8") as config:
        config.write(f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')


def _start_with_flag(node_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``bx node run NODE_DIR --log-format json``, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "biometric_exchange.cli", "node", "run", "-n", str(node_dir)]
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [*command, "--log-format", "json"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _settled(node: Node, encounters: list[Encounter]) -> bool:
    items = [node.outbox.get(e.encounter_id) for e in encounters]
    return all(item is not None and item.state is not OutboxState.PENDING for item in items)


@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ObservedPair]:
    workdir = tmp_path_factory.mktemp("observed")
    chile_dir, panama_dir = create_pair(workdir)
    ports = {"CHL": free_port(), "PAN": free_port()}
    _add_metrics_section(chile_dir, ports["CHL"])
    _add_metrics_section(panama_dir, ports["PAN"])
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    chile.records.add_watchlist(dataset.watchlists["CHL"])
    panama.records.add_watchlist(dataset.watchlists["PAN"])
    logs = {"CHL": workdir / "logs" / "chile.log", "PAN": workdir / "logs" / "panama.log"}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BX_LOG_FORMAT", "json")
            processes["CHL"] = start_node_process(chile_dir, logs["CHL"])
        processes["PAN"] = _start_with_flag(panama_dir, logs["PAN"])
        wait_serving(chile_dir, processes["CHL"], timeout=60)
        wait_serving(panama_dir, processes["PAN"], timeout=60)
        encounters = list(dataset.encounters["PAN"])
        for encounter in encounters:
            enrol(panama, encounter)
        eventually(lambda: _settled(panama, encounters), timeout=60)
        yield ObservedPair(chile, panama, processes, logs, ports, encounters)
    finally:
        for process in processes.values():
            stop_process(process)
        chile.database.close()
        panama.database.close()


def test_identify_calls_are_counted_ok_and_timed(observed: ObservedPair) -> None:
    samples = observed.scrape("CHL")
    replies = [e for e in observed.chile.audit.entries() if e.event == "identify.reply_sent"]
    assert handled(samples, "Identify", "OK") == len(replies) > 0
    all_identify_calls = sum(
        count
        for (name, labels), count in samples.items()
        if name == HANDLED and dict(labels)["method"] == "Identify"
    )
    timed = value(
        samples,
        "bx_grpc_server_handling_seconds_count",
        service=EXCHANGE_SERVICE,
        method="Identify",
    )
    assert timed == all_identify_calls
    assert handled(samples, "Ping", "OK") >= 1  # the worker pings before it exchanges


def test_open_alert_gauges_equal_the_alert_stores(observed: ObservedPair) -> None:
    def gauges_match_store(country: str, node: Node) -> bool:
        samples = observed.scrape(country)
        stored = collections.Counter(
            (a.kind.value, a.severity.value) for a in node.alerts.list(AlertFilter(open_only=True))
        )
        assert stored, f"{country} has open alerts after the exchange"
        gauges = {
            (labels["kind"], labels["severity"]): count
            for (name, label_items), count in samples.items()
            if name == "bx_alerts_open" and (labels := dict(label_items))
        }
        return {key: count for key, count in gauges.items() if count} == dict(stored)

    # The surge monitor may raise an alert between a scrape and a look at the store.
    for country, node in (("CHL", observed.chile), ("PAN", observed.panama)):
        eventually(lambda: gauges_match_store(country, node), timeout=10)  # noqa: B023


def test_outbox_depth_and_quota_use_equal_the_stores(observed: ObservedPair) -> None:
    panama, chile = observed.panama, observed.chile
    states: collections.Counter[str] = collections.Counter()
    for encounter in observed.encounters:
        item = panama.outbox.get(encounter.encounter_id)
        assert item is not None
        states[item.state.value] += 1
    pan_samples, chl_samples = observed.scrape("PAN"), observed.scrape("CHL")
    for state in OutboxState:
        assert value(pan_samples, "bx_outbox_items", state=state.value) == states[state.value]
    assert states[OutboxState.DONE.value] > 0

    sent = panama.quotas.used(panama.today(), "CHL", QuotaKind.PROBES_SENT)
    received = chile.quotas.used(chile.today(), "PAN", QuotaKind.PROBES_RECEIVED)
    assert sent == received > 0
    assert value(pan_samples, "bx_quota_used", partner="CHL", kind="probes_sent") == sent
    assert value(chl_samples, "bx_quota_used", partner="PAN", kind="probes_received") == received


def test_refused_calls_are_counted_with_their_status_codes(observed: ObservedPair) -> None:
    chile, panama = observed.chile, observed.panama
    before = observed.scrape("CHL")
    callers = (
        chile,  # our own operators' certificate: not the partner
        panama,  # the partner, with an envelope that does not open
    )
    codes: collections.Counter[str] = collections.Counter()
    for caller in callers:
        channel = grpc.secure_channel(
            chile.config.node.listen,
            channel_credentials(caller, chile.keys.ca_certificate_pem),
            options=channel_options(),
        )
        with channel, pytest.raises(grpc.RpcError) as refused:
            pb_grpc.ExchangeStub(channel).Identify(pb.SealedEnvelope(), timeout=5)
        codes[refused.value.code().name] += 1
    assert codes["UNAUTHENTICATED"] >= 1  # the envelope that does not open
    assert "OK" not in codes
    after = observed.scrape("CHL")
    for code, count in codes.items():
        assert handled(after, "Identify", code) == handled(before, "Identify", code) + count


def test_every_log_line_is_json_with_the_standard_fields(
    observed: ObservedPair, dataset: DemoDataset
) -> None:
    names = {e.person.family_name for e in observed.encounters}
    names |= {e.person.family_name for e in dataset.watchlists["CHL"]}
    for country, path in observed.logs.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines, f"{country} logged nothing"
        documents = [json.loads(line) for line in lines]
        for document in documents:
            assert {"time", "level", "logger", "message"} <= set(document)
            assert document["node"] == country  # every line, every logger
        messages = " ".join(d["message"] for d in documents)
        assert "serving on" in messages and "metrics at http://127.0.0.1:" in messages
        assert not [name for name in names if name in path.read_text(encoding="utf-8")]
        exchanged = [d for d in documents if d.get("event") == "identify.sent"] or [
            d for d in documents if d.get("event") == "identify.reply_sent"
        ]
        assert exchanged, f"{country} logged no exchange"
        for document in exchanged:
            assert len(document["message_id"]) == 32 and document["peer"] in {"CHL", "PAN"}


def _invoke_status(node_dir: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["status", "-n", str(node_dir), *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_status_of_a_running_node(observed: ObservedPair) -> None:
    chile = observed.chile
    code, out, _ = _invoke_status(chile.node_dir)
    assert code == 0
    assert "SERVING" in out and "NOT SERVING" not in out
    assert "partner PAN" in out and "holds the same agreement" in out and "in force" in out

    code, out, _ = _invoke_status(chile.node_dir, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["serving"] is True and document["health"] == "SERVING"
    (partner,) = document["partners"]
    assert partner["partner"] == "PAN" and partner["reachable"] is True
    assert partner["agreement_matches"] is True and partner["status"] == "OK"
    validity = partner["agreement"]
    assert validity["in_force"] is True
    assert validity["agreement_id"] == chile.link("PAN").agreement.id
    assert validity["effective_until"] == chile.link("PAN").terms.effective_until.isoformat()
    open_alerts = chile.alerts.list(AlertFilter(open_only=True))
    assert sum(document["alerts_open"].values()) == len(open_alerts) > 0
    assert document["outbox"] == {state.value: 0 for state in OutboxState}  # Chile sent nothing


def test_status_of_a_stopped_node(tmp_path: Path) -> None:
    chile_dir, _ = create_pair(tmp_path)  # keyed and agreed, never started
    code, out, err = _invoke_status(chile_dir)
    assert code == 1
    assert "NOT SERVING" in out and "unreachable" in out
    assert "node_chile is not serving" in err and "bx node run" in err

    code, out, _ = _invoke_status(chile_dir, "--format", "json", "--timeout", "1")
    assert code == 1
    document = json.loads(out)
    assert document["serving"] is False and document["health"] == "UNREACHABLE"
    assert document["partners"][0]["reachable"] is False
    assert document["partners"][0]["agreement_matches"] is None


def test_in_process_server_counts_each_kind_of_call(pair_dirs: tuple[Path, Path]) -> None:
    """Unary and streaming handlers, refusals and unknown methods, on a real mTLS server."""
    chile, panama = Node.open(pair_dirs[0]), Node.open(pair_dirs[1])
    metrics = NodeMetrics(chile)
    running = start_server(chile, Services.of(chile), interceptors=[metrics.interceptor])
    partner_channel = grpc.secure_channel(
        chile.config.node.listen,
        channel_credentials(panama, chile.keys.ca_certificate_pem),
        options=channel_options(),
    )
    try:
        stub = pb_grpc.ExchangeStub(partner_channel)
        ours = panama.link("CHL").agreement.hash
        stub.Ping(pb.PingRequest(sender="PAN", agreement_hash=ours), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Identify(pb.SealedEnvelope(), timeout=5)
        with pytest.raises(grpc.RpcError) as unknown:
            no_such_method = partner_channel.unary_unary(
                f"/{EXCHANGE_SERVICE}/NoSuchMethod",
                request_serializer=bytes,
                response_deserializer=bytes,
            )
            no_such_method(b"", timeout=5)
        assert unknown.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert "biometric_exchange.v1.Exchange" in reflected_services(chile)  # stream-stream
        watch = health_pb2_grpc.HealthStub(partner_channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING  # unary-stream
        watch.cancel()

        def codes(service: str, method: str) -> dict[str, float]:
            return handled_codes(metrics.registry, service, method)

        assert codes(EXCHANGE_SERVICE, "Ping") == {"OK": 1}
        assert codes(EXCHANGE_SERVICE, "Identify") == {refused.value.code().name: 1}
        assert codes("unknown", "unknown") == {"UNIMPLEMENTED": 1}
        # A stream is counted when it ends: here, when the caller has closed it.
        reflection = eventually(
            lambda: codes("grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo")
        )
        assert sum(reflection.values()) == 1 and set(reflection) <= {"OK", "CANCELLED"}
        watch_codes = eventually(lambda: codes("grpc.health.v1.Health", "Watch"))
        assert watch_codes == {"CANCELLED": 1}
        timed = metrics.registry.get_sample_value(
            "bx_grpc_server_handling_seconds_count", {"service": EXCHANGE_SERVICE, "method": "Ping"}
        )
        assert timed == 1
    finally:
        partner_channel.close()
        running.stop(0)
        chile.database.close()
        panama.database.close()


def test_metrics_endpoint_serves_stops_and_names_a_busy_port(nodes: dict[str, Node]) -> None:
    metrics = NodeMetrics(nodes["CHL"])
    endpoint = serve_metrics("127.0.0.1:0", metrics.registry)
    url = f"http://127.0.0.1:{endpoint.port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"bx_watchlist_entries" in response.read()
        busy = f"127.0.0.1:{endpoint.port}"
        with pytest.raises(ConfigError, match=rf"metrics\.listen: cannot listen on {busy}"):
            serve_metrics(busy, metrics.registry)
    finally:
        endpoint.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_a_stopping_node_logs_json_to_the_end_and_closes_its_endpoint(
    observed: ObservedPair,
) -> None:
    """Runs last: stops Panama. Chile, still serving, then finds its partner unreachable."""
    assert stop_process(observed.processes["PAN"]) == 0
    documents = [
        json.loads(line) for line in observed.logs["PAN"].read_text(encoding="utf-8").splitlines()
    ]
    assert documents[-1]["message"] == "node node_panama stopped"
    with pytest.raises(urllib.error.URLError):
        observed.scrape("PAN")

    code, out, _ = _invoke_status(observed.chile.node_dir, "--format", "json", "--timeout", "1")
    document = json.loads(out)
    assert code == 0 and document["serving"] is True
    assert document["partners"][0]["reachable"] is False
