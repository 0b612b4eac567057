"""Officer accounts: adding, disabling and enabling them (``bx officers``), each audited.

Officer ids are 1-64 characters of letters, digits, ``.``, ``_`` and ``-``,
compared case-insensitively (as the review's four eyes compare operators).
"""

from __future__ import annotations

import re

from biometric_exchange.console.context import node_clock
from biometric_exchange.console.passwords import hash_password
from biometric_exchange.domain import AlertQueue
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.officers import Officer, OfficerStore, Role, queues_text

OFFICER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ADMIN = "local-admin"
"""Who changed an account when the command names no operator."""


def validate_officer_id(value: str) -> str:
    officer_id = value.strip()
    if not OFFICER_ID.fullmatch(officer_id):
        raise InvalidInput(
            f"officer id {value!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return officer_id


def add_officer(
    node: Node,
    officer_id: str,
    password: str,
    *,
    role: Role = Role.OFFICER,
    queues: tuple[AlertQueue, ...] = tuple(AlertQueue),
    by: str | None = None,
) -> Officer:
    """A new account with an Argon2id hash of ``password``; audited (never the password)."""
    officer_id = validate_officer_id(officer_id)
    if not queues:
        raise InvalidInput("queues: name at least one alert queue")
    queues = tuple(q for q in AlertQueue if q in set(queues))
    password_hash = hash_password(password)
    now = node_clock(node)()
    officer = OfficerStore(node.database).add(officer_id, role, queues, password_hash, at=now)
    node.audit.record(
        AuditEvent.OFFICER_CHANGED,
        AuditOutcome.ACCEPTED,
        officer=by or ADMIN,
        decision="added",
        officer_id=officer.officer_id,
        role=role.value,
        queues=queues_text(queues),
    )
    return officer


def set_disabled(node: Node, officer_id: str, disabled: bool, *, by: str | None = None) -> Officer:
    """Disable an account (its sessions end at once) or enable it again; audited."""
    officer = OfficerStore(node.database).set_disabled(
        officer_id.strip(), disabled, at=node_clock(node)()
    )
    node.audit.record(
        AuditEvent.OFFICER_CHANGED,
        AuditOutcome.ACCEPTED,
        officer=by or ADMIN,
        decision="disabled" if disabled else "enabled",
        officer_id=officer.officer_id,
    )
    return officer
