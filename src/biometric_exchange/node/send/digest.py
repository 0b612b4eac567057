"""Asking a partner for its audit digest, and reconciling it with ours."""

from __future__ import annotations

from biometric_exchange.crypto.envelope import TIME_WINDOW_MS
from biometric_exchange.domain import RecordDigest
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import AUDIT_DIGEST
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.digest import (
    DigestPeriod,
    digest_request_to_bytes,
    digest_response_from_bytes,
)
from biometric_exchange.store.audit.reconcile import Reconciliation, local_digest, reconcile


def request_digest(
    link: Link, transport: PeerTransport, period: DigestPeriod
) -> list[RecordDigest]:
    """``link``'s partner's digest of its exchanges with us in the period."""
    return round_trip(
        link,
        transport,
        AUDIT_DIGEST,
        digest_request_to_bytes(period),
        digest_response_from_bytes,
        sent={"from_ms": period.from_ms, "until_ms": period.until_ms},
        summary=lambda records: {"records": len(records)},
    )


def reconcile_with_partner(
    link: Link,
    transport: PeerTransport,
    *,
    from_ms: int,
    until_ms: int,
    margin_ms: int = TIME_WINDOW_MS,
) -> Reconciliation:
    """Reconcile [from_ms, until_ms) with ``link``'s partner: both digests are taken
    ``margin_ms`` wider so that an exchange straddling an edge (clock skew,
    latency) is not a gap."""
    DigestPeriod(from_ms, until_ms)
    wide = DigestPeriod(max(0, from_ms - margin_ms), until_ms + margin_ms)
    theirs = request_digest(link, transport, wide)
    ours = local_digest(link.node.audit, link.code, wide.from_ms, wide.until_ms)
    return reconcile(ours, theirs).within(from_ms, until_ms)
