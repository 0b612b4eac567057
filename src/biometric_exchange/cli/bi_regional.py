"""``bx simulate`` for a bi-regional scenario (``kind = "bi_regional"``): twenty member
states, mesh and router on one world, in-process."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.cli.common import console


def run_if_bi_regional(path: Path, *, out: Path | None, seed: int | None, over_grpc: bool) -> bool:
    """Run a ``kind = "bi_regional"`` scenario (mesh and router, in-process); False
    for any other scenario."""
    from biometric_exchange.simulation.biregional.scenario import (  # noqa: PLC0415
        is_bi_regional,
        load_bi_regional,
    )
    from biometric_exchange.simulation.biregional.study import run_bi_regional  # noqa: PLC0415

    if not is_bi_regional(path):
        return False
    if over_grpc:
        raise typer.BadParameter(
            "a bi-regional scenario runs in-process; its gRPC run is `bx federation run`",
            param_hint="--over-grpc",
        )
    loaded, federation = load_bi_regional(path)
    if seed is not None:
        loaded = loaded.model_copy(update={"seed": seed})
    folder = out or Path("runs") / f"{loaded.name}-{loaded.seed}"
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(
        f"scenario {loaded.name}: {len(federation.members)} members, "
        f"{loaded.world.migrants:,} travellers, {loaded.days} days, seed {loaded.seed}, "
        "mesh and router, in-process"
    )
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("starting", total=loaded.days)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        metrics = run_bi_regional(loaded, federation, folder, progress=progress)
    table = Table(title="Mesh and router on one world (synthetic)")
    for column in (
        "topology",
        "calls / encounter",
        "bytes / encounter",
        "Identify ms (median)",
        "hits found / expected",
    ):
        table.add_column(column)
    for name, run in metrics["topologies"].items():
        table.add_row(
            name,
            f"{run['messages_per_encounter']:.2f}",
            f"{run['wire_bytes_per_encounter']:,}",
            f"{run['identify_ms_median']}",
            f"{run['found_expected']} / {run['expected_partner_hits']}",
        )
    console.print(table)
    seconds = time.perf_counter() - started
    console.print(f"done in {seconds:.1f} s; report: [bold]{folder / 'report.md'}[/]")
    return True
