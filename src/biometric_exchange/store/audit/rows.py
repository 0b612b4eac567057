"""The audit log's SQLite side: entries from ``audit_log`` rows, chain points in ``meta``."""

from __future__ import annotations

import json
from typing import Any

from biometric_exchange.store.audit.chain import AuditEntry, ChainPoint
from biometric_exchange.store.dialect import Connection, Row

ANCHOR_KEY = "audit_anchor"
HEAD_KEY = "audit_head"
UNREADABLE_DETAIL = "unreadable_detail"
"""Key under which ``AuditLog.entries`` shows a detail column that is not a JSON object."""


def _detail_from_text(text: str) -> dict[str, Any]:
    try:
        detail = json.loads(text)
    except ValueError:
        return {UNREADABLE_DETAIL: text}
    return detail if isinstance(detail, dict) else {UNREADABLE_DETAIL: text}


def entry_from_row(row: Row) -> AuditEntry:
    """The entry one ``audit_log`` row holds."""
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


def read_point(connection: Connection, key: str) -> ChainPoint | None:
    """The chain point kept in ``meta`` under ``key`` (None when absent)."""
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else ChainPoint.from_json(row[0], what=key)


def write_point(connection: Connection, key: str, point: ChainPoint) -> None:
    """Keep ``point`` in ``meta`` under ``key``, replacing any earlier one."""
    connection.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, point.to_json()),
    )
