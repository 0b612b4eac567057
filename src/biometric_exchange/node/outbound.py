"""One sealed round trip to the partner, audited the same way for every call.

Seal the body, record the send, call, open the reply (it must answer our
message id), parse it, record the receipt. A call that fails is recorded as
``failed`` (partner unreachable) or ``rejected`` (partner refused, or a reply
that does not open or parse) and raised, so each caller only decides what
the failure means for its own records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from biometric_exchange.crypto.envelope import open_envelope, read_header, seal
from biometric_exchange.exceptions import ExchangeError, InvalidEnvelope, PartnerUnavailable
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.v1 import exchange_pb2 as pb

T = TypeVar("T")
Call = Callable[[pb.SealedEnvelope], pb.SealedEnvelope]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundTrip:
    request_type: pb.MessageType.ValueType
    response_type: pb.MessageType.ValueType
    sent_event: AuditEvent
    reply_event: AuditEvent


IDENTIFY = RoundTrip(
    pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
    pb.MESSAGE_TYPE_IDENTIFY_RESPONSE,
    AuditEvent.IDENTIFY_SENT,
    AuditEvent.IDENTIFY_REPLY_RECEIVED,
)
DETAILS = RoundTrip(
    pb.MESSAGE_TYPE_DETAILS_REQUEST,
    pb.MESSAGE_TYPE_DETAILS_RESPONSE,
    AuditEvent.DETAILS_SENT,
    AuditEvent.DETAILS_REPLY_RECEIVED,
)
AUDIT_DIGEST = RoundTrip(
    pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST,
    pb.MESSAGE_TYPE_AUDIT_DIGEST_RESPONSE,
    AuditEvent.DIGEST_SENT,
    AuditEvent.DIGEST_RECEIVED,
)


def round_trip(
    node: Node,
    kind: RoundTrip,
    body: bytes,
    call: Call,
    parse: Callable[[bytes], T],
    *,
    sent: Mapping[str, Any],
    summary: Callable[[T], Mapping[str, Any]] = lambda _result: {},
    context: Mapping[str, Any] | None = None,
) -> T:
    """Send ``body`` sealed; return the parsed reply. ``sent`` goes into the send
    entry, ``summary(result)`` into the receipt, ``context`` into both reply entries."""
    partner = node.partner.code
    envelope_context = node.envelope_context()
    request = seal(envelope_context, kind.request_type, body, now_ms=node.clock())
    request_id = read_header(request).message_id
    reply_context = dict(context or {})
    node.audit.record(
        kind.sent_event, AuditOutcome.ACCEPTED, peer=partner, message_id=request_id, **sent
    )
    try:
        reply = call(request)
        opened = open_envelope(
            envelope_context,
            reply,
            now_ms=node.clock(),
            replay_guard=node.replay_guard,
            expected_type=kind.response_type,
            expected_in_reply_to=request_id,
        )
        result = parse(opened.body)
    except ExchangeError as exc:
        log.info(
            "%s to %s not answered: %s",
            kind.sent_event.value,
            partner,
            type(exc).__name__,
            extra={"message_id": request_id, "peer": partner, "event": kind.sent_event.value},
        )
        node.audit.record(
            kind.reply_event,
            AuditOutcome.FAILED if isinstance(exc, PartnerUnavailable) else AuditOutcome.REJECTED,
            peer=partner,
            message_id=None,
            in_reply_to=request_id,
            reason=exc.reason if isinstance(exc, InvalidEnvelope) else str(exc),
            **reply_context,
        )
        raise
    node.audit.record(
        kind.reply_event,
        AuditOutcome.ACCEPTED,
        peer=partner,
        message_id=opened.header.message_id,
        in_reply_to=request_id,
        **reply_context,
        **summary(result),
    )
    log.info(
        "%s to %s answered",
        kind.sent_event.value,
        partner,
        extra={
            "message_id": request_id,
            "reply_id": opened.header.message_id,
            "peer": partner,
            "event": kind.sent_event.value,
        },
    )
    return result
