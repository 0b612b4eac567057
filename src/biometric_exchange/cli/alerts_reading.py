"""``bx alerts list``, ``show`` and ``export``: what an operator reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.alerts.export import ExportFormat, write_alerts
from biometric_exchange.alerts.review import AlertReview, find_alerts
from biometric_exchange.cli.alerts_common import AlertId, get_alert, node_now
from biometric_exchange.cli.alerts_views import (
    alert_panel,
    alerts_table,
    evidence_extras,
    evidence_paging,
    evidence_table,
    history_table,
    overflow_line,
)
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.domain import AlertKind, AlertQueue, AlertStatus, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.alerts import AlertFilter

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


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
        console.print(alerts_table(alerts, title, now=node_now(opened)))


@reports_errors
def show(
    alert_id: AlertId,
    node: NodeOption,
    operator: OperatorOption = None,
    evidence_page: Annotated[
        int, typer.Option(min=1, help="Which page of the evidence to show (from 1)")
    ] = 1,
    page_size: Annotated[
        int, typer.Option(min=1, max=MAX_PAGE_SIZE, help="Evidence items per page")
    ] = PAGE_SIZE,
) -> None:
    """One alert: its fields, its evidence (a page at a time) and its review history."""
    operator_id(operator)
    with opened_node(node) as opened:
        alert = get_alert(opened, alert_id)
        history = AlertReview(opened.database, opened.audit).history(alert_id)
        total = opened.alerts.evidence_count(alert_id)
        first = (evidence_page - 1) * page_size
        items = opened.alerts.evidence(alert_id, offset=first, limit=page_size)
        console.print(alert_panel(alert, node_now(opened)))
        console.print(evidence_table(items, total=total, first=first + 1))
        for line in evidence_extras(items, first=first + 1):
            console.print(line, highlight=False)
        paging = evidence_paging(
            len(items), first + 1, total, page=evidence_page, per_page=page_size
        )
        overflow = overflow_line(
            alert.evidence_overflow, opened.config.alerts.max_evidence_per_alert
        )
        for note in (paging, overflow):
            if note is not None:
                console.print(note, highlight=False)
        console.print(history_table(history))


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
