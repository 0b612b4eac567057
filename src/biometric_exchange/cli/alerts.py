"""``bx alerts``: what an operator reviews."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import NodeOption, console, opened_node, reports_errors
from biometric_exchange.domain import Alert, AlertKind

alerts_app = typer.Typer(help="Early-warning alerts raised on a node.")

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
