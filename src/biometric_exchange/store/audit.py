"""The audit log: every send and receive, hash-chained so edits show.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's
canonical JSON; ``verify`` walks the chain. Entries hold message ids,
parties, outcomes and reasons, never biometric bytes or names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from biometric_exchange.domain import utc_now
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.store.database import Database

GENESIS_HASH = "0" * 64


class AuditEvent(StrEnum):
    IDENTIFY_SENT = "identify.sent"
    IDENTIFY_RECEIVED = "identify.received"
    IDENTIFY_REPLY_SENT = "identify.reply_sent"
    IDENTIFY_REPLY_RECEIVED = "identify.reply_received"
    PEER_REFUSED = "peer.refused"


class AuditOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"


class AuditChainBroken(ExchangeError):
    """An audit entry was altered, removed or inserted."""


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


def _entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


class AuditLog:
    def __init__(self, database: Database) -> None:
        self._database = database

    def record(
        self,
        event: AuditEvent,
        outcome: AuditOutcome,
        *,
        peer: str | None = None,
        message_id: str | None = None,
        **detail: Any,
    ) -> None:
        with self._database.transaction() as connection:
            row = connection.execute(
                "SELECT entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            prev_hash = row[0] if row else GENESIS_HASH
            fields = {
                "at": utc_now().isoformat(),
                "event": event.value,
                "peer": peer,
                "message_id": message_id,
                "outcome": outcome.value,
                "detail": detail,
            }
            connection.execute(
                "INSERT INTO audit_log (at, event, peer, message_id, outcome, detail, prev_hash, "
                "entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fields["at"],
                    fields["event"],
                    peer,
                    message_id,
                    fields["outcome"],
                    json.dumps(detail, sort_keys=True),
                    prev_hash,
                    _entry_hash(prev_hash, fields),
                ),
            )

    def entries(self) -> list[AuditEntry]:
        rows = self._database.connection.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        return [
            AuditEntry(
                seq=row["seq"],
                at=row["at"],
                event=row["event"],
                peer=row["peer"],
                message_id=row["message_id"],
                outcome=row["outcome"],
                detail=json.loads(row["detail"]),
                prev_hash=row["prev_hash"],
                entry_hash=row["entry_hash"],
            )
            for row in rows
        ]

    def verify(self) -> int:
        """Check the whole chain; return its length or raise AuditChainBroken."""
        prev_hash = GENESIS_HASH
        entries = self.entries()
        for entry in entries:
            fields = {
                "at": entry.at,
                "event": entry.event,
                "peer": entry.peer,
                "message_id": entry.message_id,
                "outcome": entry.outcome,
                "detail": entry.detail,
            }
            if entry.prev_hash != prev_hash or entry.entry_hash != _entry_hash(prev_hash, fields):
                raise AuditChainBroken(f"audit entry {entry.seq} does not chain")
            prev_hash = entry.entry_hash
        return len(entries)
