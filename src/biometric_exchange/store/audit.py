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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from biometric_exchange.domain import utc_now
from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.store.database import Database

GENESIS_HASH = "0" * 64
ANCHOR_KEY = "audit_anchor"
HEAD_KEY = "audit_head"
UNREADABLE_DETAIL = "unreadable_detail"
"""Key under which ``entries`` shows a detail column that is not a JSON object."""

EXPORT_FIELDS = (
    "seq",
    "at",
    "event",
    "peer",
    "message_id",
    "outcome",
    "detail",
    "prev_hash",
    "entry_hash",
)


class AuditEvent(StrEnum):
    IDENTIFY_SENT = "identify.sent"
    IDENTIFY_RECEIVED = "identify.received"
    IDENTIFY_REPLY_SENT = "identify.reply_sent"
    IDENTIFY_REPLY_RECEIVED = "identify.reply_received"
    PEER_REFUSED = "peer.refused"
    # Step 2.
    DETAILS_SENT = "details.sent"
    DETAILS_RECEIVED = "details.received"
    DETAILS_REPLY_SENT = "details.reply_sent"
    DETAILS_REPLY_RECEIVED = "details.reply_received"
    DETAILS_DECIDED = "details.decided"
    # Retention and reconciliation.
    AUDIT_PURGED = "audit.purged"
    DATA_PURGED = "retention.purged"
    DIGEST_SENT = "audit_digest.sent"
    DIGEST_RECEIVED = "audit_digest.received"
    # Alert review.
    ALERT_TRANSITION = "alert.transition"
    # Aggregate counts for surge detection.
    AGGREGATES_SENT = "aggregates.sent"
    AGGREGATES_RECEIVED = "aggregates.received"
    # Keys.
    DATA_KEY_ROTATED = "keys.data_key_rotated"


class AuditOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"


class AuditChainBroken(ExchangeError):
    """An audit entry was altered, removed, reordered or inserted."""


@dataclass(frozen=True)
class ChainPoint:
    """One link of the chain: a sequence number and the entry hash there."""

    seq: int
    entry_hash: str

    def to_json(self) -> str:
        return json.dumps({"seq": self.seq, "entry_hash": self.entry_hash}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, what: str) -> ChainPoint:
        try:
            raw = json.loads(text)
            return cls(seq=int(raw["seq"]), entry_hash=str(raw["entry_hash"]))
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditChainBroken(f"{what} in meta is unreadable") from exc


GENESIS = ChainPoint(0, GENESIS_HASH)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    event: str
    peer: str | None
    message_id: str | None
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    entry_hash: str

    @property
    def officer(self) -> str | None:
        """The operator who acted, when one did."""
        value = self.detail.get("officer")
        return None if value is None else str(value)

    @property
    def decision(self) -> str | None:
        value = self.detail.get("decision")
        return None if value is None else str(value)

    @property
    def rule(self) -> str | None:
        """The agreement rule or policy a decision applied."""
        value = self.detail.get("rule")
        return None if value is None else str(value)

    @property
    def at_ms(self) -> int:
        """``at`` in milliseconds since the Unix epoch."""
        return to_ms(dt.datetime.fromisoformat(self.at))

    def computed_hash(self) -> str:
        """The hash this entry's fields and ``prev_hash`` give (equal to ``entry_hash``
        unless the entry was altered)."""
        return entry_hash(
            self.prev_hash,
            at=self.at,
            event=self.event,
            peer=self.peer,
            message_id=self.message_id,
            outcome=self.outcome,
            detail=self.detail,
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as exported, one JSON object per line."""
        return {name: getattr(self, name) for name in EXPORT_FIELDS}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditEntry:
        missing = [name for name in EXPORT_FIELDS if name not in raw]
        if missing:
            raise InvalidInput(f"audit entry: missing {', '.join(missing)}")
        if not isinstance(raw["detail"], dict):
            raise InvalidInput("audit entry: detail must be an object")
        return cls(
            seq=int(raw["seq"]),
            at=str(raw["at"]),
            event=str(raw["event"]),
            peer=None if raw["peer"] is None else str(raw["peer"]),
            message_id=None if raw["message_id"] is None else str(raw["message_id"]),
            outcome=str(raw["outcome"]),
            detail=raw["detail"],
            prev_hash=str(raw["prev_hash"]),
            entry_hash=str(raw["entry_hash"]),
        )


@dataclass(frozen=True)
class PurgedRange:
    """Audit entries ``first_seq`` to ``last_seq`` were purged; ``anchor`` is the new anchor."""

    first_seq: int
    last_seq: int
    anchor: ChainPoint

    @property
    def count(self) -> int:
        return self.last_seq - self.first_seq + 1


def to_ms(moment: dt.datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    return int(moment.timestamp() * 1000)


def entry_hash(
    prev_hash: str,
    *,
    at: str,
    event: str,
    peer: str | None,
    message_id: str | None,
    outcome: str,
    detail: dict[str, Any],
) -> str:
    """SHA-256 over the previous hash and the entry's canonical JSON."""
    fields = {
        "at": at,
        "event": event,
        "peer": peer,
        "message_id": message_id,
        "outcome": outcome,
        "detail": detail,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


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


def _detail_from_text(text: str) -> dict[str, Any]:
    try:
        detail = json.loads(text)
    except ValueError:
        return {UNREADABLE_DETAIL: text}
    return detail if isinstance(detail, dict) else {UNREADABLE_DETAIL: text}


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        at=row["at"],
        event=row["event"],
        peer=row["peer"],
        message_id=row["message_id"],
        outcome=row["outcome"],
        detail=_detail_from_text(row["detail"]),
        prev_hash=row["prev_hash"],
        entry_hash=row["entry_hash"],
    )


def _read_point(connection: sqlite3.Connection, key: str) -> ChainPoint | None:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else ChainPoint.from_json(row[0], what=key)


def _write_point(connection: sqlite3.Connection, key: str, point: ChainPoint) -> None:
    connection.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, point.to_json()),
    )


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
        connection: sqlite3.Connection,
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
        if row is not None:
            prev_hash = str(row[1])
        else:
            prev_hash = (_read_point(connection, ANCHOR_KEY) or GENESIS).entry_hash
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
        # AUTOINCREMENT never reuses a number, so a truncated tail leaves a gap.
        cursor = connection.execute(
            "INSERT INTO audit_log (at, event, peer, message_id, outcome, detail, prev_hash, "
            "entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (at, event.value, peer, message_id, outcome.value, detail_text, prev_hash, new_hash),
        )
        seq = int(cursor.lastrowid or 0)
        _write_point(connection, HEAD_KEY, ChainPoint(seq, new_hash))
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
        return [_entry(row) for row in rows]

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
        return [e for e in map(_entry, rows) if from_ms <= e.at_ms < until_ms]

    def anchor(self) -> ChainPoint:
        """Where the kept chain starts: genesis, or the last purged entry."""
        return _read_point(self._database.connection, ANCHOR_KEY) or GENESIS

    def head(self) -> ChainPoint | None:
        """The newest entry as recorded at append time (None before the first)."""
        return _read_point(self._database.connection, HEAD_KEY)

    def verify(self) -> int:
        """Check the kept chain from the anchor to the recorded head; return its length
        or raise AuditChainBroken naming the first entry altered, removed or reordered."""
        connection = self._database.connection
        anchor = _read_point(connection, ANCHOR_KEY) or GENESIS
        head = _read_point(connection, HEAD_KEY)
        entries = self.entries()
        if head is None:
            if entries or anchor != GENESIS:
                raise AuditChainBroken("audit head is missing from meta")
            return 0
        return verify_chain(entries, anchor=anchor, head=head)

    def purge_before(
        self, connection: sqlite3.Connection, cutoff: dt.datetime
    ) -> PurgedRange | None:
        """Inside the caller's transaction, delete the oldest entries dated before
        ``cutoff`` (stopping at the first newer one) and move the anchor to the last
        deleted. Refuses (AuditChainBroken) when the chain does not verify."""
        self.verify()
        anchor = _read_point(connection, ANCHOR_KEY) or GENESIS
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
        _write_point(connection, ANCHOR_KEY, new_anchor)
        return PurgedRange(first_seq=anchor.seq + 1, last_seq=last, anchor=new_anchor)


def write_jsonl(entries: Iterable[AuditEntry], path: Path) -> int:
    """Write one JSON object per entry and line; return how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps(entry.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[AuditEntry]:
    """Entries from a ``write_jsonl`` file, in file order."""
    entries = []
    with path.open(encoding="utf-8") as source:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise InvalidInput(f"{path}:{number}: not JSON") from exc
            if not isinstance(raw, dict):
                raise InvalidInput(f"{path}:{number}: not a JSON object")
            entries.append(AuditEntry.from_dict(raw))
    return entries
