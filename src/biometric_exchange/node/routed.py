"""Reaching partners through the federation router, and accepting calls it forwards.

``RoutedGrpcTransport`` is a ``PeerTransport`` to one partner over a mutual-TLS
channel to the router: the same sealed envelopes, addressed to the partner,
with ``bx-route-to`` naming it. ``RouterCallers`` is the holder's side: a client
certificate issued by the router's pinned CA speaks for the member named in
``bx-routed-for``; the envelope it carries must still open under our agreement
with that member (signed by them, sealed to us).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from biometric_exchange.exceptions import PeerNotAuthorized
from biometric_exchange.node.link import Link
from biometric_exchange.node.membership import ROUTE_TO, ROUTED_FOR, Membership, load_membership
from biometric_exchange.node.rpc import Rpc, client_methods
from biometric_exchange.node.tls import (
    IssuerIndex,
    channel_credentials,
    channel_options,
    peer_certificate,
)
from biometric_exchange.node.transport import GrpcPeerTransport, PeerTransport

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)


class RoutedGrpcTransport:
    """One partner, reached through the router's endpoint."""

    def __init__(self, link: Link, membership: Membership) -> None:
        self.endpoint = membership.endpoint
        self._route = ((ROUTE_TO, link.code),)
        self._channel = grpc.secure_channel(
            membership.endpoint,
            channel_credentials(link.node, membership.ca_certificate_pem),
            options=channel_options(),
        )
        self._methods = client_methods(self._channel)

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        try:
            reply: Reply = self._methods[rpc.name](request, timeout=timeout, metadata=self._route)
        except grpc.RpcError as exc:
            raise rpc.error(exc.code(), exc.details() or "") from exc
        return reply

    def close(self) -> None:
        self._channel.close()


def open_partner_transport(node_dir: Path) -> Callable[[Link], PeerTransport]:
    """How the node process reaches a partner: through the router when its membership
    says ``route = true``, else directly."""
    membership = load_membership(node_dir)
    if membership is None or not membership.route:
        return GrpcPeerTransport
    routed = membership

    def open_routed(link: Link) -> PeerTransport:
        return RoutedGrpcTransport(link, routed)

    return open_routed


class RouterCallers:
    """Tells a call forwarded by the pinned router, and whom it is forwarded for."""

    def __init__(self, membership: Membership) -> None:
        self._router = IssuerIndex({"router": membership.ca()})

    def member(
        self,
        auth_context: Mapping[str, Sequence[bytes] | bytes],
        metadata: Sequence[tuple[str, str | bytes]],
    ) -> str | None:
        """The member a router call speaks for; None when the caller is not the router."""
        pem = peer_certificate(auth_context)
        if not pem:
            return None
        try:
            if self._router.issuer(pem) is None:
                return None
        except PeerNotAuthorized:  # not a certificate: whoever it is, not the router
            return None
        named = [str(value) for key, value in metadata if key == ROUTED_FOR]
        if len(named) != 1 or not named[0]:
            raise PeerNotAuthorized(f"router call without one {ROUTED_FOR}")
        return named[0]
