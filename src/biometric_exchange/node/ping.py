"""Ping: who we are, which agreement we hold, what time it is here."""

from __future__ import annotations

from biometric_exchange import __version__
from biometric_exchange.node.runtime import Node
from biometric_exchange.v1 import exchange_pb2 as pb


def answer_ping(node: Node, request: pb.PingRequest) -> pb.PingResponse:
    return pb.PingResponse(
        party=node.country,
        agreement_id=node.agreement.id,
        agreement_hash=node.policy.agreement_hash,
        agreement_matches=request.agreement_hash == node.policy.agreement_hash,
        server_time_ms=node.clock(),
        software_version=__version__,
    )
