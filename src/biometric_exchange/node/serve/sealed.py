"""Serving one sealed request: agreement first, then the envelope, then the work,
all audited, the writes of an accepted call in one transaction.

Order: the (unverified) header must name an unrevoked key and our agreement,
which must be in force (else ``FAILED_PRECONDITION``); then the envelope must
verify and decrypt (else ``UNAUTHENTICATED``); then the handler checks the
body against the agreement (``check``, no writes) and does what needs no
database writes (``prepare``: the search). Last, one transaction (shared with
concurrent calls: ``Database.group``) remembers the message id (a replay is
refused here), counts the quota and decides what
must be decided under the write lock (``admit``), records the acceptance,
does the handler's writes (``answer``) and records the reply, whose id is
chosen beforehand; the reply is sealed once the transaction has committed.
Every refusal is written to our audit log with its reason before it is
raised; a refused message id is remembered too, so it cannot be replayed
later to better effect. Refusals before the signature verified are counted
instead (``store.refusals``): one audit entry per reason and hour, reasons that
quote no header field, and only the first 64 characters of a claimed id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from biometric_exchange.crypto.envelope import (
    OpenedEnvelope,
    authenticate,
    check_fresh,
    decrypt_authenticated,
    new_message_id,
    read_header,
    seal,
)
from biometric_exchange.exceptions import ExchangeError, InvalidEnvelope
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import Sealed
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.v1 import exchange_pb2 as pb

log = logging.getLogger(__name__)
Checked = TypeVar("Checked")
Prepared = TypeVar("Prepared")
Admitted = TypeVar("Admitted")
MAX_CLAIMED_ID = 64
"""How much of an unverified message id a refusal records."""


class Answer(Protocol[Checked, Prepared, Admitted]):
    """What one sealed method does with a request it has opened.

    Each step raises an ``ExchangeError`` to refuse the request.
    """

    def check(self, body: bytes) -> Checked:
        """Parse the body and check it against the agreement; no writes."""
        ...

    def prepare(self, checked: Checked) -> Prepared:
        """Work that needs no write (outside the transaction): a search, a read."""
        ...

    def admit(self, checked: Checked, prepared: Prepared) -> Admitted:
        """Inside the transaction: the quota and what must be decided under the lock."""
        ...

    def describe(self, admitted: Admitted) -> Mapping[str, Any]:
        """The acceptance's audit detail."""
        ...

    def answer(self, admitted: Admitted) -> tuple[bytes, Mapping[str, Any]]:
        """The handler's writes; the reply body and the reply's audit detail."""
        ...


def serve_sealed(
    link: Link,
    rpc: Sealed,
    envelope: pb.SealedEnvelope,
    handler: Answer[Checked, Prepared, Admitted],
) -> pb.SealedEnvelope:
    """Open, check, prepare, then in one transaction admit, answer and seal the reply."""
    sealing = rpc.sealed
    opened = _open(link, envelope, rpc)
    message_id = opened.header.message_id
    node = link.node
    try:
        checked = handler.check(opened.body)
        prepared = handler.prepare(checked)

        reply_id = new_message_id()

        def commit() -> bytes:
            check_fresh(node.replay_guard, opened.header)
            admitted = handler.admit(checked, prepared)
            node.audit.record(
                sealing.received,
                AuditOutcome.ACCEPTED,
                peer=link.code,
                message_id=message_id,
                **handler.describe(admitted),
            )
            body, detail = handler.answer(admitted)
            node.audit.record(
                sealing.reply_sent,
                AuditOutcome.ACCEPTED,
                peer=link.code,
                message_id=reply_id,
                in_reply_to=message_id,
                **detail,
            )
            return body

        body = node.database.group(commit)
        # Sealed once committed, under the id recorded (the commit is serialised, the
        # sealing need not be).
        reply = seal(
            link.envelope,
            sealing.reply_type,
            body,
            now_ms=node.clock(),
            in_reply_to=message_id,
            message_id=reply_id,
        )
    except ExchangeError as exc:
        refuse(link, sealing.received, opened, exc)
        raise
    log.info(
        "%s to %s",
        sealing.reply_sent.value,
        link.code,
        extra={
            "message_id": message_id,
            "reply_id": reply_id,
            "peer": link.code,
            "event": sealing.reply_sent.value,
        },
    )
    return reply


def _open(link: Link, envelope: pb.SealedEnvelope, rpc: Sealed) -> OpenedEnvelope:
    """The header's agreement checks, then signature and decryption.

    A refusal before the signature verified is counted (``RefusalCounts``: one
    audit entry per reason and hour); one after it is audited in full, with
    the message id the sender claimed."""
    sealing = rpc.sealed
    node = link.node
    claimed: str | None = None
    try:
        header = read_header(envelope)
        claimed = header.message_id[:MAX_CLAIMED_ID] or None
        link.policy.check_key_not_revoked(header.sender_key_id)
        link.policy.check_same_agreement(header.agreement_id, header.agreement_hash)
        link.policy.check_in_force(node.today())
        authenticate(link.envelope, envelope, header)
    except ExchangeError as exc:
        node.refusals.count(sealing.received, link.code, _reason(exc), claimed_message_id=claimed)
        _log_refusal(link, sealing.received, claimed, exc)
        raise
    try:
        return decrypt_authenticated(
            link.envelope, envelope, header, now_ms=node.clock(), expected_type=sealing.request_type
        )
    except ExchangeError as exc:
        node.audit.record(
            sealing.received,
            AuditOutcome.REJECTED,
            peer=link.code,
            claimed_message_id=claimed,
            reason=_reason(exc),
        )
        _log_refusal(link, sealing.received, claimed, exc)
        raise


def _reason(error: ExchangeError) -> str:
    return error.reason if isinstance(error, InvalidEnvelope) else str(error)


def refuse(link: Link, event: AuditEvent, opened: OpenedEnvelope, error: ExchangeError) -> None:
    """Audit the refusal of an opened request (terms, scope, quota, malformed body,
    replay) and remember its message id, in one transaction."""
    node = link.node
    header = opened.header
    # A replay is recorded under the id it claims, not as a second entry of the original.
    replayed = isinstance(error, InvalidEnvelope)
    ids = {"claimed_message_id" if replayed else "message_id": header.message_id}
    reason = _reason(error)
    with node.database.transaction():
        node.replay_guard.remember(header.message_id, header.sender, header.created_at_ms)
        node.audit.record(event, AuditOutcome.REJECTED, peer=link.code, reason=reason, **ids)
    _log_refusal(link, event, header.message_id, error)


def _log_refusal(
    link: Link, event: AuditEvent, message_id: str | None, error: ExchangeError
) -> None:
    log.info(
        "%s from %s refused: %s",
        event.value,
        link.code,
        type(error).__name__,
        extra={"message_id": message_id, "peer": link.code, "event": event.value},
    )
