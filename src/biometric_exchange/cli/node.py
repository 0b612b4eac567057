"""``bx node``: run a node, probe its health, ping its partner."""

from __future__ import annotations

import os
import signal
import time
from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange.cli.common import (
    NodeDir,
    configure_logging,
    console,
    fail,
    opened_node,
    reports_errors,
)
from biometric_exchange.logs import LOG_FORMAT_ENV, LogFormat
from biometric_exchange.node.link import Link
from biometric_exchange.node.presence import read_state
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


@app.command("reload")
@reports_errors
def reload(
    node_dir: NodeDir,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.5, max=120, help="Seconds to wait for the node")
    ] = 15.0,
) -> None:
    """Make the running node load the agreements now on disk, without a restart.

    Calls in flight and items of other partners carry on. Exits 1 when no process
    serves the folder, when the node does not answer in time, or when it refuses
    the agreements on disk (it then keeps serving the ones it held).
    """
    state = read_state(node_dir)
    if state is None:
        raise fail(
            f"{node_dir}: no node process serves this folder; "
            f"it loads the agreements on disk when it starts (bx node run {node_dir})",
            code=1,
        )
    os.kill(state.pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    after = read_state(node_dir)
    while after is None or after.reloads <= state.reloads:
        if time.monotonic() >= deadline or after is None:
            raise fail(f"{node_dir}: the node (pid {state.pid}) did not reload in time", code=1)
        time.sleep(0.1)
        after = read_state(node_dir)
    outcome = after.last_reload
    if outcome is not None and outcome.error:
        raise fail(f"reload refused, still serving the agreements held: {outcome.error}", code=1)
    if outcome is None or not outcome.changed:
        console.print(f"reloaded {node_dir}: no change")
        return
    console.print(
        f"reloaded {node_dir}: added {', '.join(outcome.added) or 'none'}; "
        f"updated {', '.join(outcome.updated) or 'none'}; "
        f"removed {', '.join(outcome.removed) or 'none'}",
        markup=False,
    )


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
