"""``bx node``: run a node, probe its health, ping its partner."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table

from biometric_exchange.cli.common import (
    EXIT_FAILED,
    NodeOption,
    configure_logging,
    console,
    fail,
    opened_node,
    partner_links,
    reports_errors,
)
from biometric_exchange.cli.formats import Format, FormatOption, emit_rows
from biometric_exchange.logs import LOG_FORMAT_ENV, LogFormat
from biometric_exchange.node.link import Link
from biometric_exchange.node.presence import ReloadOutcome, RunningState, read_states
from biometric_exchange.node.probe import health_status, reflected_services
from biometric_exchange.node.runtime import Node

app = typer.Typer(help="Run and probe a node.")


@app.command("run")
@reports_errors
def run(
    node_dir: NodeOption,
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
    node_dir: NodeOption,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.5, max=120, help="Seconds to wait for the node")
    ] = 15.0,
) -> None:
    """Make the running node load the agreements now on disk, without a restart.

    Calls in flight and items of other partners carry on. Every process serving the
    folder reloads (several with a PostgreSQL store). Exits 1 when no process serves
    the folder, when a process does not answer in time, or when one refuses the
    agreements on disk (it then keeps serving the ones it held).
    """
    before = read_states(node_dir)
    if not before:
        raise fail(
            f"{node_dir}: no node process serves this folder; "
            f"it loads the agreements on disk when it starts (bx node run -n {node_dir})",
            code=EXIT_FAILED,
        )
    signalled = []
    for state in before:
        try:
            os.kill(state.pid, signal.SIGHUP)
        except ProcessLookupError:  # it stopped since it was read
            continue
        signalled.append(state)
    if not signalled:
        raise fail(f"{node_dir}: the node stopped before it could reload", code=EXIT_FAILED)
    outcomes = _wait_reloaded(node_dir, signalled, timeout)
    refused = [(pid, outcome.error) for pid, outcome in outcomes if outcome.error]
    if refused:
        share = f" ({len(refused)} of {len(outcomes)} processes)" if len(outcomes) > 1 else ""
        raise fail(
            f"reload refused{share}, still serving the agreements held: {refused[0][1]}",
            EXIT_FAILED,
        )
    where = f" ({len(outcomes)} processes)" if len(outcomes) > 1 else ""
    outcome = outcomes[0][1]
    if not outcome.changed:
        console.print(f"reloaded {node_dir}{where}: no change", markup=False)
        return
    console.print(
        f"reloaded {node_dir}{where}: added {', '.join(outcome.added) or 'none'}; "
        f"updated {', '.join(outcome.updated) or 'none'}; "
        f"removed {', '.join(outcome.removed) or 'none'}",
        markup=False,
    )


def _wait_reloaded(
    node_dir: Path, before: list[RunningState], timeout: float
) -> list[tuple[int, ReloadOutcome]]:
    """Each signalled process's reload outcome, by pid, once all have reloaded."""
    deadline = time.monotonic() + timeout
    waiting = {state.pid: state.reloads for state in before}
    done: dict[int, ReloadOutcome] = {}
    while True:
        for state in read_states(node_dir):
            if state.pid in waiting and state.reloads > waiting[state.pid]:
                done[state.pid] = state.last_reload or ReloadOutcome(at_ms=0)
        if len(done) == len(waiting):
            return [(pid, done[pid]) for pid in waiting]
        if time.monotonic() >= deadline:
            late = ", ".join(str(pid) for pid in waiting if pid not in done)
            raise fail(f"{node_dir}: the node (pid {late}) did not reload in time", EXIT_FAILED)
        time.sleep(0.1)


@app.command("health")
@reports_errors
def health(
    node_dir: NodeOption,
    partners: Annotated[
        bool, typer.Option("--partners", help="Probe every partner's node instead")
    ] = False,
    partner: Annotated[
        str | None,
        typer.Option(
            "--partner", help="Probe this partner's node (a country code)", show_default=False
        ),
    ] = None,
    fmt: FormatOption = Format.TABLE,
) -> None:
    """gRPC health of each service, and the services listed by reflection; exit 1 when
    a node probed is not serving. With --partners or --partner: the partners' nodes,
    over this node's mTLS identity."""
    with opened_node(node_dir) as node:
        targets: list[Link | None] = [None]
        if partners or partner is not None:
            targets = list(partner_links(node, partner))
        rows = [row for target in targets for row in _health_rows(node, target)]
    emit_rows(fmt, rows, lambda: _health_tables(rows), columns=HEALTH_COLUMNS)
    if any(row["service"] == SERVER and row["status"] != "SERVING" for row in rows):
        raise typer.Exit(EXIT_FAILED)


SERVER = "(server)"
HEALTH_COLUMNS = ("node", "service", "status")


def _health_rows(node: Node, partner: Link | None) -> list[dict[str, str]]:
    """Health of our node, or of ``partner``'s node: the server, the Exchange service,
    then (when serving) each service reflection lists, status ``listed``."""
    from biometric_exchange.node.rpc import SERVICE as EXCHANGE_SERVICE  # noqa: PLC0415

    name = f"{partner.code}'s node (partner of {node.name})" if partner else node.name
    overall = health_status(node, partner=partner)
    rows = [
        {"node": name, "service": SERVER, "status": overall},
        {
            "node": name,
            "service": EXCHANGE_SERVICE,
            "status": health_status(node, partner=partner, service=EXCHANGE_SERVICE),
        },
    ]
    if overall == "SERVING":
        rows += [
            {"node": name, "service": service, "status": "listed by reflection"}
            for service in reflected_services(node, partner=partner)
        ]
    return rows


def _health_tables(rows: list[dict[str, str]]) -> Group:
    tables: dict[str, Table] = {}
    for row in rows:
        table = tables.get(row["node"])
        if table is None:
            table = tables[row["node"]] = Table(title=f"health of {row['node']}")
            table.add_column("service", no_wrap=True)
            table.add_column("status")
        table.add_row(row["service"], row["status"])
    return Group(*tables.values())
