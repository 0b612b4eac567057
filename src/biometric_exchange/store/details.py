"""Step-2 detail requests at rest: the holder's queue and the requester's own.

The holder keeps what was asked, by whom and why, its decision and when the
approved values were delivered (once per request); the disclosed values are
read from the watchlist when that reply is sealed, never copied. The
requester keeps its requests and, once approved, the disclosed values
(exchanged personal data, subject to the agreement's retention), sealed under
its data key (``store.disclosed``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from biometric_exchange.crypto.keyring import DataKeys
from biometric_exchange.domain import RequestStatus
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Row
from biometric_exchange.store.disclosed import open_disclosed, seal_disclosed
from biometric_exchange.store.records import WatchlistPerson


@dataclass(frozen=True)
class ReceivedRequest:
    """A partner's request, as the holder keeps it."""

    partner: str
    request_id: str
    hit_reference: str
    entry_id: str
    purpose: str
    justification: str
    officer_id: str
    fields: tuple[str, ...]
    status: RequestStatus
    received_at: dt.datetime
    due_at: dt.datetime
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    comment: str | None = None
    delivered_at: dt.datetime | None = None
    """When the approved fields were sent to the partner (they are sent once)."""


@dataclass(frozen=True)
class SentRequest:
    """One of our requests, as the requester keeps it."""

    request_id: str
    partner: str
    hit_reference: str
    purpose: str
    justification: str
    officer_id: str
    fields: tuple[str, ...]
    status: RequestStatus
    sent_at: dt.datetime
    disclosed: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    due_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None
    last_error: str | None = None
    updated_at: dt.datetime | None = None
    """When we last stored an answer (or an error) for it."""


Subject = WatchlistPerson
"""What step 2 may disclose of a watchlist entry (never its template)."""


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _received(row: Row) -> ReceivedRequest:
    return ReceivedRequest(
        partner=row["partner"],
        request_id=row["request_id"],
        hit_reference=row["hit_reference"],
        entry_id=row["entry_id"],
        purpose=row["purpose"],
        justification=row["justification"],
        officer_id=row["officer_id"],
        fields=tuple(json.loads(row["fields"])),
        status=RequestStatus(row["status"]),
        received_at=dt.datetime.fromisoformat(row["received_at"]),
        due_at=dt.datetime.fromisoformat(row["due_at"]),
        decided_at=_when(row["decided_at"]),
        decided_by=row["decided_by"],
        reason=row["reason"],
        comment=row["comment"],
        delivered_at=_when(row["delivered_at"]),
    )


def _sent(row: Row, keys: bytes | DataKeys) -> SentRequest:
    return SentRequest(
        request_id=row["request_id"],
        partner=row["partner"],
        hit_reference=row["hit_reference"],
        purpose=row["purpose"],
        justification=row["justification"],
        officer_id=row["officer_id"],
        fields=tuple(json.loads(row["fields"])),
        status=RequestStatus(row["status"]),
        sent_at=dt.datetime.fromisoformat(row["sent_at"]),
        disclosed=open_disclosed(keys, row["request_id"], row["disclosed"]),
        reason=row["reason"],
        due_at=_when(row["due_at"]),
        decided_at=_when(row["decided_at"]),
        last_error=row["last_error"],
        updated_at=dt.datetime.fromisoformat(row["updated_at"]) if row["updated_at"] else None,
    )


class ReceivedRequests:
    """The holder's queue of partner requests."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, partner: str, request_id: str) -> ReceivedRequest | None:
        row = self._database.connection.execute(
            "SELECT * FROM details_received WHERE partner = ? AND request_id = ?",
            (partner, request_id),
        ).fetchone()
        return _received(row) if row else None

    def partners_of(self, request_id: str) -> list[str]:
        """The partners that sent a request with this id (request ids are the sender's)."""
        rows = self._database.connection.execute(
            "SELECT partner FROM details_received WHERE request_id = ? ORDER BY partner",
            (request_id,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def pending_count(self, partner: str) -> int:
        """How many of ``partner``'s requests await a decision."""
        row = self._database.connection.execute(
            "SELECT count(*) FROM details_received WHERE partner = ? AND status = ?",
            (partner, RequestStatus.PENDING.value),
        ).fetchone()
        return int(row[0])

    def add(self, request: ReceivedRequest) -> bool:
        """Store a new request; False (and nothing stored) when its id is taken."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO details_received (partner, request_id, hit_reference, entry_id, "
                "purpose, justification, officer_id, fields, status, received_at, due_at, "
                "decided_at, decided_by, reason, comment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (partner, request_id) DO NOTHING",
                (
                    request.partner,
                    request.request_id,
                    request.hit_reference,
                    request.entry_id,
                    request.purpose,
                    request.justification,
                    request.officer_id,
                    json.dumps(list(request.fields)),
                    request.status.value,
                    request.received_at.isoformat(),
                    request.due_at.isoformat(),
                    _iso(request.decided_at),
                    request.decided_by,
                    request.reason,
                    request.comment,
                ),
            )
            return cursor.rowcount == 1

    def decide(
        self,
        partner: str,
        request_id: str,
        status: RequestStatus,
        *,
        at: dt.datetime,
        by: str,
        reason: str | None = None,
        comment: str | None = None,
    ) -> bool:
        """Decide a pending request; False when it is missing or no longer pending."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "UPDATE details_received SET status = ?, decided_at = ?, decided_by = ?, "
                "reason = ?, comment = ? WHERE partner = ? AND request_id = ? AND status = ?",
                (
                    status.value,
                    at.isoformat(),
                    by,
                    reason,
                    comment,
                    partner,
                    request_id,
                    RequestStatus.PENDING.value,
                ),
            )
            return cursor.rowcount == 1

    def mark_delivered(self, partner: str, request_id: str, *, at: dt.datetime) -> bool:
        """Record that an approved request's fields go out now; False when they already
        went (or the request is not approved): they are disclosed once."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "UPDATE details_received SET delivered_at = ? WHERE partner = ? "
                "AND request_id = ? AND status = ? AND delivered_at IS NULL",
                (at.isoformat(), partner, request_id, RequestStatus.APPROVED.value),
            )
            return cursor.rowcount == 1

    def queue(self) -> list[ReceivedRequest]:
        """Every request, pending first (earliest due first), then the newest decided."""
        rows = self._database.connection.execute(
            "SELECT * FROM details_received ORDER BY status != ?, "
            "CASE WHEN status = ? THEN due_at END, received_at DESC, request_id",
            (RequestStatus.PENDING.value, RequestStatus.PENDING.value),
        ).fetchall()
        return [_received(row) for row in rows]


class SentRequests:
    """The requester's own requests and what they disclosed (sealed under ``keys``,
    the node's data keys)."""

    def __init__(self, database: Database, keys: bytes | DataKeys) -> None:
        self._database = database
        self._keys = keys

    def add(self, request: SentRequest) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT INTO details_sent (request_id, partner, hit_reference, purpose, "
                "justification, officer_id, fields, status, disclosed, reason, sent_at, due_at, "
                "decided_at, updated_at, last_error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.request_id,
                    request.partner,
                    request.hit_reference,
                    request.purpose,
                    request.justification,
                    request.officer_id,
                    json.dumps(list(request.fields)),
                    request.status.value,
                    seal_disclosed(self._keys, request.request_id, request.disclosed),
                    request.reason,
                    request.sent_at.isoformat(),
                    _iso(request.due_at),
                    _iso(request.decided_at),
                    request.sent_at.isoformat(),
                    request.last_error,
                ),
            )

    def get(self, request_id: str) -> SentRequest | None:
        row = self._database.connection.execute(
            "SELECT * FROM details_sent WHERE request_id = ?", (request_id,)
        ).fetchone()
        return _sent(row, self._keys) if row else None

    def list(self, *, status: RequestStatus | None = None) -> list[SentRequest]:
        """Our requests, oldest first (only those in ``status`` when given)."""
        value = status.value if status else None
        rows = self._database.connection.execute(
            "SELECT * FROM details_sent WHERE ? IS NULL OR status = ? ORDER BY sent_at, request_id",
            (value, value),
        ).fetchall()
        return [_sent(row, self._keys) for row in rows]

    def update(self, request: SentRequest, *, at: dt.datetime) -> None:
        """Store a request's new state (status, disclosed values, reason, times, error)."""
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE details_sent SET status = ?, disclosed = ?, reason = ?, due_at = ?, "
                "decided_at = ?, last_error = ?, updated_at = ? WHERE request_id = ?",
                (
                    request.status.value,
                    seal_disclosed(self._keys, request.request_id, request.disclosed),
                    request.reason,
                    _iso(request.due_at),
                    _iso(request.decided_at),
                    request.last_error,
                    at.isoformat(),
                    request.request_id,
                ),
            )
