"""Reconciling two audit logs: each side's digest of what it recorded about the other.

A digest lists the message id, event, outcome and time of the ``identify.*``
and ``details.*`` entries about one partner (for Identify, with the digest of
the request's scope commitments); ``reconcile`` pairs each send with the
partner's receive by message id and lists what only one side recorded, and
the requests whose commitments the two sides recorded differently.
The partner's log is the anchor our own hash chain lacks: an entry removed
and re-chained here still shows there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from biometric_exchange.domain import RecordDigest
from biometric_exchange.store.audit.chain import AuditEntry
from biometric_exchange.store.audit.log import AuditLog

DIGEST_EVENT_PREFIXES = ("identify.", "details.")

COUNTERPART: dict[str, str] = {
    "identify.sent": "identify.received",
    "identify.reply_sent": "identify.reply_received",
    "identify.reveal_sent": "identify.reveal_received",
    "identify.reveal_reply_sent": "identify.reveal_reply_received",
    "details.sent": "details.received",
    "details.reply_sent": "details.reply_received",
}
COUNTERPART.update({received: sent for sent, received in list(COUNTERPART.items())})


@dataclass(frozen=True)
class Reconciliation:
    """``only_ours``: we recorded it, the partner has no counterpart; ``only_theirs``:
    the reverse; ``outcome_differs``: (ours, theirs) pairs with different outcomes."""

    matched: int
    only_ours: list[RecordDigest] = field(default_factory=list)
    only_theirs: list[RecordDigest] = field(default_factory=list)
    outcome_differs: list[tuple[RecordDigest, RecordDigest]] = field(default_factory=list)
    commitments_differ: list[tuple[RecordDigest, RecordDigest]] = field(default_factory=list)
    """Identify requests whose scope commitments the two logs record differently."""

    @property
    def consistent(self) -> bool:
        return not (self.only_ours or self.only_theirs or self.commitments_differ)

    def within(self, from_ms: int, until_ms: int) -> Reconciliation:
        """Only the unmatched records dated in [from_ms, until_ms): reconcile over a
        wider period, then keep its core, so clock skew at the edges is not a gap."""

        def keep(record: RecordDigest) -> bool:
            return from_ms <= record.at_ms < until_ms

        return Reconciliation(
            matched=self.matched,
            only_ours=[r for r in self.only_ours if keep(r)],
            only_theirs=[r for r in self.only_theirs if keep(r)],
            outcome_differs=[p for p in self.outcome_differs if keep(p[0]) or keep(p[1])],
            commitments_differ=[p for p in self.commitments_differ if keep(p[0]) or keep(p[1])],
        )


def _digest_id(entry: AuditEntry) -> str | None:
    """The message id an entry is about; a refused receive keeps the claimed one."""
    if entry.message_id:
        return entry.message_id
    claimed = entry.detail.get("claimed_message_id")
    return str(claimed) if claimed else None


def digest_entries(entries: Iterable[AuditEntry], peer: str) -> list[RecordDigest]:
    """The digest records of ``entries`` about exchanges with ``peer``."""
    records = []
    for entry in entries:
        message_id = _digest_id(entry)
        if entry.peer != peer or message_id is None:
            continue
        if not entry.event.startswith(DIGEST_EVENT_PREFIXES):
            continue
        commitments = str(entry.detail.get("commitments") or "")
        records.append(
            RecordDigest(message_id, entry.event, entry.outcome, entry.at_ms, commitments)
        )
    return records


def local_digest(audit: AuditLog, peer: str, from_ms: int, until_ms: int) -> list[RecordDigest]:
    """Our own digest of exchanges with ``peer`` in [from_ms, until_ms)."""
    return digest_entries(audit.entries_between(from_ms, until_ms), peer)


def reconcile(ours: list[RecordDigest], theirs: list[RecordDigest]) -> Reconciliation:
    """Pair each of our sends and receives with the partner's counterpart by message
    id (``identify.sent`` with ``identify.received`` and so on, both directions)."""
    their_index: dict[tuple[str, str], RecordDigest] = {}
    for record in theirs:
        their_index.setdefault((record.event, record.message_id), record)
    our_keys = {(r.event, r.message_id) for r in ours}
    matched = 0
    only_ours: list[RecordDigest] = []
    differs: list[tuple[RecordDigest, RecordDigest]] = []
    commitments: list[tuple[RecordDigest, RecordDigest]] = []
    for record in ours:
        counterpart = COUNTERPART.get(record.event)
        if counterpart is None:
            continue
        theirs_record = their_index.get((counterpart, record.message_id))
        if theirs_record is None:
            only_ours.append(record)
            continue
        matched += 1
        if theirs_record.outcome != record.outcome:
            differs.append((record, theirs_record))
        elif record.commitments and theirs_record.commitments != record.commitments:
            commitments.append((record, theirs_record))
    only_theirs = [
        r
        for r in theirs
        if r.event in COUNTERPART and (COUNTERPART[r.event], r.message_id) not in our_keys
    ]
    return Reconciliation(
        matched=matched,
        only_ours=only_ours,
        only_theirs=only_theirs,
        outcome_differs=differs,
        commitments_differ=commitments,
    )
