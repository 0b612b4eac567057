"""Ping a partner: its identity, the agreement it holds with us, its clock."""

from __future__ import annotations

from biometric_exchange.exceptions import AgreementMismatch
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import PING
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.ping import (
    PingAnswer,
    PingQuery,
    ping_request_to_proto,
    ping_response_from_proto,
)


def ping(link: Link, transport: PeerTransport, *, timeout: float | None = None) -> PingAnswer:
    """Ping ``link``'s partner, stating the agreement we hold with them."""
    node = link.node
    query = PingQuery(node.country, link.policy.agreement_hash, node.clock())
    reply = transport.call(
        PING,
        ping_request_to_proto(query),
        timeout=node.config.exchange.request_timeout_s if timeout is None else timeout,
    )
    return ping_response_from_proto(reply)


def check_partner_agreement(link: Link, transport: PeerTransport) -> None:
    """Refuse to exchange when the partner holds another agreement with us."""
    if not ping(link, transport).agreement_matches:
        raise AgreementMismatch("the partner holds a different agreement (Ping)")
