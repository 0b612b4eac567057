"""``bx alerts`` and ``bx audit``: what an operator reviews."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import NodeOption, console, opened_node, reports_errors
from biometric_exchange.domain import Alert, AlertKind

alerts_app = typer.Typer(help="Early-warning alerts raised on a node.")
audit_app = typer.Typer(help="The node's hash-chained audit log.")

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def alerts_table(alerts: list[Alert], title: str) -> Table:
    table = Table(title=title, expand=False)
    for column in ("alert", "kind", "severity", "status", "partner", "distance", "summary"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        table.add_row(
            alert.alert_id,
            alert.kind.value,
            f"[{SEVERITY_STYLE[alert.severity.value]}]{alert.severity.value}[/]",
            alert.status.value,
            alert.partner or "-",
            f"{alert.distance:.3f}" if alert.distance is not None else "-",
            alert.summary.replace("[", "\\["),
        )
    return table


@alerts_app.command("list")
@reports_errors
def list_alerts(
    node: NodeOption,
    kind: Annotated[AlertKind | None, typer.Option(help="Only this kind")] = None,
) -> None:
    """A table of the node's alerts, oldest first."""
    with opened_node(node) as opened:
        alerts = opened.alerts.list(kind=kind)
        console.print(alerts_table(alerts, f"Alerts on {opened.config.node.name} ({len(alerts)})"))


@audit_app.command("verify")
@reports_errors
def verify(node: NodeOption) -> None:
    """Walk the hash chain; fails when any entry was altered, removed or inserted."""
    with opened_node(node) as opened:
        count = opened.audit.verify()
        console.print(f"audit chain of {opened.config.node.name} intact: {count} entries")


@audit_app.command("list")
@reports_errors
def list_audit(node: NodeOption) -> None:
    """Every send and receive, with outcome and reason."""
    with opened_node(node) as opened:
        table = Table(title=f"Audit log of {opened.config.node.name}")
        for column in ("seq", "at", "event", "peer", "message", "outcome", "detail"):
            table.add_column(column, overflow="fold")
        for entry in opened.audit.entries():
            detail = ", ".join(f"{k}={v}" for k, v in sorted(entry.detail.items()))
            table.add_row(
                str(entry.seq),
                entry.at[:19],
                entry.event,
                entry.peer or "-",
                (entry.message_id or "-")[:12],
                entry.outcome,
                detail.replace("[", "\\["),
            )
        console.print(table)
