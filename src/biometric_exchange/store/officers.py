"""Officer accounts of the operator console, and their sign-in sessions, at rest.

An officer has an id (compared case-insensitively, as the review's four eyes
compare operators), a role, the alert queues they review and a password hash
made elsewhere (``console.passwords``: this store never sees a password). A
session row holds the SHA-256 of the cookie's token, never the token itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from biometric_exchange.domain import AlertQueue
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Row


class Role(StrEnum):
    """What an officer may do in the console (docs/console.md, "Roles")."""

    VIEWER = "viewer"
    """Reads the queue, alerts, step 2 and the node page; acts on nothing."""
    OFFICER = "officer"
    """Reviews alerts, decides step-2 requests, takes alerts."""
    SUPERVISOR = "supervisor"
    """An officer who also assigns alerts to other officers."""


@dataclass(frozen=True)
class Officer:
    officer_id: str
    role: Role
    queues: tuple[AlertQueue, ...]
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def acts(self) -> bool:
        """May review alerts and decide step-2 requests."""
        return self.role is not Role.VIEWER and not self.disabled

    @property
    def assigns_others(self) -> bool:
        return self.role is Role.SUPERVISOR and not self.disabled


@dataclass(frozen=True)
class SessionRecord:
    """A live sign-in: its officer and the CSRF token of its forms."""

    officer_id: str
    csrf_token: str
    created_at: dt.datetime
    last_seen_at: dt.datetime


def queues_text(queues: tuple[AlertQueue, ...]) -> str:
    return ",".join(q.value for q in queues)


def _officer(row: Row) -> Officer:
    return Officer(
        officer_id=row["officer_id"],
        role=Role(row["role"]),
        queues=tuple(AlertQueue(q) for q in str(row["queues"]).split(",") if q),
        disabled=bool(row["disabled"]),
        created_at=dt.datetime.fromisoformat(row["created_at"]),
        updated_at=dt.datetime.fromisoformat(row["updated_at"]),
    )


class OfficerStore:
    """Officer accounts (table ``officers``) and their sessions (``console_sessions``)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def add(
        self,
        officer_id: str,
        role: Role,
        queues: tuple[AlertQueue, ...],
        password_hash: str,
        *,
        at: dt.datetime,
    ) -> Officer:
        """A new account; InvalidInput when the id is taken (in any letter case)."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "INSERT INTO officers (officer_id, role, queues, password_hash, disabled, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (officer_id) DO NOTHING",
                (
                    officer_id,
                    role.value,
                    queues_text(queues),
                    password_hash,
                    at.isoformat(),
                    at.isoformat(),
                ),
            )
            if cursor.rowcount != 1:
                raise InvalidInput(f"officer {officer_id!r} already exists on this node")
        found = self.get(officer_id)
        assert found is not None
        return found

    def get(self, officer_id: str) -> Officer | None:
        row = self._database.connection.execute(
            "SELECT * FROM officers WHERE officer_id = ?", (officer_id,)
        ).fetchone()
        return _officer(row) if row else None

    def password_hash(self, officer_id: str) -> str | None:
        row = self._database.connection.execute(
            "SELECT password_hash FROM officers WHERE officer_id = ?", (officer_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def set_password_hash(self, officer_id: str, password_hash: str, *, at: dt.datetime) -> None:
        """Store a new hash (a rehash with current parameters, or a new password)."""
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE officers SET password_hash = ?, updated_at = ? WHERE officer_id = ?",
                (password_hash, at.isoformat(), officer_id),
            )

    def list(self) -> list[Officer]:
        rows = self._database.connection.execute(
            "SELECT * FROM officers ORDER BY officer_id"
        ).fetchall()
        return [_officer(row) for row in rows]

    def set_disabled(self, officer_id: str, disabled: bool, *, at: dt.datetime) -> Officer:
        """Disable (ending every session of the officer) or enable an account."""
        with self._database.transaction() as connection:
            cursor = connection.execute(
                "UPDATE officers SET disabled = ?, updated_at = ? WHERE officer_id = ?",
                (int(disabled), at.isoformat(), officer_id),
            )
            if cursor.rowcount != 1:
                raise InvalidInput(f"officer {officer_id!r}: no such officer on this node")
            if disabled:
                connection.execute(
                    "DELETE FROM console_sessions WHERE officer_id = ?", (officer_id,)
                )
        found = self.get(officer_id)
        assert found is not None
        return found

    # --- sessions ------------------------------------------------------------------------

    def open_session(
        self, token_hash: str, officer_id: str, csrf_token: str, *, at: dt.datetime
    ) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT INTO console_sessions (token_hash, officer_id, csrf_token, created_at, "
                "last_seen_at) VALUES (?, ?, ?, ?, ?)",
                (token_hash, officer_id, csrf_token, at.isoformat(), at.isoformat()),
            )

    def session(self, token_hash: str) -> SessionRecord | None:
        row = self._database.connection.execute(
            "SELECT * FROM console_sessions WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        if row is None:
            return None
        return SessionRecord(
            officer_id=row["officer_id"],
            csrf_token=row["csrf_token"],
            created_at=dt.datetime.fromisoformat(row["created_at"]),
            last_seen_at=dt.datetime.fromisoformat(row["last_seen_at"]),
        )

    def touch_session(self, token_hash: str, *, at: dt.datetime) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE console_sessions SET last_seen_at = ? WHERE token_hash = ?",
                (at.isoformat(), token_hash),
            )

    def close_session(self, token_hash: str) -> None:
        with self._database.transaction() as connection:
            connection.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))

    def close_sessions_before(self, *, created: dt.datetime, seen: dt.datetime) -> int:
        """Delete sessions opened before ``created`` or idle since before ``seen``."""
        with self._database.transaction() as connection:
            return connection.execute(
                "DELETE FROM console_sessions WHERE julianday(created_at) < julianday(?) "
                "OR julianday(last_seen_at) < julianday(?)",
                (created.isoformat(), seen.isoformat()),
            ).rowcount
