"""JSON Lines files: one JSON object per line (exports of alerts and audit entries)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from biometric_exchange.exceptions import InvalidInput


def write_objects(objects: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write each object on its own line (keys sorted, UTF-8); return how many."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for item in objects:
            out.write(json.dumps(item, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; InvalidInput names a bad line."""
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
            yield number, raw
