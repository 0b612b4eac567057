"""Prometheus metrics of one node: gRPC calls as they are served, store figures
read at scrape time, the process itself (and, in a node process, partner
reachability: ``reachability``); served over HTTP
at ``[metrics] listen`` in node.toml.

Each node has its own ``CollectorRegistry`` (tests run several nodes in one
process). Labels are few-valued: service, method, status code, alert kind and
severity, outbox state, quota kind, partner country; never ids, names or bytes.
Served calls are counted twice: under the ``bx_grpc_server_*`` names with
``service``/``method``/``code`` labels, and under the ``grpc_server_*`` names and
``grpc_type``/``grpc_service``/``grpc_method``/``grpc_code`` labels of
go-grpc-prometheus and py-grpc-prometheus, which stock gRPC dashboards query.
Ages are read on the node's clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from biometric_exchange import __version__
from biometric_exchange.domain import AlertKind, AlertQueue, AlertStatus, Severity
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.call_metrics import (
    LATENCY_BUCKETS,
    UNKNOWN,
    ConnectionsCounted,
    MetricsInterceptor,
    TlsConnections,
    service_and_method,
)
from biometric_exchange.node.link import Link
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.quotas import QuotaKind

log = logging.getLogger(__name__)
__all__ = [
    "LATENCY_BUCKETS",
    "UNKNOWN",
    "MetricsInterceptor",
    "NodeMetrics",
    "StoreCollector",
    "TlsConnections",
    "service_and_method",
]
"""Also the names ``call_metrics`` defines, for callers that know them from here."""


# --- Store figures (also shown by ``bx status``) --------------------------------------------


@dataclass(frozen=True)
class AgreementValidity:
    partner: str
    agreement_id: str
    effective_from: dt.date
    effective_until: dt.date
    in_force: bool
    days_left: int
    """Days from today to the last day in force (negative once expired)."""


def agreement_validity(link: Link) -> AgreementValidity:
    """The validity of ``link``'s agreement, on the node's today."""
    terms, today = link.terms, link.today()
    return AgreementValidity(
        partner=link.code,
        agreement_id=link.agreement.id,
        effective_from=terms.effective_from,
        effective_until=terms.effective_until,
        in_force=terms.effective_from <= today <= terms.effective_until,
        days_left=(terms.effective_until - today).days,
    )


def outbox_counts(node: Node) -> dict[str, int]:
    """Outbox items by state, every known state present."""
    counts = {state.value: 0 for state in OutboxState}
    rows = node.database.connection.execute(
        "SELECT state, count(*) FROM outbox GROUP BY state"
    ).fetchall()
    counts.update({str(state): int(count) for state, count in rows})
    return counts


def pending_by_partner(node: Node) -> dict[str, int]:
    """Outbox items still to send, per partner (every partner present)."""
    counts = dict.fromkeys(node.partner_codes, 0)
    rows = node.database.connection.execute(
        "SELECT partner, count(*) FROM outbox WHERE state = ? GROUP BY partner",
        (OutboxState.PENDING.value,),
    ).fetchall()
    counts.update({str(partner): int(count) for partner, count in rows})
    return counts


def open_alert_counts(node: Node) -> dict[tuple[str, str], int]:
    """Alerts not closed, by (kind, severity), every known pair present."""
    counts = {(kind.value, severity.value): 0 for kind in AlertKind for severity in Severity}
    rows = node.database.connection.execute(
        "SELECT kind, severity, count(*) FROM alerts WHERE status != ? GROUP BY kind, severity",
        (AlertStatus.CLOSED.value,),
    ).fetchall()
    counts.update({(str(kind), str(severity)): int(count) for kind, severity, count in rows})
    return counts


def _seconds(iso_time: str) -> float:
    return dt.datetime.fromisoformat(iso_time).timestamp()


def oldest_pending_age_s(node: Node) -> dict[str, float]:
    """Per partner (every partner present), seconds since the oldest encounter still
    to send to it was enrolled (its item queued); 0 when none waits."""
    ages = dict.fromkeys(node.partner_codes, 0.0)
    now = node.clock() / 1000
    rows = node.database.connection.execute(
        "SELECT o.partner, min(e.enrolled_at) FROM outbox AS o "
        "JOIN encounters AS e ON e.encounter_id = o.encounter_id "
        "WHERE o.state = ? GROUP BY o.partner",
        (OutboxState.PENDING.value,),
    ).fetchall()
    ages.update({str(partner): max(0.0, now - _seconds(oldest)) for partner, oldest in rows})
    return ages


def oldest_unacknowledged_age_s(node: Node) -> dict[str, float]:
    """Per review queue (every queue present), seconds since the oldest alert still
    ``NEW`` (no officer has acknowledged it) was raised; 0 when none."""
    ages = {queue.value: 0.0 for queue in AlertQueue}
    now = node.clock() / 1000
    rows = node.database.connection.execute(
        "SELECT queue, min(created_at) FROM alerts WHERE status = ? GROUP BY queue",
        (AlertStatus.NEW.value,),
    ).fetchall()
    ages.update({str(queue): max(0.0, now - _seconds(oldest)) for queue, oldest in rows})
    return ages


def quota_limit(link: Link, kind: QuotaKind) -> int:
    """The agreement's daily limit for ``kind`` (probes, or step-2 requests)."""
    quotas = link.terms.quotas
    if kind in {QuotaKind.PROBES_SENT, QuotaKind.PROBES_RECEIVED}:
        return quotas.probes_per_day
    return quotas.detail_requests_per_day


def watchlist_size(node: Node) -> int:
    return int(node.database.connection.execute("SELECT count(*) FROM watchlist").fetchone()[0])


class StoreCollector(Collector):
    """Reads the node's stores at each scrape: nothing is cached between scrapes."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def describe(self) -> Iterable[Metric]:
        return ()  # names are known only by collecting; registering must not query

    def collect(self) -> Iterator[Metric]:
        node = self._node
        info = GaugeMetricFamily(
            "bx_node_info", "The node's country and software version", labels=["country", "version"]
        )
        info.add_metric([node.country, __version__], 1)
        yield info
        yield GaugeMetricFamily(
            "bx_watchlist_entries", "Watchlist entries stored", value=watchlist_size(node)
        )
        yield GaugeMetricFamily(
            "bx_encounters", "Encounters enrolled and kept", value=node.records.count_encounters()
        )
        alerts = GaugeMetricFamily(
            "bx_alerts_open", "Alerts not closed", labels=["kind", "severity"]
        )
        for (kind, severity), count in sorted(open_alert_counts(node).items()):
            alerts.add_metric([kind, severity], count)
        yield alerts
        outbox = GaugeMetricFamily("bx_outbox_items", "Outbox items by state", labels=["state"])
        for state, count in sorted(outbox_counts(node).items()):
            outbox.add_metric([state], count)
        yield outbox
        backlog = GaugeMetricFamily(
            "bx_outbox_pending", "Outbox items still to send, per partner", labels=["partner"]
        )
        for partner, count in sorted(pending_by_partner(node).items()):
            backlog.add_metric([partner], count)
        yield backlog
        yield from self._ages(node)
        yield from self._partner_metrics(node)

    @staticmethod
    def _ages(node: Node) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "bx_outbox_oldest_pending_age_seconds",
            "Seconds the oldest item still to send to the partner has waited (0: none)",
            labels=["partner"],
        )
        for partner, age in sorted(oldest_pending_age_s(node).items()):
            waiting.add_metric([partner], age)
        yield waiting
        unacknowledged = GaugeMetricFamily(
            "bx_alert_oldest_unacknowledged_age_seconds",
            "Seconds since the oldest alert no officer has acknowledged was raised (0: none)",
            labels=["queue"],
        )
        for queue, age in sorted(oldest_unacknowledged_age_s(node).items()):
            unacknowledged.add_metric([queue], age)
        yield unacknowledged

    @staticmethod
    def _partner_metrics(node: Node) -> Iterator[Metric]:
        used = GaugeMetricFamily(
            "bx_quota_used", "Quota used today (UTC) per partner", labels=["partner", "kind"]
        )
        limit = GaugeMetricFamily(
            "bx_quota_limit", "Daily limit the agreement sets", labels=["partner", "kind"]
        )
        in_force = GaugeMetricFamily(
            "bx_agreement_in_force", "1 while the agreement is in force", labels=["partner"]
        )
        days_left = GaugeMetricFamily(
            "bx_agreement_days_left",
            "Days until the agreement's last day in force (negative once expired)",
            labels=["partner"],
        )
        for link in node.links():
            partner, today = link.code, link.today()
            for kind in QuotaKind:
                used.add_metric([partner, kind.value], node.quotas.used(today, partner, kind))
                limit.add_metric([partner, kind.value], quota_limit(link, kind))
            validity = agreement_validity(link)
            in_force.add_metric([partner], int(validity.in_force))
            days_left.add_metric([partner], validity.days_left)
        yield from (used, limit, in_force, days_left)


# --- The node's registry and its HTTP endpoint -----------------------------------------------


@dataclass
class MetricsServer:
    """``/metrics`` over plain HTTP, on a thread of its own."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(listen: str, registry: CollectorRegistry) -> MetricsServer:
    """Serve ``registry`` at ``http://<listen>/metrics`` (any path answers)."""
    host, _, port = listen.rpartition(":")
    try:
        server, thread = start_http_server(int(port), host.strip("[]"), registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"metrics.listen: cannot listen on {listen}: the port is in use or unavailable"
        ) from exc
    return MetricsServer(server, thread)


class NodeMetrics:
    """A node's own registry (the call instruments, the store collector, the process's
    CPU, memory, file descriptors and garbage collection; the node process adds
    partner reachability) and, when node.toml has a ``[metrics]`` section, its HTTP
    endpoint."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.registry = CollectorRegistry()
        self.tls = TlsConnections()
        self.interceptor = MetricsInterceptor(self.registry, self.tls)
        self.registry.register(StoreCollector(node))
        self.registry.register(self.tls)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.endpoint: MetricsServer | None = None

    def follow_tls(self, credentials: ConnectionsCounted) -> None:
        """Count connections refused at the TLS layer of the server using ``credentials``."""
        self.tls.follow(credentials)

    def serve(self) -> None:
        """Start the endpoint ``[metrics] listen`` asks for (nothing without [metrics])."""
        section = self._node.config.metrics
        if section is None or self.endpoint is not None:
            return
        self.endpoint = serve_metrics(section.listen, self.registry)
        host = section.listen.rpartition(":")[0]
        log.info("metrics at http://%s:%d/metrics", host, self.endpoint.port)

    def stop(self) -> None:
        """Stop the endpoint, if it runs."""
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None
