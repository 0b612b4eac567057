"""``bx simulate SCENARIO``: a migration-corridor scenario through the nodes, with a report.

Progress goes to stderr (a bar on a terminal, a line per step when piped)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console, reports_errors
from biometric_exchange.cli.progress import steps
from biometric_exchange.cli.scenarios import scenario_folder, scenario_names


@reports_errors
def simulate(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A scenario in simulations/ (darien_corridor, corridor_three, surge, "
            "identity_fraud, threshold_sweep, demo, demo_blind, bi_regional) or the path of "
            "a scenario file",
            show_default=False,
            autocompletion=scenario_names,
        ),
    ],
    over_grpc: Annotated[
        bool,
        typer.Option(
            "--over-grpc",
            help="Run the nodes as real processes on loopback with mutual TLS "
            "(default: in-process, no sockets)",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Report folder [default: runs/<scenario>-<seed>]",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed instead of the scenario's own", show_default=False),
    ] = None,
) -> None:
    """Run a scenario through the corridor's nodes (Chile and Panama, and Mexico when the
    scenario names it) and write its report."""
    # Deferred: numpy, scipy and matplotlib would slow every other bx command's start.
    from biometric_exchange.cli.bi_regional import run_if_bi_regional  # noqa: PLC0415
    from biometric_exchange.simulation.scenario import load_scenario, resolve  # noqa: PLC0415
    from biometric_exchange.simulation.study import default_out, run_study  # noqa: PLC0415

    path = resolve(scenario, scenario_folder())
    if run_if_bi_regional(path, out=output, seed=seed, over_grpc=over_grpc):
        return
    loaded = load_scenario(path)
    if seed is not None:
        loaded = loaded.with_seed(seed)
    folder = output or default_out(loaded)
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    mode = "over gRPC (node processes, mutual TLS)" if over_grpc else "in-process"
    console.print(
        f"scenario {loaded.name}: {loaded.population.migrants:,} migrants, {loaded.days} days, "
        f"seed {loaded.seed}, {mode}"
    )
    with steps("starting", loaded.days) as bar:

        def progress(what: str, done: int, total: int) -> None:
            bar.update(what, done, total)

        started = time.perf_counter()
        study = run_study(loaded, folder, over_grpc=over_grpc, progress=progress)
    console.print(summary_table(study.metrics))
    seconds = time.perf_counter() - started
    console.print(f"done in {seconds:.1f} s; report: [bold]{folder / 'report.md'}[/]")


def summary_table(metrics: dict[str, Any]) -> Table:
    table = Table(title="Alerts against the ground truth (synthetic)")
    for column in ("kind", "alerts", "right / wrong", "precision", "recall", "recall (eligible)"):
        table.add_column(column)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    for kind, k in metrics["alerts"].items():
        table.add_row(
            kind,
            str(k["alerts"]),
            f"{k['true_positives']} / {k['false_positives']}",
            pct(k.get("precision")),
            pct(k.get("recall")),
            pct(k.get("recall_eligible")),
        )
    return table
