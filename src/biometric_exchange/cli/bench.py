"""``bx bench``: performance measurements (synthetic data only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.bench import blind as blind_bench
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
    sizes: Annotated[
        str | None,
        typer.Option(help="Gallery sizes, comma-separated: float and int8 side by side"),
    ] = None,
    mode: Annotated[str, typer.Option(help="With --sizes: float, int8 or both")] = "float,int8",
    check: Annotated[
        int, typer.Option(help="With --sizes: probes of the int8-vs-float equality check")
    ] = 10_000,
    queries: Annotated[
        str, typer.Option(help="With --sizes: probe counts Q, comma-separated")
    ] = "1,100,1000",
) -> None:
    """Engine vs FAISS vs scikit-learn: queries/s, memory, compact mode, snapshot load.

    With --sizes: the float and int8 engines against FAISS IndexFlatL2 and
    IndexScalarQuantizer (8-bit) at Q = 1, 100, 1000, with the memory-read
    ceiling and an equality check of int8 against float."""
    warning = benchmark.blas_warning()
    if warning:
        console.print(f"[yellow]{warning}[/]")
    if sizes is not None:
        _scale(sizes, mode, queries, repeats=repeats, seed=seed, check=check)
        return
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


@bench_app.command("blind")
def blind(
    watchlist: Annotated[
        list[int] | None,
        typer.Option(
            "--watchlist", help="Watchlist sizes (repeatable; 1k, 10k and 100k by default)"
        ),
    ] = None,
    probes: Annotated[int, typer.Option(min=2, help="Probes per repetition, half mated")] = 4,
    repeats: Annotated[int, typer.Option(min=3, help="Repetitions per size")] = 3,
    agreement_probes: Annotated[
        int, typer.Option(min=0, help="Also compare blind and plain hits on this many probes")
    ] = 0,
    agreement_watchlist: Annotated[
        int, typer.Option(min=1, help="Watchlist size of the agreement check")
    ] = 10_000,
    jobs: Annotated[int, typer.Option(min=1, help="Processes for the agreement check")] = 1,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the figures to this file")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2024,
) -> None:
    """Blind identify (CKKS) against plain matching: the holder's seconds per probe, bytes
    each way, the same hits; with --agreement-probes, the hits of many probes compared."""
    settings = blind_bench.Settings(
        sizes=tuple(watchlist) if watchlist else blind_bench.SIZES,
        probes=probes,
        repeats=repeats,
        agreement_probes=agreement_probes,
        agreement_size=agreement_watchlist,
        jobs=jobs,
        seed=seed,
    )
    report = blind_bench.run(settings, progress=lambda line: console.print(f"[dim]{line}[/]"))
    console.print(blind_bench.format_report(report), markup=False, highlight=False)
    if json_path is not None:
        json_path.write_text(blind_bench.to_json(report))
        console.print(f"figures written to {json_path}")


def _scale(sizes: str, mode: str, queries: str, *, repeats: int, seed: int, check: int) -> None:
    from biometric_exchange.bench import scale  # noqa: PLC0415 - FAISS loads on use

    try:
        counts = tuple(int(part.replace("_", "")) for part in sizes.split(",") if part.strip())
        probe_counts = tuple(int(part) for part in queries.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            "expected sizes such as 1000000,10000000", param_hint="--sizes"
        ) from exc
    modes = tuple(part.strip() for part in mode.split(",") if part.strip())
    if not counts or min(counts) < 1 or not probe_counts or min(probe_counts) < 1:
        raise typer.BadParameter("sizes and probe counts >= 1", param_hint="--sizes/--queries")
    if not modes or not set(modes) <= set(scale.MODES):
        raise typer.BadParameter("modes among float, int8", param_hint="--sizes/--mode")
    settings = scale.ScaleSettings(
        sizes=counts, modes=modes, repeats=repeats, seed=seed, check=check
    )
    try:
        report = scale.run_scale(settings, progress=lambda line: console.print(f"[dim]{line}[/]"))
    except scale.BenchUnavailable as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(scale.format_scale(report), markup=False, highlight=False)
