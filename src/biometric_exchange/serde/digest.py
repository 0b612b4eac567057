"""Audit reconciliation on the wire: AuditDigestRequest / AuditDigestResponse ↔ domain."""

from __future__ import annotations

from dataclasses import dataclass

from biometric_exchange.domain import RecordDigest
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.serde.common import check_text, parse_message, to_bytes
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_WINDOW_MS = 31 * 24 * 3600 * 1000
"""The longest period one request may cover."""


@dataclass(frozen=True)
class DigestPeriod:
    """The non-empty period [from_ms, until_ms), at most 31 days, a digest covers."""

    from_ms: int
    until_ms: int

    def __post_init__(self) -> None:
        if self.from_ms < 0 or self.until_ms <= self.from_ms:
            raise InvalidInput("audit digest: the period must be non-empty")
        if self.until_ms - self.from_ms > MAX_WINDOW_MS:
            raise InvalidInput("audit digest: the period exceeds 31 days")


def digest_request_to_bytes(period: DigestPeriod) -> bytes:
    return to_bytes(pb.AuditDigestRequest(from_ms=period.from_ms, until_ms=period.until_ms))


def digest_request_from_bytes(body: bytes) -> DigestPeriod:
    message = parse_message(pb.AuditDigestRequest, body, "audit digest: malformed request")
    return DigestPeriod(int(message.from_ms), int(message.until_ms))


def digest_response_to_bytes(records: list[RecordDigest]) -> bytes:
    return to_bytes(
        pb.AuditDigestResponse(
            records=[
                pb.AuditRecordDigest(
                    message_id=r.message_id,
                    event=r.event,
                    outcome=r.outcome,
                    at_ms=r.at_ms,
                    commitments=r.commitments,
                )
                for r in records
            ]
        )
    )


def digest_response_from_bytes(body: bytes) -> list[RecordDigest]:
    message = parse_message(pb.AuditDigestResponse, body, "audit digest: malformed reply")
    return [
        RecordDigest(
            message_id=record.message_id,
            event=record.event,
            outcome=record.outcome,
            at_ms=int(record.at_ms),
            commitments=check_text(record.commitments, "records.commitments"),
        )
        for record in message.records
    ]
