"""Ping: who we are, which agreement we hold with the caller, what time it is here."""

from __future__ import annotations

from biometric_exchange import __version__
from biometric_exchange.node.link import Link
from biometric_exchange.serde.ping import (
    PingAnswer,
    ping_request_from_proto,
    ping_response_to_proto,
)
from biometric_exchange.v1 import exchange_pb2 as pb


class PingHandler:
    """Answers one partner's Ping under our agreement with them (clear, over mTLS)."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def handle(self, request: pb.PingRequest) -> pb.PingResponse:
        query = ping_request_from_proto(request)
        link = self._link
        return ping_response_to_proto(
            PingAnswer(
                party=link.node.country,
                agreement_id=link.agreement.id,
                agreement_hash=link.policy.agreement_hash,
                agreement_matches=query.agreement_hash == link.policy.agreement_hash,
                server_time_ms=link.node.clock(),
                software_version=__version__,
            )
        )
