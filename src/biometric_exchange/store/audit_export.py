"""Audit entries to and from JSON Lines files (``bx audit export`` and its readers)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.audit_chain import AuditEntry


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
