"""Verification of an audit chain: the first entry altered, removed, reordered or inserted."""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.store.audit.chain import GENESIS, AuditChainBroken, AuditEntry, ChainPoint


def _broken_link(
    entry: AuditEntry, previous: ChainPoint, first: bool, known: dict[str, int]
) -> str:
    """Why ``entry``, whose own hash is right, does not chain to ``previous``."""
    linked = known.get(entry.prev_hash)
    if linked is not None and linked > entry.seq:
        return f"audit entries out of order at {entry.seq}"
    if linked is not None and linked < previous.seq:
        return f"audit entry {linked + 1} was inserted"
    if first:
        return f"audit entry {entry.seq} does not chain to the audit anchor (seq {previous.seq})"
    return f"audit entry {previous.seq} was altered or the entry after it removed"


def verify_chain(
    entries: Sequence[AuditEntry],
    *,
    anchor: ChainPoint = GENESIS,
    head: ChainPoint | None = None,
) -> int:
    """Check ``entries`` (in seq order) chain from ``anchor`` and, when given, end at
    ``head``; return their number or raise AuditChainBroken naming the first problem."""
    known = {anchor.entry_hash: anchor.seq}
    known.update({entry.entry_hash: entry.seq for entry in entries})
    previous = anchor
    for entry in entries:
        expected_seq = previous.seq + 1
        if entry.seq > expected_seq:
            raise AuditChainBroken(
                f"audit entry after {previous.seq} was removed (sequence jumps to {entry.seq})"
            )
        if entry.seq < expected_seq:
            raise AuditChainBroken(f"audit entry {entry.seq} precedes the audit anchor")
        if head is not None and entry.seq > head.seq:
            raise AuditChainBroken(
                f"audit entry {entry.seq} was inserted (the recorded head is {head.seq})"
            )
        if entry.computed_hash() != entry.entry_hash:
            raise AuditChainBroken(f"audit entry {entry.seq} was altered")
        if entry.prev_hash != previous.entry_hash:
            raise AuditChainBroken(_broken_link(entry, previous, previous is anchor, known))
        previous = ChainPoint(entry.seq, entry.entry_hash)
    if head is not None:
        if previous.seq < head.seq:
            raise AuditChainBroken(
                f"audit entry after {previous.seq} was removed (the recorded head is {head.seq})"
            )
        if previous.entry_hash != head.entry_hash:
            raise AuditChainBroken(f"audit entry {previous.seq} was altered")
    return len(entries)
