"""``bx federation``: generate a federation's folders, run its router, run the gRPC
subset of a bi-regional scenario as real processes (mesh, then router)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import configure_logging, console, reports_errors

app = typer.Typer(help="A federation of RCM and SACM members: folders, router, gRPC run.")


@app.command("generate")
@reports_errors
def generate_folders(
    description: Annotated[
        Path, typer.Argument(help="A federation file, or a scenario with a [federation] table")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to create (must not exist)")
    ],
) -> None:
    """Node folders, keys, signed agreements and the router folder (synthetic)."""
    from biometric_exchange.federation import load_federation  # noqa: PLC0415
    from biometric_exchange.federation.generate import generate  # noqa: PLC0415

    federation = load_federation(description)
    if output.exists():
        raise typer.BadParameter(f"{output} exists", param_hint="--output")
    folders = generate(federation, output)
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(
        f"{len(folders.nodes)} node folders, {len(folders.pairs)} agreements, router in "
        f"{folders.router}"
    )


@app.command("router")
@reports_errors
def run_router(
    router_dir: Annotated[Path, typer.Argument(help="The router's folder")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve as the federation's router until SIGINT or SIGTERM."""
    from biometric_exchange.router.config import (  # noqa: PLC0415
        DATABASE_FILENAME,
        RouterKeys,
        load_router_config,
    )
    from biometric_exchange.router.forward import Router  # noqa: PLC0415
    from biometric_exchange.router.server import GrpcHolders, start_router  # noqa: PLC0415
    from biometric_exchange.store.database import Database  # noqa: PLC0415

    configure_logging(verbose)
    config = load_router_config(router_dir)
    database = Database(router_dir / DATABASE_FILENAME)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Not in the handler itself: the main thread may hold the event's lock in wait().
        threading.Thread(target=stop.set, daemon=True).start()

    def factory(holders: GrpcHolders) -> Router:
        return Router(config, database, holders)

    running = start_router(config, RouterKeys(router_dir), factory)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    console.print(f"router {config.name} listening on {config.listen}")
    try:
        stop.wait()
    finally:
        running.stop()
        database.close()


@app.command("run")
@reports_errors
def run_processes(
    scenario: Annotated[str, typer.Argument(help="A bi-regional scenario (bi_regional)")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Report folder [default: runs/<scenario>-<seed>-grpc]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The scenario's grpc_subset as node processes over mutual TLS, mesh then router."""
    from biometric_exchange.cli.scenarios import scenario_folder  # noqa: PLC0415
    from biometric_exchange.simulation.biregional.process_study import (  # noqa: PLC0415
        run_process_study,
    )
    from biometric_exchange.simulation.biregional.scenario import (  # noqa: PLC0415
        load_bi_regional,
    )
    from biometric_exchange.simulation.scenario import resolve  # noqa: PLC0415

    loaded, federation = load_bi_regional(resolve(scenario, scenario_folder()))
    folder = output or Path("runs") / f"{loaded.name}-{loaded.seed}-grpc"
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(f"members {', '.join(loaded.grpc_subset)}: node processes, mesh then router")
    metrics = run_process_study(loaded, federation, folder)
    table = Table(title="Node processes over gRPC (synthetic)")
    for column in ("topology", "encounters", "Identify calls", "hits found / expected", "s"):
        table.add_column(column)
    for name, run in metrics["topologies"].items():
        table.add_row(
            name,
            f"{run['encounters']:,}",
            f"{run['identify_calls']:,}",
            f"{run['found_expected']} / {run['expected_partner_hits']}",
            f"{run['seconds']:.1f}",
        )
    console.print(table)
    every = "yes" if metrics["router_found_every_mesh_hit"] else "NO"
    console.print(f"every mesh hit found through the router: {every}")
    console.print(f"report: [bold]{folder / 'processes.md'}[/]")
    if not metrics["router_found_every_mesh_hit"]:
        raise typer.Exit(1)
