"""Audit reconciliation without sockets: PAN asks CHL's handler in-process."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from biometric_exchange.crypto.envelope import seal
from biometric_exchange.domain import RecordDigest
from biometric_exchange.exceptions import AgreementMismatch, InvalidEnvelope, InvalidInput
from biometric_exchange.node.rpc import AUDIT_DIGEST
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.digest import reconcile_with_partner, request_digest
from biometric_exchange.serde.digest import MAX_WINDOW_MS, DigestPeriod
from biometric_exchange.store.audit import AuditChainBroken, AuditEvent, AuditOutcome
from biometric_exchange.store.audit.reconcile import reconcile
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.wiring import handlers, in_memory

HOUR_MS = 3600 * 1000


def new_id() -> str:
    return secrets.token_hex(16)


def exchange(pan: Node, chl: Node) -> dict[str, str]:
    """Audit both sides of: an accepted probe and its reply, a probe CHL refused."""
    ids = {"probe": new_id(), "reply": new_id(), "refused": new_id()}
    pan.audit.record(
        AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="CHL", message_id=ids["probe"]
    )
    chl.audit.record(
        AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="PAN", message_id=ids["probe"]
    )
    chl.audit.record(
        AuditEvent.IDENTIFY_REPLY_SENT, AuditOutcome.ACCEPTED, peer="PAN", message_id=ids["reply"]
    )
    pan.audit.record(
        AuditEvent.IDENTIFY_REPLY_RECEIVED,
        AuditOutcome.ACCEPTED,
        peer="CHL",
        message_id=ids["reply"],
    )
    pan.audit.record(
        AuditEvent.IDENTIFY_SENT, AuditOutcome.ACCEPTED, peer="CHL", message_id=ids["refused"]
    )
    chl.audit.record(
        AuditEvent.IDENTIFY_RECEIVED,
        AuditOutcome.REJECTED,
        peer="PAN",
        claimed_message_id=ids["refused"],
        reason="timestamp outside the window by 400 s",
    )
    # Not about PAN, or not an exchange: never in a digest.
    chl.audit.record(
        AuditEvent.IDENTIFY_RECEIVED, AuditOutcome.ACCEPTED, peer="COL", message_id=new_id()
    )
    chl.audit.record(AuditEvent.PEER_REFUSED, AuditOutcome.REJECTED, peer="PAN", reason="no cert")
    return ids


def digest_of(chl: Node, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
    """CHL's AuditDigest handler for PAN, called directly."""
    return handlers(chl, "PAN").handle(AUDIT_DIGEST, envelope)


def window(node: Node) -> tuple[int, int]:
    now = node.clock()
    return now - HOUR_MS, now + 60_000


def test_handler_lists_the_callers_exchanges_and_both_sides_audit(nodes: dict[str, Node]) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    ids = exchange(pan, chl)
    from_ms, until_ms = window(pan)
    records = request_digest(
        pan.link("CHL"), in_memory(chl, "PAN"), DigestPeriod(from_ms, until_ms)
    )
    assert sorted((r.event, r.message_id, r.outcome) for r in records) == sorted(
        [
            ("identify.received", ids["probe"], "accepted"),
            ("identify.reply_sent", ids["reply"], "accepted"),
            ("identify.received", ids["refused"], "rejected"),
        ]
    )
    assert all(from_ms <= r.at_ms < until_ms for r in records)

    chl_events = [(e.event, e.outcome) for e in chl.audit.entries()][-2:]
    assert chl_events == [("audit_digest.received", "accepted"), ("audit_digest.sent", "accepted")]
    pan_entries = pan.audit.entries()[-2:]
    assert [e.event for e in pan_entries] == ["audit_digest.sent", "audit_digest.received"]
    assert pan_entries[1].detail == {"in_reply_to": pan_entries[0].message_id, "records": 3}
    assert chl.audit.verify() > 0 and pan.audit.verify() > 0


def test_period_outside_the_exchanges_is_empty(nodes: dict[str, Node]) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    exchange(pan, chl)
    from_ms, _ = window(pan)
    records = request_digest(
        pan.link("CHL"), in_memory(chl, "PAN"), DigestPeriod(from_ms - HOUR_MS, from_ms)
    )
    assert records == []


def test_logs_agree_then_a_deleted_receive_shows(nodes: dict[str, Node]) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    ids = exchange(pan, chl)
    from_ms, until_ms = window(pan)
    link, call = pan.link("CHL"), in_memory(chl, "PAN")
    agreed = reconcile_with_partner(link, call, from_ms=from_ms, until_ms=until_ms)
    assert agreed.consistent
    assert agreed.matched == 3
    assert [(o.outcome, t.outcome) for o, t in agreed.outcome_differs] == [("accepted", "rejected")]

    # CHL removes its record of the first probe; its own chain shows it...
    with chl.database.transaction() as connection:
        connection.execute(
            "DELETE FROM audit_log WHERE message_id = ? AND event = 'identify.received'",
            (ids["probe"],),
        )
    with pytest.raises(AuditChainBroken, match="was removed"):
        chl.audit.verify()
    # ...and so does PAN's log, which CHL cannot rewrite.
    result = reconcile_with_partner(link, call, from_ms=from_ms, until_ms=until_ms)
    assert not result.consistent
    assert [(r.event, r.message_id) for r in result.only_ours] == [("identify.sent", ids["probe"])]
    assert result.only_theirs == []
    assert result.matched == 2


def test_handler_refuses_a_wrong_message_type_and_audits_it(nodes: dict[str, Node]) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    envelope = seal(
        pan.link("CHL").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        pb.AuditDigestRequest(from_ms=1, until_ms=2).SerializeToString(),
        now_ms=pan.clock(),
    )
    with pytest.raises(InvalidEnvelope) as caught:
        digest_of(chl, envelope)
    assert caught.value.reason.startswith("unexpected message type")
    last = chl.audit.entries()[-1]
    assert (last.event, last.outcome) == ("audit_digest.received", "rejected")
    assert last.detail["reason"].startswith("unexpected message type")


@pytest.mark.parametrize(
    ("from_ms", "until_ms"), [(5_000, 5_000), (10_000, 5_000), (0, MAX_WINDOW_MS + 1)]
)
def test_handler_refuses_a_bad_period(nodes: dict[str, Node], from_ms: int, until_ms: int) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    envelope = seal(
        pan.link("CHL").envelope,
        pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST,
        pb.AuditDigestRequest(from_ms=from_ms, until_ms=until_ms).SerializeToString(),
        now_ms=pan.clock(),
    )
    with pytest.raises(InvalidInput, match="audit digest: the period"):
        digest_of(chl, envelope)
    assert chl.audit.entries()[-1].outcome == "rejected"


def digest(event: str, message_id: str, outcome: str = "accepted", at_ms: int = 1) -> RecordDigest:
    return RecordDigest(message_id=message_id, event=event, outcome=outcome, at_ms=at_ms)


def test_reconcile_pairs_every_direction_and_lists_the_gaps() -> None:
    ours = [
        digest("identify.sent", "a"),
        digest("identify.reply_received", "b"),
        digest("details.sent", "c"),
        digest("details.reply_received", "d"),
        digest("identify.received", "e"),
        digest("identify.reply_sent", "f"),
        digest("details.received", "g", "rejected"),
        digest("details.reply_sent", "h"),
        digest("identify.sent", "lost"),
        digest("audit_digest.sent", "ignored"),
    ]
    theirs = [
        digest("identify.received", "a"),
        digest("identify.reply_sent", "b"),
        digest("details.received", "c"),
        digest("details.reply_sent", "d"),
        digest("identify.sent", "e"),
        digest("identify.reply_received", "f"),
        digest("details.sent", "g"),
        digest("details.reply_received", "h"),
        digest("identify.reply_sent", "unseen", at_ms=50),
        digest("identify.sent", "lost-2"),
    ]
    result = reconcile(ours, theirs)
    assert result.matched == 8
    assert result.only_ours == [digest("identify.sent", "lost")]
    assert result.only_theirs == [
        digest("identify.reply_sent", "unseen", at_ms=50),
        digest("identify.sent", "lost-2"),
    ]
    assert result.outcome_differs == [
        (digest("details.received", "g", "rejected"), digest("details.sent", "g"))
    ]
    # Same message id, wrong counterpart: not a match.
    crossed = reconcile([digest("identify.sent", "x")], [digest("identify.reply_received", "x")])
    assert crossed.matched == 0 and len(crossed.only_ours) == len(crossed.only_theirs) == 1
    # ``within`` keeps the gaps dated in the period only.
    assert result.within(10, 100).only_theirs == [digest("identify.reply_sent", "unseen", at_ms=50)]


def test_handler_checks_the_agreement_first(nodes: dict[str, Node]) -> None:
    """A request under another agreement is a failed precondition, audited."""
    chl, pan = nodes["CHL"], nodes["PAN"]
    context = dataclasses.replace(pan.link("CHL").envelope, agreement_hash="f" * 64)
    body = pb.AuditDigestRequest(from_ms=0, until_ms=1).SerializeToString()
    envelope = seal(context, pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST, body, now_ms=pan.clock())
    with pytest.raises(AgreementMismatch, match="agreement hash differs from ours"):
        digest_of(chl, envelope)
    entry = chl.audit.entries()[-1]
    assert (entry.event, entry.outcome) == (AuditEvent.DIGEST_RECEIVED.value, "rejected")
