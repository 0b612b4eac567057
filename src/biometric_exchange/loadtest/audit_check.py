"""Both audit logs against the calls of one run, matched by message id."""

from __future__ import annotations

from biometric_exchange.loadtest.results import AuditCheck, RunStats
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEntry


def last_seq(node: Node) -> int:
    """The seq of the node's latest audit entry (0 when the log is empty)."""
    row = node.database.connection.execute("SELECT max(seq) FROM audit_log").fetchone()
    return int(row[0] or 0)


def _entries_after(node: Node, seq: int) -> list[AuditEntry]:
    return [entry for entry in node.audit.entries() if entry.seq > seq]


def _about(entry: AuditEntry) -> str | None:
    """The request an entry is about: its message id, the claimed one, or the one it answers."""
    for value in (
        entry.detail.get("in_reply_to"),
        entry.message_id,
        entry.detail.get("claimed_message_id"),
    ):
        if value:
            return str(value)
    return None


def check_audit(
    caller: Node, holder: Node, stats: RunStats, *, caller_after: int, holder_after: int
) -> AuditCheck:
    """Match this run's calls in both logs by the caller's request message ids."""
    ours = _entries_after(caller, caller_after)
    sent = {e.message_id for e in ours if e.event == "identify.sent" and e.message_id}
    outcomes = {
        str(e.detail["in_reply_to"]): e.outcome
        for e in ours
        if e.event == "identify.reply_received" and e.detail.get("in_reply_to") in sent
    }
    answered = {request for request, outcome in outcomes.items() if outcome == "accepted"}
    theirs = [e for e in _entries_after(holder, holder_after) if _about(e) in sent]
    accepted = {
        _about(e) for e in theirs if e.event == "identify.received" and e.outcome == "accepted"
    }
    rejected = {
        _about(e) for e in theirs if e.event == "identify.received" and e.outcome == "rejected"
    }
    replied = {_about(e) for e in theirs if e.event == "identify.reply_sent"}
    unanswered = sent - answered
    return AuditCheck(
        calls=stats.calls,
        answered=stats.answered,
        caller_sent=len(sent),
        caller_outcomes=len(outcomes),
        caller_answered=len(answered),
        holder_accepted=len(accepted),
        holder_rejected=len(rejected),
        holder_replied=len(replied),
        answered_missing_at_holder=len(answered - (accepted & replied)),
        holder_after_caller_gave_up=len(unanswered & accepted & replied),
        never_reached_holder=len(unanswered - accepted - rejected),
    )
