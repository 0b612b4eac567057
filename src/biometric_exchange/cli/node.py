"""``bx node``: run a node, probe its health, ping its partner."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import (
    NodeDir,
    configure_logging,
    console,
    opened_node,
    reports_errors,
)
from biometric_exchange.logs import LOG_FORMAT_ENV, LogFormat
from biometric_exchange.node.link import Link
from biometric_exchange.node.probe import health_status, reflected_services
from biometric_exchange.node.runtime import Node

app = typer.Typer(help="Run and probe a node.")


@app.command("run")
@reports_errors
def run(
    node_dir: NodeDir,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar=LOG_FORMAT_ENV,
            help="text, or json: one JSON object per line",
        ),
    ] = LogFormat.TEXT,
) -> None:
    """Serve the node in the foreground until Ctrl-C."""
    from biometric_exchange.node.process import run_node  # noqa: PLC0415

    configure_logging(verbose, json_format=log_format is LogFormat.JSON)
    run_node(node_dir)


@app.command("health")
@reports_errors
def health(
    node_dir: NodeDir,
    partner: Annotated[
        bool, typer.Option("--partner", help="Probe each partner's node instead")
    ] = False,
) -> None:
    """gRPC health of each service, and the services listed by reflection."""
    with opened_node(node_dir) as node:
        targets: list[Link | None] = list(node.links()) if partner else [None]
        serving = [_print_health(node, target) for target in targets]
    if not all(serving):
        raise typer.Exit(1)


def _print_health(node: Node, partner: Link | None) -> bool:
    """Print the health table of our node, or of ``partner``'s node."""
    from biometric_exchange.node.rpc import SERVICE as EXCHANGE_SERVICE  # noqa: PLC0415

    name = node.name
    title = f"{partner.code}'s node (partner of {name})" if partner else name
    table = Table(title=f"health of {title}")
    table.add_column("service")
    table.add_column("status")
    overall = health_status(node, partner=partner)
    table.add_row("(server)", overall)
    table.add_row(EXCHANGE_SERVICE, health_status(node, partner=partner, service=EXCHANGE_SERVICE))
    console.print(table)
    if overall != "SERVING":
        return False
    console.print("reflection lists: " + ", ".join(reflected_services(node, partner=partner)))
    return True
