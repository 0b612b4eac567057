"""``bx audit verify --file``: an export of ``bx audit export`` checked offline.

An export carries each entry's fields, its ``prev_hash`` and its ``entry_hash``
(no signatures): every line must hash to its ``entry_hash`` and chain to the line
before. The first line chains to genesis, or, when retention purged the entries
before it, to the anchor its ``prev_hash`` names. Lines removed from the end leave
no trace in the file: compare the last hash printed with the node's
(``bx audit verify -n NODE`` prints it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.audit import (
    GENESIS,
    AuditChainBroken,
    AuditEntry,
    ChainPoint,
    verify_chain,
)


@dataclass(frozen=True)
class ExportCheck:
    """A verified export: how many entries, from which anchor, to which last entry."""

    entries: int
    anchor: ChainPoint
    last: ChainPoint | None


def _entries(path: Path) -> tuple[list[AuditEntry], list[int]]:
    """The entries of ``path`` and the line each stands on (blank lines skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise InvalidInput(f"--file: cannot read {path} ({exc.__class__.__name__})") from None
    except UnicodeDecodeError:
        raise AuditChainBroken(f"{path}: not UTF-8 text, not an audit export") from None
    entries: list[AuditEntry] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise AuditChainBroken(f"{path}: line {number}: not JSON") from None
        try:
            if not isinstance(raw, dict):
                raise InvalidInput("not a JSON object")
            entries.append(AuditEntry.from_dict(raw))
        except (InvalidInput, ValueError, TypeError) as exc:
            raise AuditChainBroken(f"{path}: line {number}: not an audit entry ({exc})") from None
        lines.append(number)
    return entries, lines


def _anchor(first: AuditEntry) -> ChainPoint:
    """Genesis for a chain that starts at 1, else the purged entry the first line names."""
    if first.seq <= 1:
        return GENESIS
    return ChainPoint(first.seq - 1, first.prev_hash)


def _first_broken(entries: list[AuditEntry], anchor: ChainPoint) -> int:
    """The index of the first entry whose prefix fails (a prefix fails from there on)."""
    low, high = 0, len(entries) - 1
    while low < high:
        middle = (low + high) // 2
        try:
            verify_chain(entries[: middle + 1], anchor=anchor)
        except AuditChainBroken:
            high = middle
        else:
            low = middle + 1
    return low


def verify_export(path: Path) -> ExportCheck:
    """Check the export at ``path``; AuditChainBroken names the first broken line."""
    entries, lines = _entries(path)
    if not entries:
        return ExportCheck(0, GENESIS, None)
    anchor = _anchor(entries[0])
    try:
        verify_chain(entries, anchor=anchor)
    except AuditChainBroken as exc:
        line = lines[_first_broken(entries, anchor)]
        raise AuditChainBroken(f"{path}: line {line}: {exc}") from None
    last = entries[-1]
    return ExportCheck(len(entries), anchor, ChainPoint(last.seq, last.entry_hash))
