"""Signing in and out, and the session behind every request.

The cookie holds a random token; the database keeps its SHA-256, the officer,
the session's CSRF token and when it was opened and last used. A session ends
at sign-out, when the officer is disabled, after ``session_idle_minutes``
unused or ``session_max_hours`` after sign-in (the console's clock decides).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from biometric_exchange.console import passwords
from biometric_exchange.console.context import Console
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.officers import Officer

log = logging.getLogger(__name__)

SESSION_COOKIE = "bx_session"
TOUCH_EVERY = dt.timedelta(seconds=30)
"""A session's last use is written at most this often."""
REFUSED = "unknown officer, wrong password or account disabled"
"""One message for every refused sign-in: it tells nobody which it was."""


class SignInRefused(Exception):
    """The officer, password or account state does not allow a sign-in."""


@dataclass(frozen=True)
class Session:
    token_hash: str
    officer: Officer
    csrf_token: str

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            presented.encode(), self.csrf_token.encode()
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(console: Console, officer_id: str, password: str) -> str:
    """A new session's cookie token; SignInRefused (and nothing stored) otherwise."""
    officers = console.officers
    officer = officers.get(officer_id.strip()[:64]) if officer_id.strip() else None
    stored = officers.password_hash(officer.officer_id) if officer else None
    if not passwords.verify(stored, password) or officer is None or officer.disabled:
        log.info("console sign-in refused")
        raise SignInRefused(REFUSED)
    now = console.now()
    if stored is not None and passwords.needs_rehash(stored):
        officers.set_password_hash(officer.officer_id, passwords.hash_password(password), at=now)
    token = secrets.token_urlsafe(32)
    officers.open_session(token_hash(token), officer.officer_id, secrets.token_urlsafe(32), at=now)
    console.node.audit.record(
        AuditEvent.CONSOLE_SIGN_IN, AuditOutcome.ACCEPTED, officer=officer.officer_id
    )
    log.info("console sign-in by %s", officer.officer_id)
    return token


def current(console: Console, token: str | None) -> Session | None:
    """The live session of a cookie token, or None (missing, ended, expired, disabled)."""
    if not token:
        return None
    hashed = token_hash(token)
    record = console.officers.session(hashed)
    if record is None:
        return None
    now = console.now()
    settings = console.settings
    if now - record.created_at >= dt.timedelta(
        hours=settings.session_max_hours
    ) or now - record.last_seen_at >= dt.timedelta(minutes=settings.session_idle_minutes):
        console.officers.close_session(hashed)
        return None
    officer = console.officers.get(record.officer_id)
    if officer is None or officer.disabled:
        console.officers.close_session(hashed)
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        console.officers.touch_session(hashed, at=now)
    return Session(hashed, officer, record.csrf_token)


def sign_out(console: Console, session: Session) -> None:
    console.officers.close_session(session.token_hash)
    log.info("console sign-out by %s", session.officer.officer_id)


def close_expired(console: Console) -> int:
    """Delete every expired session row; return how many."""
    now = console.now()
    settings = console.settings
    return console.officers.close_sessions_before(
        created=now - dt.timedelta(hours=settings.session_max_hours),
        seen=now - dt.timedelta(minutes=settings.session_idle_minutes),
    )
