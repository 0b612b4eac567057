"""The links of the audit chain: entries, chain points and the hash between them.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's
canonical JSON; ``GENESIS`` (seq 0, the all-zero hash) starts a chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from biometric_exchange.exceptions import ExchangeError, InvalidInput

GENESIS_HASH = "0" * 64

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
