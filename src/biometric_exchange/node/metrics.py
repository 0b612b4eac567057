"""Prometheus metrics of one node: gRPC calls as they are served, store figures
read at scrape time, served over HTTP at ``[metrics] listen`` in node.toml.

Each node has its own ``CollectorRegistry`` (tests run several nodes in one
process). Labels are few-valued: service, method, status code, alert kind and
severity, outbox state, quota kind, partner country; never ids, names or bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from biometric_exchange import __version__
from biometric_exchange.domain import AlertKind, AlertStatus, Severity
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.link import Link
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.quotas import QuotaKind

if TYPE_CHECKING:
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
    _Handler = grpc.RpcMethodHandler[Any, Any]
else:
    _ServerInterceptor = grpc.ServerInterceptor
    _Handler = grpc.RpcMethodHandler

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: a ping takes about a millisecond, a large batch or a slow disk seconds."""
UNKNOWN = "unknown"
"""Service and method label of a call to a method this node does not offer."""


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
        yield from self._partner_metrics(node)

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


# --- gRPC calls ---------------------------------------------------------------------------


Record = Callable[[grpc.ServicerContext, bool, float], None]
"""Called once per call: its context, whether the behaviour raised, its start time."""


def _final_code(context: grpc.ServicerContext, raised: bool) -> grpc.StatusCode:
    """The status the call ends with: the one the handler set or aborted with; else,
    when the caller went away or ran out of time first, CANCELLED or DEADLINE_EXCEEDED."""
    code = context.code()  # type: ignore[attr-defined]  # grpcio has it; the stubs do not
    if isinstance(code, grpc.StatusCode):
        return code
    if not context.is_active():
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN if raised else grpc.StatusCode.OK


def _timed_unary_response(behavior: Callable[..., Any], record: Record) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        started, raised = time.perf_counter(), True
        try:
            response = behavior(request, context)
            raised = False
            return response
        finally:
            record(context, raised, started)

    return call


def _timed_stream_response(behavior: Callable[..., Any], record: Record) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started, raised = time.perf_counter(), True
        try:
            yield from behavior(request, context)
            raised = False
        finally:  # also when the caller goes away mid-stream (GeneratorExit)
            record(context, raised, started)

    return call


def _timed(handler: _Handler, record: Record) -> _Handler:
    """The same handler, each call timed and counted by ``record``."""
    io = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _timed_unary_response(handler.unary_unary, record), *io
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _timed_stream_response(handler.unary_stream, record), *io
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            _timed_unary_response(handler.stream_unary, record), *io
        )
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(
        _timed_stream_response(handler.stream_stream, record), *io
    )


def service_and_method(full_method: str) -> tuple[str, str]:
    """``/biometric_exchange.v1.Exchange/Identify`` → (``biometric_exchange.v1.Exchange``,
    ``Identify``)."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return (service, method) if service and method else (UNKNOWN, UNKNOWN)


class ConnectionsCounted(Protocol):
    connections: int


KNOWN_PEERS = 16_384
"""Connections remembered as having made a call (oldest forgotten first)."""


class TlsConnections(Collector):
    """Connections refused at the TLS layer, which no handler ever sees.

    The server's credentials count each connection before its handshake; a
    connection that makes a call shows up here by its peer address. The
    difference is connections that never made a call: a client certificate from
    no CA we trust, none at all, a client that does not speak TLS, or one that
    gave up. (A connection forgotten from the bounded memory and seen again
    counts twice as served, so the refused figure can only be low, never high.)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: ConnectionsCounted | None = None
        self._peers: OrderedDict[str, None] = OrderedDict()
        self._served = 0

    def follow(self, credentials: ConnectionsCounted) -> None:
        self._credentials = credentials

    def saw(self, peer: str) -> None:
        with self._lock:
            if peer in self._peers:
                self._peers.move_to_end(peer)
                return
            self._peers[peer] = None
            self._served += 1
            if len(self._peers) > KNOWN_PEERS:
                self._peers.popitem(last=False)

    def counts(self) -> tuple[int, int]:
        """(connections begun, connections that made a call)."""
        begun = self._credentials.connections if self._credentials is not None else 0
        with self._lock:
            return begun, self._served

    def describe(self) -> Iterable[Metric]:
        return ()

    def collect(self) -> Iterator[Metric]:
        begun, served = self.counts()
        if self._credentials is None:
            return
        yield CounterMetricFamily(
            "bx_tls_connections", "TLS connections begun (before the handshake)", value=begun
        )
        yield CounterMetricFamily(
            "bx_tls_connections_with_calls", "TLS connections that made a call", value=served
        )
        yield GaugeMetricFamily(
            "bx_tls_connections_refused",
            "Connections that never made a call: refused at the TLS layer (a certificate "
            "from no CA we trust, or none) or given up by the client",
            value=max(0, begun - served),
        )


class MetricsInterceptor(_ServerInterceptor):
    """Counts served calls by method and status code and times them by method."""

    def __init__(self, registry: CollectorRegistry, connections: TlsConnections) -> None:
        self._connections = connections
        self.handled = Counter(
            "bx_grpc_server_handled",
            "gRPC calls served, by method and final status code",
            ["service", "method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "bx_grpc_server_handling_seconds",
            "Time to serve a gRPC call, by method",
            ["service", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], _Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:  # gRPC answers UNIMPLEMENTED; the name is the caller's, not a label
            self.handled.labels(UNKNOWN, UNKNOWN, grpc.StatusCode.UNIMPLEMENTED.name).inc()
            return None
        service, method = service_and_method(handler_call_details.method)

        def record(context: grpc.ServicerContext, raised: bool, started: float) -> None:
            elapsed = time.perf_counter() - started
            self._connections.saw(context.peer())
            code = _final_code(context, raised).name
            self.handled.labels(service, method, code).inc()
            self.latency.labels(service, method).observe(elapsed)
            if not log.isEnabledFor(logging.DEBUG):
                return
            log.debug(
                "served %s: %s in %.1f ms",
                method,
                code,
                elapsed * 1000,
                extra={"method": method, "code": code, "peer": context.peer()},
            )

        return _timed(handler, record)


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
    """A node's own registry (the call instruments and the store collector) and,
    when node.toml has a ``[metrics]`` section, its HTTP endpoint."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.registry = CollectorRegistry()
        self.tls = TlsConnections()
        self.interceptor = MetricsInterceptor(self.registry, self.tls)
        self.registry.register(StoreCollector(node))
        self.registry.register(self.tls)
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
