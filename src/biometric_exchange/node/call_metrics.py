"""gRPC calls as a node serves them, counted and timed by a server interceptor.

Each call is counted under two sets of names:

- ``bx_grpc_server_handled_total{service,method,code}`` and
  ``bx_grpc_server_handling_seconds{service,method}`` (this project's first names);
- the names and labels of go-grpc-prometheus and py-grpc-prometheus, which stock
  gRPC dashboards query: ``grpc_server_started_total``,
  ``grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}``,
  ``grpc_server_msg_received_total``, ``grpc_server_msg_sent_total`` and the
  ``grpc_server_handling_seconds`` histogram (``grpc_type``: ``unary``,
  ``client_stream``, ``server_stream``, ``bidi_stream``; ``grpc_code`` as
  ``grpc.StatusCode`` names it: ``OK``, ``UNAVAILABLE``…).

A call to a method the node does not offer is counted only as
``bx_grpc_server_handled_total{service="unknown",method="unknown",code="UNIMPLEMENTED"}``
(the method name is the caller's, not a label; go-grpc-prometheus does not see such
calls either). ``TlsConnections`` counts the connections that never made a call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

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
UNARY, CLIENT_STREAM, SERVER_STREAM, BIDI_STREAM = (
    "unary",
    "client_stream",
    "server_stream",
    "bidi_stream",
)


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


class CallInstruments:
    """The counters and histograms of served calls, on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
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
        labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.started = Counter(
            "grpc_server_started", "RPCs started on the server", labels, registry=registry
        )
        self.grpc_handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, regardless of success or failure",
            [*labels, "grpc_code"],
            registry=registry,
        )
        self.received = Counter(
            "grpc_server_msg_received",
            "RPC stream messages received on the server",
            labels,
            registry=registry,
        )
        self.sent = Counter(
            "grpc_server_msg_sent",
            "RPC stream messages sent on the server",
            labels,
            registry=registry,
        )
        self.grpc_latency = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


@dataclass
class _Call:
    """One call being served: counts its messages, records its end once."""

    instruments: CallInstruments
    connections: TlsConnections
    grpc_type: str
    service: str
    method: str
    started: float = 0.0

    def start(self) -> None:
        self.instruments.started.labels(self.grpc_type, self.service, self.method).inc()
        self.started = time.perf_counter()

    def received(self) -> None:
        self.instruments.received.labels(self.grpc_type, self.service, self.method).inc()

    def sent(self) -> None:
        self.instruments.sent.labels(self.grpc_type, self.service, self.method).inc()

    def requests(self, request_iterator: Iterator[Any]) -> Iterator[Any]:
        for request in request_iterator:
            self.received()
            yield request

    def finish(self, context: grpc.ServicerContext, raised: bool) -> None:
        elapsed = time.perf_counter() - self.started
        self.connections.saw(context.peer())
        code = _final_code(context, raised).name
        ours = (self.service, self.method)
        standard = (self.grpc_type, *ours)
        self.instruments.handled.labels(*ours, code).inc()
        self.instruments.latency.labels(*ours).observe(elapsed)
        self.instruments.grpc_handled.labels(*standard, code).inc()
        self.instruments.grpc_latency.labels(*standard).observe(elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "served %s: %s in %.1f ms",
                self.method,
                code,
                elapsed * 1000,
                extra={"method": self.method, "code": code, "peer": context.peer()},
            )


NewCall = Callable[[str], _Call]
"""Makes the ``_Call`` of one call, given its ``grpc_type``."""


def _unary_in(behavior: Callable[..., Any], new_call: NewCall, grpc_type: str) -> Any:
    """A handler behaviour taking one request and returning one response (``unary``) or
    yielding many (``server_stream``), counted and timed."""
    if grpc_type == UNARY:

        def unary(request: Any, context: grpc.ServicerContext) -> Any:
            call, raised = new_call(grpc_type), True
            call.start()
            call.received()
            try:
                response = behavior(request, context)
                raised = False
            finally:
                call.finish(context, raised)
            call.sent()
            return response

        return unary

    def server_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call, raised = new_call(grpc_type), True
        call.start()
        call.received()
        try:
            for response in behavior(request, context):
                call.sent()
                yield response
            raised = False
        finally:  # also when the caller goes away mid-stream (GeneratorExit)
            call.finish(context, raised)

    return server_stream


def _stream_in(behavior: Callable[..., Any], new_call: NewCall, grpc_type: str) -> Any:
    """A handler behaviour reading a stream of requests (``client_stream``,
    ``bidi_stream``), counted and timed."""
    if grpc_type == CLIENT_STREAM:

        def client_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            call, raised = new_call(grpc_type), True
            call.start()
            try:
                response = behavior(call.requests(requests), context)
                raised = False
            finally:
                call.finish(context, raised)
            call.sent()
            return response

        return client_stream

    def bidi_stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        call, raised = new_call(grpc_type), True
        call.start()
        try:
            for response in behavior(call.requests(requests), context):
                call.sent()
                yield response
            raised = False
        finally:
            call.finish(context, raised)

    return bidi_stream


def _observed(handler: _Handler, new_call: NewCall) -> _Handler:
    """The same handler, each call counted and timed."""
    io = (handler.request_deserializer, handler.response_serializer)
    if handler.unary_unary is not None:
        behavior = _unary_in(handler.unary_unary, new_call, UNARY)
        return grpc.unary_unary_rpc_method_handler(behavior, *io)
    if handler.unary_stream is not None:
        behavior = _unary_in(handler.unary_stream, new_call, SERVER_STREAM)
        return grpc.unary_stream_rpc_method_handler(behavior, *io)
    if handler.stream_unary is not None:
        behavior = _stream_in(handler.stream_unary, new_call, CLIENT_STREAM)
        return grpc.stream_unary_rpc_method_handler(behavior, *io)
    assert handler.stream_stream is not None
    behavior = _stream_in(handler.stream_stream, new_call, BIDI_STREAM)
    return grpc.stream_stream_rpc_method_handler(behavior, *io)


class MetricsInterceptor(_ServerInterceptor):
    """Counts served calls by method and status code, their messages, and times them."""

    def __init__(self, registry: CollectorRegistry, connections: TlsConnections) -> None:
        self._connections = connections
        self.instruments = CallInstruments(registry)
        self.handled = self.instruments.handled
        self.latency = self.instruments.latency

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

        def new_call(grpc_type: str) -> _Call:
            return _Call(self.instruments, self._connections, grpc_type, service, method)

        return _observed(handler, new_call)
