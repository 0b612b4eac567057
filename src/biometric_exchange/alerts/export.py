"""Alerts to files: JSON Lines (complete, read back by ``read_jsonl``) and CSV (flat).

JSON Lines holds one alert per line with all its fields and evidence;
``read_jsonl`` rebuilds ``Alert`` objects equal to the ones written. CSV is
for spreadsheets: one row per alert with the evidence count and the first
evidence item's main fields. CSV cells that a spreadsheet would read as a
formula (leading ``= + - @``) are prefixed with ``'``.

Both formats fill ``due_at`` for every alert: the acknowledgement deadline it
is held to (``review.sla_due``), stored once acknowledged, computed from its
severity while it is still NEW.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from biometric_exchange.alerts.review import sla_due
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    AlertStatus,
    EvidenceOverflow,
    Severity,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.jsonl import read_objects, write_objects


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


ALERT_FIELDS = tuple(f.name for f in dataclasses.fields(Alert))
_REQUIRED = ("alert_id", "kind", "severity", "created_at", "summary", "subject_key")
_TIMES = ("created_at", "updated_at", "due_at")

CSV_FIELDS = (
    "alert_id",
    "kind",
    "severity",
    "status",
    "queue",
    "created_at",
    "updated_at",
    "due_at",
    "acknowledged_by",
    "partner",
    "encounter_id",
    "watchlist_entry_id",
    "hit_reference",
    "category",
    "distance",
    "subject_key",
    "summary",
    "evidence_count",
    "evidence_key",
    "evidence_rule",
    "evidence_source",
    "evidence_reference",
    "evidence_distance",
    "evidence_threshold",
    "evidence_agreement_id",
    "evidence_purpose",
    "evidence_at",
)
"""The CSV header, in order."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _json_value(value: Any) -> Any:
    if isinstance(value, EvidenceOverflow):
        return dataclasses.asdict(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def with_deadline(alert: Alert) -> Alert:
    """``alert`` with ``due_at`` filled: its SLA deadline, stored or computed."""
    if alert.due_at is not None:
        return alert
    return dataclasses.replace(alert, due_at=sla_due(alert))


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """Every field of ``alert`` as JSON-able values (times in ISO 8601), the deadline
    filled (``with_deadline``)."""
    filled = with_deadline(alert)
    return {name: _json_value(getattr(filled, name)) for name in ALERT_FIELDS}


def _time(raw: dict[str, Any], name: str) -> dt.datetime | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{name}: not an ISO 8601 time: {value!r}") from exc


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return None if value is None else str(value)


def _overflow(value: Any) -> EvidenceOverflow | None:
    """The overflow tally of ``alert_to_dict`` (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidInput("evidence_overflow: expected an object")
    try:
        return EvidenceOverflow(
            items=int(value["items"]),
            by_rule={str(k): int(v) for k, v in dict(value.get("by_rule") or {}).items()},
            by_field={str(k): int(v) for k, v in dict(value.get("by_field") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"evidence_overflow: {exc}") from exc


def alert_from_dict(raw: dict[str, Any]) -> Alert:
    """Inverse of ``alert_to_dict``; InvalidInput names a missing or bad field."""
    missing = [name for name in _REQUIRED if raw.get(name) is None]
    if missing:
        raise InvalidInput(f"alert: missing {', '.join(missing)}")
    evidence = raw.get("evidence") or []
    if not isinstance(evidence, list) or not all(isinstance(e, dict) for e in evidence):
        raise InvalidInput("evidence: expected a list of objects")
    distance = raw.get("distance")
    try:
        created_at = _time(raw, "created_at")
        assert created_at is not None
        return Alert(
            alert_id=str(raw["alert_id"]),
            kind=AlertKind(raw["kind"]),
            severity=Severity(raw["severity"]),
            created_at=created_at,
            summary=str(raw["summary"]),
            subject_key=str(raw["subject_key"]),
            queue=AlertQueue(raw.get("queue", AlertQueue.ENFORCEMENT.value)),
            status=AlertStatus(raw.get("status", AlertStatus.NEW.value)),
            distance=None if distance is None else float(distance),
            evidence=tuple(evidence),
            updated_at=_time(raw, "updated_at"),
            due_at=_time(raw, "due_at"),
            evidence_overflow=_overflow(raw.get("evidence_overflow")),
            partner=_text(raw, "partner"),
            encounter_id=_text(raw, "encounter_id"),
            watchlist_entry_id=_text(raw, "watchlist_entry_id"),
            hit_reference=_text(raw, "hit_reference"),
            category=_text(raw, "category"),
            acknowledged_by=_text(raw, "acknowledged_by"),
        )
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"alert {raw.get('alert_id')!r}: {exc}") from exc


def write_jsonl(alerts: Iterable[Alert], path: Path) -> int:
    """One JSON object per alert and line (deadline filled); return how many."""
    return write_objects((alert_to_dict(alert) for alert in alerts), path)


def read_jsonl(path: Path) -> list[Alert]:
    """Alerts from a ``write_jsonl`` file, in file order."""
    alerts = []
    for number, raw in read_objects(path):
        try:
            alerts.append(alert_from_dict(raw))
        except InvalidInput as exc:
            raise InvalidInput(f"{path}:{number}: {exc}") from exc
    return alerts


def _cell(value: Any) -> Any:
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def csv_row(alert: Alert) -> dict[str, Any]:
    """The flat CSV row of ``alert`` (keys are ``CSV_FIELDS``)."""
    first: dict[str, Any] = alert.evidence[0] if alert.evidence else {}
    filled = with_deadline(alert)
    row: dict[str, Any] = {
        name: getattr(filled, name) for name in CSV_FIELDS if not name.startswith("evidence_")
    }
    row.update(
        evidence_count=len(alert.evidence)
        + (alert.evidence_overflow.items if alert.evidence_overflow else 0),
        evidence_key=first.get("key"),
        evidence_rule=first.get("rule"),
        evidence_source=first.get("source") or first.get("partner"),
        evidence_reference=first.get("hit_reference"),
        evidence_distance=first.get("distance"),
        evidence_threshold=first.get("threshold"),
        evidence_agreement_id=first.get("agreement_id"),
        evidence_purpose=first.get("purpose"),
        evidence_at=first.get("encountered_at"),
    )
    return {name: _cell(row[name]) for name in CSV_FIELDS}


def write_csv(alerts: Iterable[Alert], path: Path) -> int:
    """One CSV row per alert under the ``CSV_FIELDS`` header; return how many."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for alert in alerts:
            writer.writerow(csv_row(alert))
            count += 1
    return count


def write_alerts(alerts: Iterable[Alert], path: Path, fmt: ExportFormat) -> int:
    """Write ``alerts`` to ``path`` in ``fmt``; return how many."""
    if fmt is ExportFormat.JSONL:
        return write_jsonl(alerts, path)
    return write_csv(alerts, path)
