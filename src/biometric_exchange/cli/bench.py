"""``bx bench``: performance measurements (synthetic data only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.bench import matching as benchmark
from biometric_exchange.cli.common import console

bench_app = typer.Typer(help="Benchmarks (FAISS comes with the 'bench' extra).")


@bench_app.command("match")
def match(
    quick: Annotated[bool, typer.Option(help="Gallery of 100k only")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the figures to this file")
    ] = None,
    repeats: Annotated[int, typer.Option(min=3, help="Repetitions per figure")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2024,
) -> None:
    """Engine vs FAISS vs scikit-learn: queries/s, memory, compact mode, snapshot load."""
    warning = benchmark.blas_warning()
    if warning:
        console.print(f"[yellow]{warning}[/]")
    settings = benchmark.settings_for(quick=quick, repeats=repeats, seed=seed)
    try:
        report = benchmark.run(settings, progress=lambda line: console.print(f"[dim]{line}[/]"))
    except benchmark.BenchUnavailable as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(benchmark.format_report(report), markup=False, highlight=False)
    if json_path is not None:
        json_path.write_text(benchmark.to_json(report))
        console.print(f"figures written to {json_path}")
