"""Ping: who we are, which agreement we hold with the caller, what time it is here.

Every Ping is audited on our side, counted rather than written per call
(``store.call_counts``): one entry per partner, outcome, reason and UTC hour.
A Ping whose stated sender is not the partner its certificate proves is
refused (``INVALID_ARGUMENT``).
"""

from __future__ import annotations

from biometric_exchange import __version__
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import PING
from biometric_exchange.serde.ping import (
    PingAnswer,
    ping_request_from_proto,
    ping_response_to_proto,
)
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.call_counts import CallCounts
from biometric_exchange.v1 import exchange_pb2 as pb

SAME_AGREEMENT = "same agreement"
OTHER_AGREEMENT = "caller holds another agreement"
NOT_THE_CALLER = "sender is not the calling party"


def _event() -> AuditEvent:
    if PING.counted is None:  # pragma: no cover - the RPC table names it
        raise TypeError("Ping has no counted audit event")
    return PING.counted


class PingHandler:
    """Answers one partner's Ping under our agreement with them (clear, over mTLS)."""

    def __init__(self, link: Link) -> None:
        self._link = link
        node = link.node
        self._counts = CallCounts(node.database, node.audit, node.clock)

    def handle(self, request: pb.PingRequest) -> pb.PingResponse:
        query = ping_request_from_proto(request)
        link = self._link
        if query.sender != link.code:
            self._counts.count(_event(), AuditOutcome.REJECTED, link.code, NOT_THE_CALLER)
            raise InvalidInput(f"sender: {NOT_THE_CALLER}")
        matches = query.agreement_hash == link.policy.agreement_hash
        reason = SAME_AGREEMENT if matches else OTHER_AGREEMENT
        self._counts.count(_event(), AuditOutcome.ACCEPTED, link.code, reason)
        return ping_response_to_proto(
            PingAnswer(
                party=link.node.country,
                agreement_id=link.agreement.id,
                agreement_hash=link.policy.agreement_hash,
                agreement_matches=matches,
                server_time_ms=link.node.clock(),
                software_version=__version__,
            )
        )
