"""The audit log: every send and receive, hash-chained so edits show.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's
canonical JSON; sequence numbers run without gaps from the anchor (seq 0 and
the all-zero hash, or the last entry a retention purge removed, kept in
``meta`` as ``audit_anchor``). Every append also writes the chain head
(``audit_head`` in ``meta``) in the same transaction, so ``verify`` detects
removal of the newest entries too.

Limits: anyone who can rewrite the database can rewrite ``meta`` and recompute
every hash; the outside anchor is reconciliation with the partner's log
(``node.audit_digest``) and exports kept elsewhere. Entries hold message ids,
parties, outcomes, reasons and operator ids, never biometric bytes or names.

This module holds ``AuditLog``; the parts live beside it (``events``,
``chain``, ``verify``, ``rows``, ``export``) and every public name is
importable from the package.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from biometric_exchange.domain import utc_now
from biometric_exchange.store.audit.chain import (
    GENESIS,
    AuditChainBroken,
    AuditEntry,
    ChainPoint,
    PurgedRange,
    entry_hash,
)
from biometric_exchange.store.audit.events import AuditEvent, AuditOutcome
from biometric_exchange.store.audit.rows import (
    ANCHOR_KEY,
    HEAD_KEY,
    entry_from_row,
    read_point,
    write_point,
)
from biometric_exchange.store.audit.verify import verify_chain
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection


class AuditLog:
    """The node's audit log; ``clock`` dates new entries (tests pass a fixed one)."""

    def __init__(self, database: Database, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def record(
        self,
        event: AuditEvent,
        outcome: AuditOutcome,
        *,
        peer: str | None = None,
        message_id: str | None = None,
        officer: str | None = None,
        decision: str | None = None,
        rule: str | None = None,
        **detail: Any,
    ) -> AuditEntry:
        """Append one entry in its own transaction.

        ``officer`` (operator id), ``decision`` and ``rule`` go into the detail
        when given; ``detail`` values must be JSON-serializable.
        """
        with self._database.transaction() as connection:
            return self.append(
                connection,
                event,
                outcome,
                peer=peer,
                message_id=message_id,
                officer=officer,
                decision=decision,
                rule=rule,
                **detail,
            )

    def append(
        self,
        connection: Connection,
        event: AuditEvent,
        outcome: AuditOutcome,
        *,
        peer: str | None = None,
        message_id: str | None = None,
        officer: str | None = None,
        decision: str | None = None,
        rule: str | None = None,
        **detail: Any,
    ) -> AuditEntry:
        """Append one entry inside the caller's open transaction, moving the head."""
        extra = {"officer": officer, "decision": decision, "rule": rule}
        detail.update({key: value for key, value in extra.items() if value is not None})
        detail_text = json.dumps(detail, sort_keys=True)
        row = connection.execute(
            "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        anchor = read_point(connection, ANCHOR_KEY) or GENESIS
        prev_hash = str(row[1]) if row is not None else anchor.entry_hash
        head = read_point(connection, HEAD_KEY)
        # The next number after the newest ever appended (the recorded head), not after
        # the newest kept: a truncated tail leaves a gap that verify names. Taken inside
        # this transaction, so a transaction that never commits leaves no gap (a
        # database sequence, as PostgreSQL's identity, would skip its number).
        seq = 1 + max(int(row[0]) if row is not None else 0, head.seq if head else 0, anchor.seq)
        at = self._clock().isoformat(timespec="microseconds")
        new_hash = entry_hash(
            prev_hash,
            at=at,
            event=event.value,
            peer=peer,
            message_id=message_id,
            outcome=outcome.value,
            detail=json.loads(detail_text),
        )
        connection.execute(
            "INSERT INTO audit_log (seq, at, event, peer, message_id, outcome, detail, "
            "prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                at,
                event.value,
                peer,
                message_id,
                outcome.value,
                detail_text,
                prev_hash,
                new_hash,
            ),
        )
        write_point(connection, HEAD_KEY, ChainPoint(seq, new_hash))
        return AuditEntry(
            seq=seq,
            at=at,
            event=event.value,
            peer=peer,
            message_id=message_id,
            outcome=outcome.value,
            detail=json.loads(detail_text),
            prev_hash=prev_hash,
            entry_hash=new_hash,
        )

    def entries(self) -> list[AuditEntry]:
        """Every entry kept, oldest first."""
        rows = self._database.connection.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        return [entry_from_row(row) for row in rows]

    def entries_between(self, from_ms: int, until_ms: int) -> list[AuditEntry]:
        """Entries whose time is in [from_ms, until_ms), oldest first."""
        if until_ms <= from_ms:
            return []
        # julianday narrows the scan (to about a millisecond); the exact test is in Python.
        margin_ms = 1000
        rows = self._database.connection.execute(
            "SELECT * FROM audit_log WHERE julianday(at) >= julianday(?, 'unixepoch') "
            "AND julianday(at) < julianday(?, 'unixepoch') ORDER BY seq",
            ((from_ms - margin_ms) / 1000, (until_ms + margin_ms) / 1000),
        ).fetchall()
        return [e for e in map(entry_from_row, rows) if from_ms <= e.at_ms < until_ms]

    def anchor(self) -> ChainPoint:
        """Where the kept chain starts: genesis, or the last purged entry."""
        return read_point(self._database.connection, ANCHOR_KEY) or GENESIS

    def head(self) -> ChainPoint | None:
        """The newest entry as recorded at append time (None before the first)."""
        return read_point(self._database.connection, HEAD_KEY)

    def verify(self) -> int:
        """Check the kept chain from the anchor to the recorded head; return its length
        or raise AuditChainBroken naming the first entry altered, removed or reordered."""
        connection = self._database.connection
        anchor = read_point(connection, ANCHOR_KEY) or GENESIS
        head = read_point(connection, HEAD_KEY)
        entries = self.entries()
        if head is None:
            if entries or anchor != GENESIS:
                raise AuditChainBroken("audit head is missing from meta")
            return 0
        return verify_chain(entries, anchor=anchor, head=head)

    def purge_before(self, connection: Connection, cutoff: dt.datetime) -> PurgedRange | None:
        """Inside the caller's transaction, delete the oldest entries dated before
        ``cutoff`` (stopping at the first newer one) and move the anchor to the last
        deleted. Refuses (AuditChainBroken) when the chain does not verify."""
        self.verify()
        anchor = read_point(connection, ANCHOR_KEY) or GENESIS
        row = connection.execute(
            "SELECT min(seq) FROM audit_log "
            "WHERE julianday(at) IS NULL OR julianday(at) >= julianday(?)",
            (cutoff.isoformat(),),
        ).fetchone()
        if row[0] is not None:
            last = int(row[0]) - 1
        else:
            last = int(
                connection.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0]
            )
        if last <= anchor.seq:
            return None
        last_hash = connection.execute(
            "SELECT entry_hash FROM audit_log WHERE seq = ?", (last,)
        ).fetchone()[0]
        new_anchor = ChainPoint(last, str(last_hash))
        connection.execute("DELETE FROM audit_log WHERE seq <= ?", (last,))
        write_point(connection, ANCHOR_KEY, new_anchor)
        return PurgedRange(first_seq=anchor.seq + 1, last_seq=last, anchor=new_anchor)
