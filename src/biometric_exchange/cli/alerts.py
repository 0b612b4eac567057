"""``bx alerts``: what an operator reviews, and the review workflow.

Reading: ``list`` (filters), ``show`` (evidence and history), ``export``,
``watch``. Every command names the officer (``--operator`` or ``BX_OPERATOR``). Acting:
``ack``, ``investigate``, ``escalate``, ``confirm``, ``dismiss``, ``close``.
Nothing here prints a person's name: alerts hold record ids and references,
and evidence keys that could hold personal data are withheld.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from biometric_exchange.alerts.export import ExportFormat, write_alerts
from biometric_exchange.alerts.review import (
    AlertReview,
    DismissalReason,
    Transition,
    find_alerts,
    sla_due,
    sla_state,
)
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.domain import (
    Alert,
    AlertKind,
    AlertQueue,
    AlertStatus,
    Evidence,
    Severity,
    utc_now,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.alerts import AlertFilter

alerts_app = typer.Typer(help="Early-warning alerts raised on a node, and their review.")

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}

PERSONAL_KEYS = frozenset(
    {"name", "names", "given_name", "family_name", "birth_date", "document_number"}
)
"""Evidence keys never printed (rules do not write them; this is a safeguard)."""

_EVIDENCE_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("key", ("key",)),
    ("rule", ("rule",)),
    ("source", ("source", "partner")),
    ("reference", ("hit_reference",)),
    ("distance", ("distance",)),
    ("threshold", ("threshold",)),
    ("agreement", ("agreement_id",)),
    ("purpose", ("purpose",)),
    ("point", ("border_point", "encounter_point")),
    ("time", ("encountered_at",)),
)
_SHOWN_KEYS = frozenset(key for _, keys in _EVIDENCE_COLUMNS for key in keys)

AlertId = Annotated[str, typer.Argument(help="The alert id, e.g. ALR-…", show_default=False)]
CommentOption = Annotated[
    str | None, typer.Option(help="Kept with the transition (not in the audit log)")
]


def _severity(severity: Severity) -> str:
    return f"[{SEVERITY_STYLE[severity.value]}]{severity.value}[/]"


def alerts_table(alerts: list[Alert], title: str, *, now: dt.datetime | None = None) -> Table:
    """One row per alert: id, kind, severity, status, queue, SLA, partner, summary."""
    moment = now or utc_now()
    table = Table(title=escape(title), expand=False)
    for column in ("alert", "kind", "severity", "status", "queue", "sla", "partner", "summary"):
        table.add_column(column, overflow="fold")
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


def _parse_since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"--since: {value!r} is not an ISO 8601 date or time "
            "(e.g. 2025-01-31 or 2025-01-31T08:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _node_now(node: Node) -> dt.datetime:
    return dt.datetime.fromtimestamp(node.clock() / 1000, tz=dt.UTC)


def _get(node: Node, alert_id: str) -> Alert:
    alert = node.alerts.get(alert_id)
    if alert is None:
        raise InvalidInput(f"alert {alert_id!r}: no such alert on this node")
    return alert


@alerts_app.command("list")
@reports_errors
def list_alerts(
    node: NodeOption,
    operator: OperatorOption = None,
    severity: Annotated[
        Severity | None, typer.Option(help="Only this severity", case_sensitive=False)
    ] = None,
    kind: Annotated[
        AlertKind | None, typer.Option(help="Only this kind", case_sensitive=False)
    ] = None,
    status: Annotated[
        AlertStatus | None, typer.Option(help="Only this status", case_sensitive=False)
    ] = None,
    queue: Annotated[
        AlertQueue | None, typer.Option(help="Only this queue", case_sensitive=False)
    ] = None,
    nationality: Annotated[
        str | None,
        typer.Option(help="Only alerts on an encounter of this nationality (ISO alpha-3)"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only alerts raised from this ISO date/time (UTC if bare)")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts not yet CLOSED")] = False,
) -> None:
    """A table of the node's alerts, oldest first, with the acknowledge SLA."""
    operator_id(operator)
    criteria = AlertFilter(
        kind=kind,
        status=status,
        queue=queue,
        severity=severity,
        since=_parse_since(since),
        open_only=open_only,
    )
    with opened_node(node) as opened:
        alerts = find_alerts(opened.alerts, opened.database, criteria, nationality=nationality)
        title = f"Alerts on {opened.config.node.name} ({len(alerts)})"
        console.print(alerts_table(alerts, title, now=_node_now(opened)))


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
        if key not in _SHOWN_KEYS and value is not None
    )


def evidence_table(alert: Alert) -> Table:
    """Every evidence item of ``alert``, numbered; see ``evidence_extras`` for the rest."""
    table = Table(title=f"Evidence ({len(alert.evidence)})", box=box.SIMPLE_HEAD, expand=False)
    table.add_column("#", justify="right")
    for column, _ in _EVIDENCE_COLUMNS:
        table.add_column(column, overflow="fold")
    for number, item in enumerate(alert.evidence, start=1):
        row = [str(number)]
        for column, keys in _EVIDENCE_COLUMNS:
            value = _first(item, keys)
            row.append(_when(value) if column == "time" and value is not None else _text(value))
        table.add_row(*row)
    return table


def evidence_extras(alert: Alert) -> list[str]:
    """``#n: key=value; …`` for evidence keys without a column (personal ones withheld)."""
    return [
        f"#{number}: {other}"
        for number, item in enumerate(alert.evidence, start=1)
        if (other := _other(item))
    ]


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
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
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


@alerts_app.command("show")
@reports_errors
def show(alert_id: AlertId, node: NodeOption, operator: OperatorOption = None) -> None:
    """One alert: its fields, every evidence item and its review history."""
    operator_id(operator)
    with opened_node(node) as opened:
        alert = _get(opened, alert_id)
        history = AlertReview(opened.database, opened.audit).history(alert_id)
        console.print(alert_panel(alert, _node_now(opened)))
        console.print(evidence_table(alert))
        for line in evidence_extras(alert):
            console.print(line, highlight=False)
        console.print(history_table(history))


def _act(
    node_dir: Path,
    alert_id: str,
    operator: str | None,
    step: Callable[[AlertReview, str], Alert],
) -> None:
    officer = operator_id(operator)
    with opened_node(node_dir) as opened:
        before = _get(opened, alert_id)
        review = AlertReview(opened.database, opened.audit, clock=lambda: _node_now(opened))
        after = step(review, officer)
        console.print(
            f"alert {after.alert_id}: {before.status.value} -> {after.status.value} by {officer}",
            markup=False,
            highlight=False,
        )


@alerts_app.command("ack")
@reports_errors
def acknowledge(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """NEW -> ACKNOWLEDGED: you take the alert (stops its SLA clock)."""
    _act(node, alert_id, operator, lambda r, who: r.acknowledge(alert_id, who, comment))


@alerts_app.command("investigate")
@reports_errors
def investigate(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED -> INVESTIGATING."""
    _act(node, alert_id, operator, lambda r, who: r.investigate(alert_id, who, comment))


@alerts_app.command("escalate")
@reports_errors
def escalate(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """INVESTIGATING -> ESCALATED."""
    _act(node, alert_id, operator, lambda r, who: r.escalate(alert_id, who, comment))


@alerts_app.command("confirm")
@reports_errors
def confirm(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED/INVESTIGATING/ESCALATED -> CONFIRMED; four eyes: not by the acknowledger."""
    _act(node, alert_id, operator, lambda r, who: r.confirm(alert_id, who, comment))


@alerts_app.command("dismiss")
@reports_errors
def dismiss(
    alert_id: AlertId,
    node: NodeOption,
    reason: Annotated[
        DismissalReason | None,
        typer.Option(help="Why the alert is dismissed", case_sensitive=False),
    ] = None,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """ACKNOWLEDGED/INVESTIGATING/ESCALATED -> DISMISSED; --reason ('other' needs --comment)."""
    _act(node, alert_id, operator, lambda r, who: r.dismiss(alert_id, who, reason, comment))


@alerts_app.command("close")
@reports_errors
def close(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    comment: CommentOption = None,
) -> None:
    """CONFIRMED or DISMISSED -> CLOSED (a new hit then opens a new alert)."""
    _act(node, alert_id, operator, lambda r, who: r.close(alert_id, who, comment))


@alerts_app.command("export")
@reports_errors
def export(
    node: NodeOption,
    out: Annotated[Path, typer.Option("--out", help="The file to write", show_default=False)],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl (complete) or csv (flat)")
    ] = ExportFormat.JSONL,
    operator: OperatorOption = None,
) -> None:
    """Every alert with its evidence, to JSON Lines or CSV."""
    operator_id(operator)
    with opened_node(node) as opened:
        alerts = opened.alerts.list(AlertFilter())
        try:
            count = write_alerts(alerts, out, fmt)
        except OSError as exc:
            raise InvalidInput(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    console.print(f"exported {count} alerts to {out} ({fmt.value})", markup=False)


def _awaiting(alerts: list[Alert], title: str, now: dt.datetime) -> Table:
    ordered = sorted(alerts, key=lambda a: (sla_due(a), a.alert_id))
    return alerts_table(ordered, f"{title} ({len(ordered)})", now=now)


def watch_alerts(
    fetch: Callable[[], list[Alert]],
    out: Console,
    *,
    title: str,
    once: bool = False,
    seconds: float | None = None,
    interval: float = 1.0,
    clock: Callable[[], dt.datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Show alerts awaiting acknowledgement, polling ``fetch`` every ``interval``
    seconds until ``seconds`` have passed (forever when None; one look when ``once``).

    A terminal gets a live table; other output (logs, tests) gets the table once,
    then one line per alert that appears. Returns the number of polls.
    """
    polls = 1
    alerts = fetch()
    seen = {a.alert_id for a in alerts}
    deadline = None if seconds is None else time.monotonic() + seconds

    def more() -> bool:
        return not once and (deadline is None or time.monotonic() < deadline)

    if not out.is_terminal:
        out.print(_awaiting(alerts, title, clock()))
        while more():
            sleep(interval)
            alerts, polls = fetch(), polls + 1
            for alert in alerts:
                if alert.alert_id not in seen:
                    seen.add(alert.alert_id)
                    out.print(
                        f"new alert {alert.alert_id} {alert.severity.value} {alert.kind.value} "
                        f"({alert.queue.value}, {sla_state(alert, clock())}): {alert.summary}",
                        markup=False,
                        highlight=False,
                    )
        return polls
    with Live(_awaiting(alerts, title, clock()), console=out, auto_refresh=False) as live:
        while more():
            sleep(interval)
            alerts, polls = fetch(), polls + 1
            fresh = [a.alert_id for a in alerts if a.alert_id not in seen]
            seen.update(fresh)
            note = f"new: {', '.join(fresh)}" if fresh else f"checked {clock():%H:%M:%S} UTC"
            live.update(Group(_awaiting(alerts, title, clock()), note), refresh=True)
    return polls


@alerts_app.command("watch")
@reports_errors
def watch(
    node: NodeOption,
    once: Annotated[bool, typer.Option("--once", help="Show the queue once and stop")] = False,
    seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds", min=0)
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls", min=0.1)] = 1.0,
    queue: Annotated[
        AlertQueue | None, typer.Option(help="Only this queue", case_sensitive=False)
    ] = None,
    operator: OperatorOption = None,
) -> None:
    """A live view of alerts awaiting acknowledgement, most urgent first (Ctrl-C stops)."""
    operator_id(operator)
    with opened_node(node) as opened:
        criteria = AlertFilter(status=AlertStatus.NEW, queue=queue)
        title = f"Awaiting acknowledgement on {opened.config.node.name}"
        try:
            watch_alerts(
                lambda: opened.alerts.list(criteria),
                console,
                title=title,
                once=once,
                seconds=seconds,
                interval=interval,
                clock=lambda: _node_now(opened),
            )
        except KeyboardInterrupt:
            return
