"""Opening a partner's request: agreement first, then the envelope, all audited.

Order: the (unverified) header must name an unrevoked key and our agreement,
which must be in force (else ``FAILED_PRECONDITION``); then the envelope must
open (else ``UNAUTHENTICATED``). Every refusal is written to our audit log
with its reason before it is raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from biometric_exchange.crypto.envelope import OpenedEnvelope, open_envelope, read_header, seal
from biometric_exchange.exceptions import ExchangeError, InvalidEnvelope
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.v1 import exchange_pb2 as pb

log = logging.getLogger(__name__)
T = TypeVar("T")


def open_request(
    node: Node,
    envelope: pb.SealedEnvelope,
    *,
    expected_type: pb.MessageType.ValueType,
    event: AuditEvent,
) -> OpenedEnvelope:
    partner = node.partner.code
    claimed: str | None = None
    try:
        header = read_header(envelope)
        claimed = header.message_id[:64] or None
        node.policy.check_key_not_revoked(header.sender_key_id)
        node.policy.check_same_agreement(header.agreement_id, header.agreement_hash)
        node.policy.check_in_force(node.today())
        return open_envelope(
            node.envelope_context(),
            envelope,
            now_ms=node.clock(),
            replay_guard=node.replay_guard,
            expected_type=expected_type,
        )
    except ExchangeError as exc:
        reason = exc.reason if isinstance(exc, InvalidEnvelope) else str(exc)
        node.audit.record(
            event, AuditOutcome.REJECTED, peer=partner, claimed_message_id=claimed, reason=reason
        )
        log.info(
            "%s from %s refused: %s",
            event.value,
            partner,
            type(exc).__name__,
            extra={"message_id": claimed, "peer": partner, "event": event.value},
        )
        raise


def accept_request(
    node: Node,
    envelope: pb.SealedEnvelope,
    *,
    expected_type: pb.MessageType.ValueType,
    event: AuditEvent,
    check: Callable[[bytes], T],
    describe: Callable[[T], Mapping[str, Any]],
) -> tuple[str, T]:
    """Open a request, then parse and check its body with ``check`` (which raises to
    refuse it); audit the refusal, or the acceptance with ``describe(checked)``.
    Returns the request's message id and what ``check`` returned."""
    opened = open_request(node, envelope, expected_type=expected_type, event=event)
    message_id = opened.header.message_id
    try:
        checked = check(opened.body)
    except ExchangeError as exc:
        refuse(node, event, message_id, exc)
        raise
    node.audit.record(
        event,
        AuditOutcome.ACCEPTED,
        peer=node.partner.code,
        message_id=message_id,
        **describe(checked),
    )
    return message_id, checked


def refuse(node: Node, event: AuditEvent, message_id: str, error: ExchangeError) -> None:
    """Audit a refusal of an opened request (terms, scope, quota, malformed body)."""
    log.info(
        "%s from %s refused: %s",
        event.value,
        node.partner.code,
        type(error).__name__,
        extra={"message_id": message_id, "peer": node.partner.code, "event": event.value},
    )
    node.audit.record(
        event,
        AuditOutcome.REJECTED,
        peer=node.partner.code,
        message_id=message_id,
        reason=str(error),
    )


def seal_reply(
    node: Node,
    message_type: pb.MessageType.ValueType,
    body: bytes,
    *,
    in_reply_to: str,
    event: AuditEvent,
    **detail: Any,
) -> pb.SealedEnvelope:
    """Seal the answer to ``in_reply_to`` and record that we sent it."""
    reply = seal(
        node.envelope_context(), message_type, body, now_ms=node.clock(), in_reply_to=in_reply_to
    )
    reply_id = read_header(reply).message_id
    node.audit.record(
        event,
        AuditOutcome.ACCEPTED,
        peer=node.partner.code,
        message_id=reply_id,
        in_reply_to=in_reply_to,
        **detail,
    )
    log.info(
        "%s to %s",
        event.value,
        node.partner.code,
        extra={
            "message_id": in_reply_to,
            "reply_id": reply_id,
            "peer": node.partner.code,
            "event": event.value,
        },
    )
    return reply
