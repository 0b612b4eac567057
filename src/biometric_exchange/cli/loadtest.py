"""``bx loadtest``: concurrent Identify calls over mutual TLS against a real node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from biometric_exchange.cli.common import console, errors, fail, reports_errors


@reports_errors
def loadtest(
    watchlist: Annotated[
        int, typer.Option("--watchlist", help="Synthetic watchlist entries on the holder")
    ] = 100_000,
    clients: Annotated[
        int, typer.Option("--clients", "-c", help="Concurrent clients, one channel each")
    ] = 16,
    calls: Annotated[int, typer.Option("--calls", "-m", help="Single-probe calls")] = 3_000,
    seconds: Annotated[
        float, typer.Option("--seconds", help="Upper bound on each timed run, in seconds")
    ] = 60.0,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            help="Offer the single-probe calls at this many a second, an open loop: "
            "latency from each call's due time (default: each client calls again "
            "when answered)",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Probes per batch call")] = 100,
    batch_calls: Annotated[
        int | None,
        typer.Option("--batch-calls", help="Batch calls (default: as many as --calls; 0: none)"),
    ] = None,
    serial_batch_calls: Annotated[
        int, typer.Option("--serial-batch-calls", help="Batch calls made one at a time")
    ] = 20,
    hit_rate: Annotated[
        float, typer.Option("--hit-rate", help="Share of probes that match a watchlist entry")
    ] = 0.1,
    holder_blas_threads: Annotated[
        int | None,
        typer.Option(
            "--holder-blas-threads",
            help="BLAS threads of the holder process (default: inherited)",
        ),
    ] = None,
    compact_from: Annotated[
        int | None,
        typer.Option(
            "--compact-from",
            help="Holder's [matching] compact_from (default: the node's default)",
        ),
    ] = None,
    batch_window_ms: Annotated[
        float | None,
        typer.Option(
            "--batch-window-ms",
            help="Holder's [matching] batch_window_ms (default: the node's default)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic templates")] = 2017,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Build the pair here and keep it (default: a temporary folder)"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON here")
    ] = None,
    store: Annotated[
        str,
        typer.Option(
            "--store",
            help="The holder's store: sqlite, or postgresql (run after the same load on "
            "sqlite, figures side by side)",
        ),
    ] = "sqlite",
    replicas: Annotated[
        int, typer.Option("--replicas", help="Holder processes on one address (postgresql)")
    ] = 1,
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store-url",
            help="A PostgreSQL server to make the holder's database on "
            "(default: a throwaway cluster on loopback)",
        ),
    ] = None,
) -> None:
    """Build a pair, load a synthetic watchlist, start the holder and drive Identify.

    Prints throughput, latency percentiles, errors, whether both audit logs
    account for every call, and the batch cost against the matching alone,
    each compared with the reference targets. Exits 1 when a target is missed.
    With --store postgresql: the same load on SQLite (one process) and on
    PostgreSQL (--replicas processes), side by side; exits 1 when a call failed
    or is missing from an audit log. Loopback only; synthetic data only.
    """
    from biometric_exchange.loadtest import (  # noqa: PLC0415
        LoadConfig,
        compare_stores,
        describe,
        describe_comparison,
        run_load,
    )

    config = LoadConfig(
        watchlist=watchlist,
        clients=clients,
        calls=calls,
        seconds=seconds,
        rate=rate,
        batch_size=batch_size,
        batch_calls=batch_calls,
        serial_batch_calls=serial_batch_calls,
        hit_rate=hit_rate,
        holder_blas_threads=holder_blas_threads,
        compact_from=compact_from,
        batch_window_ms=batch_window_ms,
        seed=seed,
        workdir=workdir,
        store=store,
        replicas=replicas,
        store_url=store_url,
    )
    if store == "postgresql":
        comparison = compare_stores(
            config, progress=lambda message: errors.print(message, markup=False)
        )
        for name, each in zip(("sqlite", "postgresql"), comparison.reports, strict=True):
            console.print(f"-- {name}, {each.config.replicas} holder process(es)", markup=False)
            for line in describe(each):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
        for line in describe_comparison(comparison):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if json_out is not None:
            text = json.dumps(comparison.to_dict(), indent=2) + "\n"
            json_out.write_text(text, encoding="utf-8")
        if not comparison.correct:
            raise fail("a call failed or is missing from an audit log (see above)", code=1)
        return
    report = run_load(config, progress=lambda message: errors.print(message, markup=False))
    for line in describe(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if not all(verdict.met for verdict in report.verdicts):
        raise fail("a load target was missed (see above)", code=1)
