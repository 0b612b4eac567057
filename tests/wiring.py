"""Wiring opened nodes together in one process: straight into a partner's handlers (as
the simulations do), or through a partner's real gRPC server with mutual TLS on a
loopback port the OS picks (``serving``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from biometric_exchange.agreement import AgreementDocument
from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node, system_clock
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.server import RunningServer, start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.node.transport import GrpcPeerTransport, PeerTransport
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)

ANY_LOOPBACK_PORT = "127.0.0.1:0"
"""Where an in-process server listens unless told otherwise: the OS picks a free port."""
DRAIN_ROUNDS = 1000
"""More ``run_once`` rounds than any test's outbox needs: a bound, not a wait."""


def handlers(holder: Node, caller: str, services: Services | None = None) -> PartnerHandlers:
    """``holder``'s handlers for calls from ``caller``, under their agreement."""
    return PartnerHandlers(holder.link(caller), services or Services.of(holder))


def in_memory(holder: Node, caller: str, services: Services | None = None) -> InMemoryPeerTransport:
    """A transport from ``caller`` straight into ``holder``'s handlers."""
    return InMemoryPeerTransport(handlers(holder, caller, services))


def worker(
    sender: Node, holder: Node | None = None, *, transport: PeerTransport | None = None
) -> ExchangeWorker:
    """``sender``'s exchange worker reaching ``holder`` in-process (or by ``transport``)."""
    if transport is None:
        assert holder is not None
        transport = in_memory(holder, sender.country)
    partner = holder.country if holder is not None else sender.partner_codes[0]
    return ExchangeWorker(sender, Services.of(sender), {partner: transport})


class Unreachable:
    """A transport to a partner that cannot be reached: every call is unavailable."""

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        raise PartnerUnavailable(f"partner unavailable: UNAVAILABLE ({rpc.name} in a test)")

    def close(self) -> None:
        """Nothing to release."""


class ClockAhead:
    """A node clock (ms since the epoch): the system's, moved on by what a test
    ``advance``s, so that waiting for a due time costs no real time."""

    def __init__(self) -> None:
        self.ahead_ms = 0

    def __call__(self) -> int:
        return system_clock() + self.ahead_ms

    def advance(self, seconds: float) -> None:
        self.ahead_ms += round(seconds * 1000)


# --- real gRPC servers in this process -----------------------------------------------------


@dataclass
class Served:
    """A node whose real gRPC server (mutual TLS, health, reflection) runs in this
    process; ``services`` are the galleries it answers from, shared with its worker."""

    node: Node
    services: Services
    server: RunningServer

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@contextmanager
def serving(
    node: Node,
    services: Services | None = None,
    *,
    listen: str = ANY_LOOPBACK_PORT,
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
) -> Iterator[Served]:
    """``node``'s server, as ``bx node run`` starts it, on ``listen``; stopped after."""
    services = services or Services.of(node)
    server = start_server(node, services, listen=listen, interceptors=interceptors)
    try:
        yield Served(node, services, server)
    finally:
        server.stop(0)


def secure_channel(caller: Node, callee: Served) -> grpc.Channel:
    """A channel to ``callee``'s server presenting ``caller``'s TLS certificate."""
    return grpc.secure_channel(
        callee.endpoint,
        channel_credentials(caller, callee.node.keys.ca_certificate_pem),
        options=channel_options(),
    )


def health(callee: Served, caller: Node | None = None, *, timeout: float = 5.0) -> str:
    """``callee``'s gRPC health (``SERVING``…), asked with ``caller``'s certificate (by
    default its own operators'), as ``bx node health`` asks it."""
    with secure_channel(caller or callee.node, callee) as channel:
        request = health_pb2.HealthCheckRequest(service="")
        response = health_pb2_grpc.HealthStub(channel).Check(request, timeout=timeout)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def grpc_transport(caller: Node, callee: Served) -> GrpcPeerTransport:
    """``caller``'s transport to ``callee`` over gRPC, dialling where it really listens."""
    return GrpcPeerTransport(caller.link(callee.node.country), endpoint=callee.endpoint)


def drain(exchange: ExchangeWorker, sender: Node) -> int:
    """Run ``exchange`` until ``sender``'s outbox holds nothing due; return the rounds."""
    for rounds in range(DRAIN_ROUNDS):
        if not exchange.run_once():
            return rounds
    raise AssertionError(f"{sender.name}: outbox still due after {DRAIN_ROUNDS} rounds")


@dataclass
class ServedNodes:
    """Nodes serving in this process, by country, with channels and workers between them
    that dial each server where it really listens; ``close`` releases them all."""

    servers: dict[str, Served]
    _stack: ExitStack = field(default_factory=ExitStack)
    _channels: dict[tuple[str, str], grpc.Channel] = field(default_factory=dict)

    def __getitem__(self, country: str) -> Node:
        return self.servers[country].node

    def partner_stub(self, caller: Node, callee: Node) -> pb_grpc.ExchangeStub:
        """A stub to ``callee``'s server presenting ``caller``'s TLS certificate."""
        key = (caller.country, callee.country)
        if key not in self._channels:
            self._channels[key] = secure_channel(caller, self.servers[callee.country])
        return pb_grpc.ExchangeStub(self._channels[key])

    def transport(self, caller: Node, partner: str) -> GrpcPeerTransport:
        """``caller``'s gRPC transport to ``partner``'s server, closed with the nodes."""
        transport = grpc_transport(caller, self.servers[partner])
        self._stack.callback(transport.close)
        return transport

    def transports(self, sender: Node) -> dict[str, PeerTransport]:
        """``sender``'s transport to each of its partners that serves here."""
        serving_here = [code for code in sender.partner_codes if code in self.servers]
        return {code: self.transport(sender, code) for code in serving_here}

    def worker(self, sender: Node) -> ExchangeWorker:
        """``sender``'s exchange worker, sharing its server's galleries, as ``bx node run``
        wires it, reaching every partner over gRPC."""
        served = self.servers[sender.country]
        return ExchangeWorker(sender, served.services, self.transports(sender))

    def exchange(self, sender: Node) -> int:
        """Work ``sender``'s outbox until nothing is due (the node's worker loop, run in
        the test's thread); return the rounds it took."""
        return drain(self.worker(sender), sender)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._stack.close()


Nodes = TypeVar("Nodes", bound=ServedNodes)


@contextmanager
def serving_all(
    nodes: dict[str, Node], *, kind: type[Nodes], listen: dict[str, str] | None = None
) -> Iterator[Nodes]:
    """Every node of ``nodes`` serving in this process (on ``listen[country]``, else on a
    port the OS picks), as a ``kind``; stopped, with every channel closed, after."""
    with ExitStack() as stack:
        servers = {
            country: stack.enter_context(
                serving(node, listen=(listen or {}).get(country, ANY_LOOPBACK_PORT))
            )
            for country, node in nodes.items()
        }
        served = kind(servers)
        stack.callback(served.close)
        yield served


def amend(nodes: dict[str, Node], change: Callable[[dict[str, Any]], None]) -> AgreementDocument:
    """A new agreement with ``change`` applied to its terms, signed by both, held by both."""
    chl, pan = nodes["CHL"], nodes["PAN"]
    raw = chl.link("PAN").agreement.model_dump(mode="json")
    change(raw["agreement"])
    raw["signatures"] = {}
    document = (
        AgreementDocument.model_validate(raw)
        .signed_by("CHL", chl.keys.signing_key)
        .signed_by("PAN", pan.keys.signing_key)
    )
    for node in (chl, pan):
        node.adopt(document)
    return document
