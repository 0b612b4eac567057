"""Operator probes: gRPC health checking and reflection, over mutual TLS."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from biometric_exchange.node.link import Link
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.tls import channel_credentials, channel_options


def _channel(node: Node, endpoint: str, server_ca_pem: bytes) -> grpc.Channel:
    return grpc.secure_channel(
        endpoint, channel_credentials(node, server_ca_pem), options=channel_options()
    )


def _target(node: Node, partner: Link | None) -> tuple[str, bytes]:
    if partner is not None:
        return partner.partner.endpoint, partner.partner.ca_certificate.encode()
    return node.config.node.listen, node.keys.ca_certificate_pem


def health_status(
    node: Node, *, partner: Link | None = None, service: str = "", timeout: float = 3.0
) -> str:
    """``SERVING``, ``NOT_SERVING``… or ``UNREACHABLE`` for our node, or for the node
    of ``partner`` (a link of ours)."""
    endpoint, ca_pem = _target(node, partner)
    with _channel(node, endpoint, ca_pem) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            return "UNREACHABLE" if code is grpc.StatusCode.UNAVAILABLE else code.name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def reflected_services(node: Node, *, partner: Link | None = None) -> list[str]:
    """Service names our node (or ``partner``'s node) lists through server reflection."""
    endpoint, ca_pem = _target(node, partner)
    with _channel(node, endpoint, ca_pem) as channel:
        return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())
