"""The callee's side of ``AuditDigest``: our digest of exchanges with the caller.

The reply lists the message id, event, outcome and time of our ``identify.*``
and ``details.*`` entries about the caller in the period asked
(``store.audit.reconcile``), never their detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biometric_exchange.domain import RecordDigest
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import AUDIT_DIGEST
from biometric_exchange.node.serve.sealed import serve_sealed
from biometric_exchange.serde.digest import (
    DigestPeriod,
    digest_request_from_bytes,
    digest_response_to_bytes,
)
from biometric_exchange.store.audit.reconcile import local_digest
from biometric_exchange.v1 import exchange_pb2 as pb

MAX_RECORDS = 20_000
"""The most records one reply carries (keeps it well under gRPC's 4 MB)."""

_Listed = tuple[DigestPeriod, list[RecordDigest]]


class AuditDigestHandler:
    """Lists our records of exchanges with one partner, for that partner."""

    def __init__(self, link: Link) -> None:
        self._link = link

    def handle(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        return serve_sealed(self._link, AUDIT_DIGEST, envelope, self)

    def check(self, body: bytes) -> DigestPeriod:
        return digest_request_from_bytes(body)

    def prepare(self, period: DigestPeriod) -> list[RecordDigest]:
        link = self._link
        records = local_digest(link.node.audit, link.code, period.from_ms, period.until_ms)
        if len(records) > MAX_RECORDS:
            raise InvalidInput(f"audit digest: {len(records)} records; ask for a shorter period")
        return records

    def admit(self, period: DigestPeriod, records: list[RecordDigest]) -> _Listed:
        return period, records

    def describe(self, listed: _Listed) -> Mapping[str, Any]:
        return {"from_ms": listed[0].from_ms, "until_ms": listed[0].until_ms}

    def answer(self, listed: _Listed) -> tuple[bytes, Mapping[str, Any]]:
        return digest_response_to_bytes(listed[1]), {"records": len(listed[1])}
