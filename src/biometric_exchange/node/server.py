"""The node's gRPC server: Exchange, health checking and reflection (v1 and v1alpha),
mTLS only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.membership import load_membership
from biometric_exchange.node.reflection import enable_server_reflection
from biometric_exchange.node.routed import RouterCallers
from biometric_exchange.node.rpc import SERVICE
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve import PartnerHandlerTable
from biometric_exchange.node.servicer import ExchangeServicer
from biometric_exchange.node.services import Services
from biometric_exchange.node.tls import SERVER_OPTIONS, LiveServerCredentials, PartnerAuthorizer

EXCHANGE_SERVICE = SERVICE
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
SERVER_THREADS = 16
"""Calls served at once. More calls in the server means more probes waiting for
each pass over the watchlist (``WatchlistIndex.search`` combines them): 16 threads
served 16 concurrent single-probe calls at 5.5 probes a pass and 2.3 ms of CPU a
call, 8 threads at 3.1 a pass and 3.6 ms (100,000 entries, in-process)."""
DRAIN_SECONDS = 5.0
"""How long a stopping node lets in-flight calls finish."""
log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int
    credentials: LiveServerCredentials
    """Follows the node's agreements; counts the TLS handshakes begun."""

    def stop(self, grace: float = DRAIN_SECONDS) -> None:
        """Health NOT_SERVING first, refuse new calls, let in-flight ones finish
        for up to ``grace`` seconds, then cancel what is left."""
        self.health.enter_graceful_shutdown()
        log.info("health NOT_SERVING; draining in-flight calls for up to %.0f s", grace)
        self.server.stop(grace).wait()


def start_server(
    node: Node,
    services: Services,
    *,
    workers: int = SERVER_THREADS,
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
    listen: str | None = None,
    reuse_port: bool = False,
) -> RunningServer:
    """Bind the configured address (or ``listen``, e.g. ``127.0.0.1:0`` for a free
    port) with mutual TLS and start serving. ``reuse_port``: other processes of the
    node (a shared store) bind the same address, and the kernel spreads connections
    over them (SO_REUSEPORT)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exchange"),
        options=[
            *((name, value) for name, value in SERVER_OPTIONS if name != "grpc.so_reuseport"),
            ("grpc.so_reuseport", int(reuse_port)),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
        interceptors=list(interceptors),
    )

    membership = load_membership(node.node_dir)
    servicer = ExchangeServicer(
        PartnerHandlerTable(node, services),
        PartnerAuthorizer(node),
        node.audit,
        node.refusals,
        RouterCallers(membership) if membership is not None else None,
    )
    server.add_generic_rpc_handlers((servicer.generic_handler(),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_server_reflection((EXCHANGE_SERVICE, health.SERVICE_NAME), server)
    address = listen or node.config.node.listen
    credentials = LiveServerCredentials(node)
    try:
        port = server.add_secure_port(address, credentials.credentials)
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable") from exc
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable")
    server.start()
    for service in ("", EXCHANGE_SERVICE):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, health_servicer, port, credentials)
