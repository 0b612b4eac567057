"""Ping on the wire: PingRequest / PingResponse ↔ domain (clear, over mutual TLS)."""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.v1 import exchange_pb2 as pb


@dataclass(frozen=True)
class PingQuery:
    sender: str
    agreement_hash: str
    """Hex SHA-256 of the agreement the caller holds."""
    sent_at_ms: int


@dataclass(frozen=True)
class PingAnswer:
    party: str
    agreement_id: str
    agreement_hash: str
    agreement_matches: bool
    server_time_ms: int
    software_version: str


def ping_request_to_proto(query: PingQuery) -> pb.PingRequest:
    return pb.PingRequest(
        sender=query.sender, agreement_hash=query.agreement_hash, sent_at_ms=query.sent_at_ms
    )


def ping_request_from_proto(message: pb.PingRequest) -> PingQuery:
    return PingQuery(message.sender[:8], message.agreement_hash[:64], int(message.sent_at_ms))


def ping_response_to_proto(answer: PingAnswer) -> pb.PingResponse:
    return pb.PingResponse(
        party=answer.party,
        agreement_id=answer.agreement_id,
        agreement_hash=answer.agreement_hash,
        agreement_matches=answer.agreement_matches,
        server_time_ms=answer.server_time_ms,
        software_version=answer.software_version,
    )


def ping_response_from_proto(message: pb.PingResponse) -> PingAnswer:
    return PingAnswer(
        party=message.party,
        agreement_id=message.agreement_id,
        agreement_hash=message.agreement_hash,
        agreement_matches=message.agreement_matches,
        server_time_ms=int(message.server_time_ms),
        software_version=message.software_version,
    )
