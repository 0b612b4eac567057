"""Formatting shared by the pages: times, SLA countdowns, evidence columns, the
templates themselves.

Nothing here shows a person's name: evidence keys that could hold personal
data are withheld, the same safeguard as ``bx alerts show``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from biometric_exchange.alerts.evidence_columns import EVIDENCE_COLUMNS, PERSONAL_KEYS, SHOWN_KEYS
from biometric_exchange.domain import Evidence

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def when(value: dt.datetime | str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in UTC; ``-`` for nothing."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M}"


def countdown(due: dt.datetime, now: dt.datetime) -> str:
    """``due in 1 h 05 min`` / ``overdue by 12 min`` (seconds under a minute)."""
    seconds = int((due - now).total_seconds())
    amount = abs(seconds)
    hours, rest = divmod(amount, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        span = f"{hours} h {minutes:02d} min"
    elif minutes:
        span = f"{minutes} min"
    else:
        span = f"{secs} s"
    return f"due in {span}" if seconds >= 0 else f"overdue by {span}"


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def evidence_row(item: Evidence) -> dict[str, str]:
    """The evidence columns of one item, then ``other`` (personal keys withheld)."""
    row: dict[str, str] = {}
    for column, keys in EVIDENCE_COLUMNS:
        value = next((item[k] for k in keys if item.get(k) is not None), None)
        row[column] = when(value) if column == "time" and value is not None else _value(value)
    row["other"] = "; ".join(
        f"{key}=" + ("(withheld)" if key in PERSONAL_KEYS else _value(value))
        for key, value in sorted(item.items())
        if key not in SHOWN_KEYS and value is not None
    )
    return row


TEMPLATES.env.filters["when"] = when
