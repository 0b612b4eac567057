"""Store figures at scrape time, read from real SQLite stores after an in-process exchange."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from biometric_exchange.config import CONFIG_FILENAME, load_config
from biometric_exchange.domain import AlertKind, Severity
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.metrics import (
    LATENCY_BUCKETS,
    NodeMetrics,
    StoreCollector,
    service_and_method,
)
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import AlertFilter
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.synthetic import DemoDataset
from tests.wiring import worker

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(registry: CollectorRegistry) -> Samples:
    """Every sample of the text exposition, keyed by name and sorted labels."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def exchange(nodes: dict[str, Node], dataset: DemoDataset) -> None:
    """PAN enrols its encounters and exchanges them with CHL, in-process."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    worker(pan, chl).run_once()


@pytest.fixture
def exchanged(nodes: dict[str, Node], dataset: DemoDataset) -> dict[str, Node]:
    exchange(nodes, dataset)
    return nodes


def test_gallery_sizes_are_the_stores_counts(
    exchanged: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = exchanged["PAN"]
    samples = scrape(NodeMetrics(pan).registry)
    assert value(samples, "bx_watchlist_entries") == len(dataset.watchlists["PAN"])
    assert value(samples, "bx_encounters") == len(dataset.encounters["PAN"]) > 0
    assert value(samples, "bx_node_info", country="PAN", version="0.1.0") == 1


def test_open_alerts_by_kind_and_severity_match_the_alert_store(
    exchanged: dict[str, Node],
) -> None:
    for node in exchanged.values():
        samples = scrape(NodeMetrics(node).registry)
        stored = collections.Counter(
            (a.kind.value, a.severity.value) for a in node.alerts.list(AlertFilter(open_only=True))
        )
        assert stored, "the exchange raises alerts on both sides"
        for kind in AlertKind:
            for severity in Severity:
                gauge = value(samples, "bx_alerts_open", kind=kind.value, severity=severity.value)
                assert gauge == stored[(kind.value, severity.value)]


def test_outbox_depth_by_state_matches_the_outbox(
    exchanged: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = exchanged["PAN"]
    samples = scrape(NodeMetrics(pan).registry)
    states: collections.Counter[str] = collections.Counter()
    for encounter in dataset.encounters["PAN"]:
        item = pan.outbox.get(encounter.encounter_id)
        assert item is not None
        states[item.state.value] += 1
    assert states[OutboxState.DONE.value] > 0 and states[OutboxState.OUT_OF_SCOPE.value] > 0
    for state in OutboxState:
        assert value(samples, "bx_outbox_items", state=state.value) == states[state.value]


def test_quota_use_per_partner_matches_the_quota_store(exchanged: dict[str, Node]) -> None:
    pan, chl = exchanged["PAN"], exchanged["CHL"]
    sent = pan.quotas.used(pan.today(), "CHL", QuotaKind.PROBES_SENT)
    received = chl.quotas.used(chl.today(), "PAN", QuotaKind.PROBES_RECEIVED)
    assert sent == received > 0
    pan_samples, chl_samples = scrape(NodeMetrics(pan).registry), scrape(NodeMetrics(chl).registry)
    assert value(pan_samples, "bx_quota_used", partner="CHL", kind="probes_sent") == sent
    assert value(chl_samples, "bx_quota_used", partner="PAN", kind="probes_received") == received
    assert value(chl_samples, "bx_quota_used", partner="PAN", kind="details_received") == 0
    quotas = chl.link("PAN").terms.quotas
    limit = value(chl_samples, "bx_quota_limit", partner="PAN", kind="probes_received")
    assert limit == quotas.probes_per_day
    limit = value(chl_samples, "bx_quota_limit", partner="PAN", kind="details_received")
    assert limit == quotas.detail_requests_per_day


def test_figures_are_read_at_each_scrape(nodes: dict[str, Node], dataset: DemoDataset) -> None:
    pan = nodes["PAN"]
    metrics = NodeMetrics(pan)
    before = scrape(metrics.registry)
    enrol(pan, dataset.encounters["PAN"][0])
    after = scrape(metrics.registry)
    assert value(after, "bx_encounters") == value(before, "bx_encounters") + 1
    pending = value(after, "bx_outbox_items", state="pending")
    assert pending == value(before, "bx_outbox_items", state="pending") + 1
    partner = value(after, "bx_outbox_pending", partner="CHL")
    assert partner == value(before, "bx_outbox_pending", partner="CHL") + 1


def test_agreement_days_left_and_in_force(nodes: dict[str, Node]) -> None:
    chl = nodes["CHL"]
    terms = chl.link("PAN").terms
    samples = scrape(NodeMetrics(chl).registry)
    days = value(samples, "bx_agreement_days_left", partner="PAN")
    assert days == (terms.effective_until - chl.today()).days > 300
    assert value(samples, "bx_agreement_in_force", partner="PAN") == 1

    after_expiry = dt.datetime.combine(
        terms.effective_until + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC
    )
    chl.clock = lambda: int(after_expiry.timestamp() * 1000)
    registry = CollectorRegistry()
    registry.register(StoreCollector(chl))
    samples = scrape(registry)
    assert value(samples, "bx_agreement_days_left", partner="PAN") == -3
    assert value(samples, "bx_agreement_in_force", partner="PAN") == 0


def test_no_label_carries_an_id_or_a_name(exchanged: dict[str, Node], dataset: DemoDataset) -> None:
    forbidden = {e.encounter_id for e in dataset.encounters["PAN"]}
    forbidden |= {e.entry_id for e in dataset.watchlists["CHL"]}
    forbidden |= {e.person.family_name for e in dataset.encounters["PAN"]}
    for node in exchanged.values():
        forbidden |= {a.alert_id for a in node.alerts.list()}
        forbidden |= {link.agreement.id for link in node.links()}
    for node in exchanged.values():
        text = generate_latest(NodeMetrics(node).registry).decode()
        assert not [word for word in forbidden if word in text]


def test_each_node_has_its_own_registry(nodes: dict[str, Node]) -> None:
    chl, pan = NodeMetrics(nodes["CHL"]), NodeMetrics(nodes["PAN"])
    chl.interceptor.handled.labels("svc", "Identify", "OK").inc()
    assert (
        chl.registry.get_sample_value(
            "bx_grpc_server_handled_total", {"service": "svc", "method": "Identify", "code": "OK"}
        )
        == 1
    )
    assert (
        pan.registry.get_sample_value(
            "bx_grpc_server_handled_total", {"service": "svc", "method": "Identify", "code": "OK"}
        )
        is None
    )


def test_latency_buckets_span_a_millisecond_to_ten_seconds() -> None:
    assert LATENCY_BUCKETS[0] == 0.001 and LATENCY_BUCKETS[-1] == 10.0
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)


def test_full_method_names_split_into_service_and_method() -> None:
    assert service_and_method("/biometric_exchange.v1.Exchange/Identify") == (
        "biometric_exchange.v1.Exchange",
        "Identify",
    )
    assert service_and_method("garbage") == ("unknown", "unknown")


def _write_config(node_dir: Path, metrics: str) -> None:
    node_dir.mkdir()
    (node_dir / CONFIG_FILENAME).write_text(
        '[node]\nname = "node_chile"\ncountry = "CHL"\nlisten = "127.0.0.1:50061"\n' + metrics,
        encoding="utf-8",
    )


def test_metrics_section_is_optional_and_validated(tmp_path: Path) -> None:
    _write_config(tmp_path / "without", "")
    assert load_config(tmp_path / "without").metrics is None
    _write_config(tmp_path / "with", '[metrics]\nlisten = "127.0.0.1:9464"\n')
    section = load_config(tmp_path / "with").metrics
    assert section is not None and section.listen == "127.0.0.1:9464"
    _write_config(tmp_path / "bad_port", '[metrics]\nlisten = "127.0.0.1:99999"\n')
    with pytest.raises(ConfigError, match=r"metrics\.listen.*port must be between 0 and 65535"):
        load_config(tmp_path / "bad_port")
    _write_config(tmp_path / "no_port", '[metrics]\nlisten = "localhost"\n')
    with pytest.raises(ConfigError, match=r"metrics\.listen"):
        load_config(tmp_path / "no_port")
