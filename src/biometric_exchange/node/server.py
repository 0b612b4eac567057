"""The node's gRPC server: Exchange, health checking and reflection, mTLS only."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.audit_digest import AuditDigestHandler
from biometric_exchange.node.details import DetailsHandler
from biometric_exchange.node.encounter_index import EncounterIndex
from biometric_exchange.node.identify import IdentifyHandler
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.servicer import EnvelopeHandler, ExchangeServicer
from biometric_exchange.node.tls import SERVER_OPTIONS, server_credentials
from biometric_exchange.node.watchlist_index import WatchlistIndex
from biometric_exchange.surge.aggregates import AggregatesHandler
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc

EXCHANGE_SERVICE = pb.DESCRIPTOR.services_by_name["Exchange"].full_name
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
DRAIN_SECONDS = 5.0
"""How long a stopping node lets in-flight calls finish."""
log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    server: grpc.Server
    health: health.HealthServicer
    port: int

    def stop(self, grace: float = DRAIN_SECONDS) -> None:
        """Health NOT_SERVING first, refuse new calls, let in-flight ones finish
        for up to ``grace`` seconds, then cancel what is left."""
        self.health.enter_graceful_shutdown()
        log.info("health NOT_SERVING; draining in-flight calls for up to %.0f s", grace)
        self.server.stop(grace).wait()


def start_server(
    node: Node,
    watchlist: WatchlistIndex,
    *,
    encounters: EncounterIndex | None = None,
    workers: int = 8,
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
) -> RunningServer:
    """Bind the configured address with mutual TLS and start serving."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exchange"),
        options=[
            *SERVER_OPTIONS,
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ],
        interceptors=list(interceptors),
    )

    def handlers_for(link: Node) -> dict[str, EnvelopeHandler]:
        return {
            "Identify": IdentifyHandler(link, watchlist, encounters),
            "RequestDetails": DetailsHandler(link),
            "AuditDigest": AuditDigestHandler(link),
            "ExchangeAggregates": AggregatesHandler(link),
        }

    pb_grpc.add_ExchangeServicer_to_server(ExchangeServicer(node, handlers_for), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (EXCHANGE_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = node.config.node.listen
    try:
        port = server.add_secure_port(address, server_credentials(node))
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable") from exc
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: the port is in use or unavailable")
    server.start()
    for service in ("", EXCHANGE_SERVICE):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, health_servicer, port)
