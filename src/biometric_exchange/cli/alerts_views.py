"""Rich tables for alerts: the list, one alert's fields, its evidence and history.

Nothing here prints a person's name: evidence keys that could hold personal
data are withheld.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from biometric_exchange.alerts.evidence_columns import EVIDENCE_COLUMNS, PERSONAL_KEYS, SHOWN_KEYS
from biometric_exchange.alerts.review import Transition, sla_due, sla_state
from biometric_exchange.domain import Alert, Evidence, EvidenceOverflow, Severity, utc_now

ID_COLUMNS = frozenset({"alert", "key", "reference", "agreement"})
"""Columns never broken across lines (ids); the others fold to the terminal's width."""

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def _severity(severity: Severity) -> str:
    return f"[{SEVERITY_STYLE[severity.value]}]{severity.value}[/]"


def alerts_table(alerts: list[Alert], title: str, *, now: dt.datetime | None = None) -> Table:
    """One row per alert: id, kind, severity, status, queue, SLA, partner, summary."""
    moment = now or utc_now()
    table = Table(title=escape(title), expand=False)
    for column in ("alert", "kind", "severity", "status", "queue", "sla", "partner", "summary"):
        table.add_column(column, overflow="fold", no_wrap=column in ID_COLUMNS)
    for alert in alerts:
        table.add_row(
            alert.alert_id,
            alert.kind.value,
            _severity(alert.severity),
            alert.status.value,
            alert.queue.value,
            sla_state(alert, moment),
            escape(alert.partner or "-"),
            escape(alert.summary),
        )
    return table


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))


def _when(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` (UTC), anything else as given."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return _text(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M}"


def _first(item: Evidence, keys: tuple[str, ...]) -> Any:
    return next((item[key] for key in keys if item.get(key) is not None), None)


def _other(item: Evidence) -> str:
    return "; ".join(
        f"{escape(key)}=" + ("(withheld)" if key in PERSONAL_KEYS else _text(value))
        for key, value in sorted(item.items())
        if key not in SHOWN_KEYS and value is not None
    )


def evidence_table(items: Sequence[Evidence], *, total: int, first: int = 1) -> Table:
    """Evidence items numbered from ``first`` (one page of ``total``); see
    ``evidence_extras`` for the keys without a column."""
    table = Table(title=f"Evidence ({total})", box=box.SIMPLE_HEAD, expand=False)
    table.add_column("#", justify="right")
    for column, _ in EVIDENCE_COLUMNS:
        table.add_column(column, overflow="fold", no_wrap=column in ID_COLUMNS)
    for number, item in enumerate(items, start=first):
        row = [str(number)]
        for column, keys in EVIDENCE_COLUMNS:
            value = _first(item, keys)
            row.append(_when(value) if column == "time" and value is not None else _text(value))
        table.add_row(*row)
    return table


def evidence_records(items: Sequence[Evidence], *, total: int, first: int = 1) -> Table:
    """The evidence as ``evidence_table`` has it, one ``field  value`` line each, items
    one after another: for a terminal too narrow for the columns, ids kept whole."""
    table = Table(title=f"Evidence ({total})", box=box.SIMPLE_HEAD, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    longest = 0
    for number, item in enumerate(items, start=first):
        table.add_row(f"#{number}", "", end_section=False)
        for column, keys in EVIDENCE_COLUMNS:
            value = _first(item, keys)
            if value is None:
                continue
            shown = _when(value) if column == "time" else _text(value)
            longest = max(longest, len(shown))
            table.add_row(f"  {column}", shown)
        table.add_section()
    table.columns[1].min_width = longest
    return table


def fits(console_width: int, table: Table) -> bool:
    """Whether ``table`` shows at its natural width within ``console_width`` columns."""
    from rich.console import Console  # noqa: PLC0415

    measuring = Console(width=10_000)
    return measuring.measure(table).maximum <= console_width


def evidence_extras(items: Sequence[Evidence], *, first: int = 1) -> list[str]:
    """``#n: key=value; …`` for evidence keys without a column (personal ones withheld)."""
    return [
        f"#{number}: {other}"
        for number, item in enumerate(items, start=first)
        if (other := _other(item))
    ]


def evidence_paging(shown: int, first: int, total: int, *, page: int, per_page: int) -> str | None:
    """``showing N of M evidence items …`` with the option to page on (None: all shown)."""
    if shown >= total:
        return None
    pages = -(-total // per_page)
    if not shown:
        return f"no evidence items on page {page}: {total:,} items make {pages} pages"
    last = first + shown - 1
    where = f"items {first:,}-{last:,}, page {page} of {pages}"
    step = f"; next: --evidence-page {page + 1}" if page < pages else ""
    return f"showing {shown:,} of {total:,} evidence items ({where}{step})"


def overflow_line(overflow: EvidenceOverflow | None, cap: int) -> str | None:
    """``and N more items: …`` for the items the alert counted instead of keeping."""
    if overflow is None or not overflow.items:
        return None
    rules = ", ".join(
        f"{escape(rule)} {count:,}" for rule, count in sorted(overflow.by_rule.items())
    )
    line = (
        f"and {overflow.items:,} more items, counted but not kept (at most {cap:,} per alert): "
        f"{rules}"
    )
    if overflow.by_field:
        fields = ", ".join(
            f"{escape(name)} {count:,}" for name, count in sorted(overflow.by_field.items())
        )
        line += f"; differing fields: {fields}"
    return line


def history_table(transitions: list[Transition]) -> Table:
    """An alert's transitions, oldest first."""
    table = Table(title=f"History ({len(transitions)})", box=box.SIMPLE_HEAD, expand=False)
    for column in ("at (UTC)", "from", "to", "operator", "reason", "comment"):
        table.add_column(column, overflow="fold")
    for step in transitions:
        table.add_row(
            _when(step.at.isoformat()),
            step.from_status.value,
            step.to_status.value,
            escape(step.operator),
            step.reason_code.value if step.reason_code else "-",
            escape(step.comment or "-"),
        )
    return table


def alert_panel(alert: Alert, now: dt.datetime) -> Table:
    """The alert's own fields, one per line."""
    table = Table(title=f"Alert {alert.alert_id}", show_header=False, expand=False)
    table.add_column("field", style="bold", no_wrap=True)
    ids = (alert.alert_id, alert.encounter_id, alert.watchlist_entry_id, alert.hit_reference)
    table.add_column("value", overflow="fold", min_width=max(len(i or "") for i in ids))
    sla = f"{sla_state(alert, now)} (acknowledge by {_when(sla_due(alert).isoformat())} UTC)"
    rows: tuple[tuple[str, str], ...] = (
        ("kind", alert.kind.value),
        ("severity", _severity(alert.severity)),
        ("status", alert.status.value),
        ("queue", alert.queue.value),
        ("sla", sla),
        ("acknowledged by", _text(alert.acknowledged_by)),
        ("created (UTC)", _when(alert.created_at.isoformat())),
        ("updated (UTC)", _when(alert.updated_at.isoformat()) if alert.updated_at else "-"),
        ("subject", _text(alert.subject_key)),
        ("partner", _text(alert.partner)),
        ("encounter", _text(alert.encounter_id)),
        ("watchlist entry", _text(alert.watchlist_entry_id)),
        ("hit reference", _text(alert.hit_reference)),
        ("category", _text(alert.category)),
        ("distance", _text(alert.distance)),
        ("summary", _text(alert.summary)),
    )
    for name, value in rows:
        table.add_row(name, value)
    return table
