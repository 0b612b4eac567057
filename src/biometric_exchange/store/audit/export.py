"""Audit entries to and from JSON Lines files (``bx audit export`` and its readers)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from biometric_exchange.jsonl import read_objects, write_objects
from biometric_exchange.store.audit.chain import AuditEntry


def write_jsonl(entries: Iterable[AuditEntry], path: Path) -> int:
    """Write one JSON object per entry and line; return how many."""
    return write_objects((entry.to_dict() for entry in entries), path)


def read_jsonl(path: Path) -> list[AuditEntry]:
    """Entries from a ``write_jsonl`` file, in file order."""
    return [AuditEntry.from_dict(raw) for _, raw in read_objects(path)]
