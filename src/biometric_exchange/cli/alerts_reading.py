"""``bx alerts list``, ``show`` and ``export``: what an operator reads."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from biometric_exchange.alerts.evidence_columns import PERSONAL_KEYS
from biometric_exchange.alerts.export import ExportFormat, alert_to_dict, write_alerts
from biometric_exchange.alerts.review import AlertReview, Transition, find_alerts, sla_state
from biometric_exchange.cli.alerts_common import AlertId, get_alert, node_now
from biometric_exchange.cli.alerts_views import (
    alert_panel,
    alerts_table,
    evidence_extras,
    evidence_paging,
    evidence_records,
    evidence_table,
    fits,
    history_table,
    overflow_line,
)
from biometric_exchange.cli.common import (
    NodeOption,
    OperatorOption,
    PartnerOption,
    console,
    opened_node,
    operator_id,
    reports_errors,
)
from biometric_exchange.cli.filters import nationality_code, partner_code
from biometric_exchange.cli.formats import Format, FormatOption, emit_document, emit_rows
from biometric_exchange.cli.output import OutputFile, describe, notes_for, written
from biometric_exchange.cli.times import parse_window
from biometric_exchange.domain import Alert, AlertKind, AlertQueue, AlertStatus, Evidence, Severity
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.store.alerts import AlertFilter

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def alert_row(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    """An alert as a listing row: its fields (times ISO 8601, the SLA deadline filled)
    and its SLA state, without the evidence (``bx alerts show`` has it)."""
    row = alert_to_dict(alert)
    del row["evidence"], row["evidence_overflow"]
    return {"alert_id": row.pop("alert_id"), "sla": sla_state(alert, now), **row}


def _withheld(item: Evidence) -> dict[str, Any]:
    return {k: "(withheld)" if k in PERSONAL_KEYS else v for k, v in item.items()}


def _transition_row(step: Transition) -> dict[str, Any]:
    return {
        "at": step.at.isoformat(),
        "from": step.from_status.value,
        "to": step.to_status.value,
        "operator": step.operator,
        "reason": step.reason_code.value if step.reason_code else None,
        "comment": step.comment,
    }


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
    partner: PartnerOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only alerts raised from this time: 2h, 7d, yesterday, ISO (UTC)…"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only alerts raised before this time: 30m, today, ISO (UTC)…"),
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only alerts not yet CLOSED")] = False,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """The node's alerts, oldest first, with the acknowledge SLA."""
    operator_id(operator)
    code = nationality_code(nationality)
    with opened_node(node) as opened:
        now = node_now(opened)
        start, end = parse_window(since, until, now=now)
        source = partner_code(partner, opened.partner_codes)
        criteria = AlertFilter(
            kind=kind,
            status=status,
            queue=queue,
            severity=severity,
            since=start,
            open_only=open_only,
        )
        alerts = find_alerts(opened.alerts, opened.database, criteria, nationality=code)
        name = opened.config.node.name
    alerts = [
        a
        for a in alerts
        if (end is None or a.created_at < end) and (source is None or a.partner == source)
    ]
    emit_rows(
        fmt,
        [alert_row(alert, now) for alert in alerts],
        lambda: alerts_table(alerts, f"Alerts on {name} ({len(alerts)})", now=now),
    )


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
    fmt: FormatOption = Format.TABLE,
) -> None:
    """One alert: its fields, its evidence (a page at a time) and its review history.

    --format json writes one object: the alert, the page of evidence (personal keys
    withheld), the evidence total and the history; csv writes the page of evidence."""
    operator_id(operator)
    with opened_node(node) as opened:
        alert = get_alert(opened, alert_id)
        alert_id = alert.alert_id
        history = AlertReview(opened.database, opened.audit).history(alert_id)
        total = opened.alerts.evidence_count(alert_id)
        first = (evidence_page - 1) * page_size
        items = opened.alerts.evidence(alert_id, offset=first, limit=page_size)
        if fmt is not Format.TABLE:
            evidence = [_withheld(item) for item in items]
            document = {
                **alert_row(alert, node_now(opened)),
                "evidence_total": total,
                "evidence_page": evidence_page,
                "evidence": evidence,
                "history": [_transition_row(step) for step in history],
            }
            emit_document(fmt, document, lambda: [], rows=evidence)
            return
        console.print(alert_panel(alert, node_now(opened)))
        table = evidence_table(items, total=total, first=first + 1)
        if not fits(console.width, table):
            table = evidence_records(items, total=total, first=first + 1)
        console.print(table)
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
    output: OutputFile,
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", case_sensitive=False, help="jsonl (complete) or csv (flat)"),
    ] = ExportFormat.JSONL,
    operator: OperatorOption = None,
) -> None:
    """Every alert with its evidence, to JSON Lines or CSV (-o - writes stdout)."""
    operator_id(operator)
    with opened_node(node) as opened:
        alerts = opened.alerts.list(AlertFilter())
        try:
            with written(output) as target:
                count = write_alerts(alerts, target, fmt)
        except OSError as exc:
            raise InvalidInput(f"--output: cannot write {output}: {exc.strerror or exc}") from exc
    notes_for(output).print(
        f"exported {count} alerts to {describe(output)} ({fmt.value})", markup=False
    )
