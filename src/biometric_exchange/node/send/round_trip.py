"""One sealed round trip to a partner, audited the same way for every method.

Seal the body, record the send, call, open the reply (it must answer our
message id), parse it, record the receipt (the replay check and the receipt
share one transaction). A call that fails is recorded as ``failed`` (partner
unreachable) or ``rejected`` (partner refused, or a reply that does not open
or parse) and raised, so each caller only decides what the failure means for
its own records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from biometric_exchange.crypto.envelope import check_fresh, read_header, seal, verify_and_decrypt
from biometric_exchange.exceptions import ExchangeError, InvalidEnvelope, PartnerUnavailable
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import Sealed
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.store.audit import AuditOutcome

T = TypeVar("T")

log = logging.getLogger(__name__)


def round_trip(
    link: Link,
    transport: PeerTransport,
    rpc: Sealed,
    body: bytes,
    parse: Callable[[bytes], T],
    *,
    sent: Mapping[str, Any],
    summary: Callable[[T], Mapping[str, Any]] = lambda _result: {},
    context: Mapping[str, Any] | None = None,
    timeout: float | None = None,
) -> T:
    """Send ``body`` sealed to ``link``'s partner by ``rpc``; return the parsed reply.
    ``sent`` goes into the send entry, ``summary(result)`` into the receipt,
    ``context`` into both reply entries; ``timeout`` (seconds) defaults to the
    node's ``request_timeout_s``."""
    node = link.node
    kind = rpc.sealed
    partner = link.code
    request = seal(link.envelope, kind.request_type, body, now_ms=node.clock())
    request_id = read_header(request).message_id
    reply_context = dict(context or {})
    node.database.group(
        lambda: node.audit.record(
            kind.sent, AuditOutcome.ACCEPTED, peer=partner, message_id=request_id, **sent
        )
    )
    try:
        deadline = node.config.exchange.request_timeout_s if timeout is None else timeout
        reply = transport.call(rpc, request, timeout=deadline)
        opened = verify_and_decrypt(
            link.envelope,
            reply,
            now_ms=node.clock(),
            expected_type=kind.reply_type,
            expected_in_reply_to=request_id,
        )
        result = parse(opened.body)

        def receipt() -> None:
            check_fresh(node.replay_guard, opened.header)
            node.audit.record(
                kind.reply_received,
                AuditOutcome.ACCEPTED,
                peer=partner,
                message_id=opened.header.message_id,
                in_reply_to=request_id,
                **reply_context,
                **summary(result),
            )

        node.database.group(receipt)
    except ExchangeError as exc:
        log.info(
            "%s to %s not answered: %s",
            kind.sent.value,
            partner,
            type(exc).__name__,
            extra={"message_id": request_id, "peer": partner, "event": kind.sent.value},
        )
        node.audit.record(
            kind.reply_received,
            AuditOutcome.FAILED if isinstance(exc, PartnerUnavailable) else AuditOutcome.REJECTED,
            peer=partner,
            message_id=None,
            in_reply_to=request_id,
            reason=exc.reason if isinstance(exc, InvalidEnvelope) else str(exc),
            **reply_context,
        )
        raise
    log.info(
        "%s to %s answered",
        kind.sent.value,
        partner,
        extra={
            "message_id": request_id,
            "reply_id": opened.header.message_id,
            "peer": partner,
            "event": kind.sent.value,
        },
    )
    return result
