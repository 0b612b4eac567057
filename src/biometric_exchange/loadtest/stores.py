"""The same load on both stores: SQLite with one holder process, then PostgreSQL
with several, in one run, side by side (``bx loadtest --store postgresql``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from biometric_exchange.loadtest.config import LoadConfig
from biometric_exchange.loadtest.results import LoadReport, RunStats
from biometric_exchange.loadtest.runner import run_load

CORRECTNESS = ("zero errors", "both audit logs account for every call")
"""The verdicts a comparison must meet (the speed targets are for one process on SQLite)."""


@dataclass(frozen=True)
class StoreComparison:
    sqlite: LoadReport
    """One holder process on SQLite: the reference."""
    postgresql: LoadReport
    """``replicas`` holder processes on one PostgreSQL database."""

    @property
    def reports(self) -> tuple[LoadReport, LoadReport]:
        return self.sqlite, self.postgresql

    @property
    def correct(self) -> bool:
        """Every call answered without error and accounted for in both audit logs, in
        both runs."""
        return all(
            verdict.met
            for report in self.reports
            for verdict in report.verdicts
            if verdict.target in CORRECTNESS
        )

    def to_dict(self) -> dict[str, Any]:
        return {"sqlite": self.sqlite.to_dict(), "postgresql": self.postgresql.to_dict()}


def compare_stores(
    config: LoadConfig, *, progress: Callable[[str], None] = lambda _message: None
) -> StoreComparison:
    """``config`` (a PostgreSQL run) after the same run on SQLite with one process."""
    workdir = config.workdir

    def on(store: str, **changes: Any) -> LoadConfig:
        return replace(config, store=store, workdir=workdir / store if workdir else None, **changes)

    progress("reference run: SQLite, one holder process")
    sqlite = run_load(on("sqlite", replicas=1, store_url=None), progress=progress)
    progress(f"PostgreSQL, {config.replicas} holder process(es)")
    postgresql = run_load(on("postgresql"), progress=progress)
    return StoreComparison(sqlite, postgresql)


def _row(store: str, processes: int, run: RunStats | None) -> str:
    if run is None:
        return f"{store:<11} {processes:>9}  (not run)"
    audit = "complete" if run.audit is not None and run.audit.complete else "INCOMPLETE"
    return (
        f"{store:<11} {processes:>9} {run.calls_per_s:>9.1f} {run.latency.p50_ms:>8.1f} "
        f"{run.latency.p99_ms:>8.1f} {sum(run.errors.values()):>7}  {audit}"
    )


def describe_comparison(comparison: StoreComparison) -> list[str]:
    """Both stores' figures, run by run, and the ratios PostgreSQL / SQLite."""
    sqlite, postgresql = comparison.reports
    lines = []
    for name in [run.name for run in sqlite.runs]:
        lines.append(f"{name} run ({sqlite.config.clients} clients, one address):")
        lines.append("store       processes   calls/s   p50 ms   p99 ms  errors  audit")
        pair = [
            next((run for run in report.runs if run.name == name), None)
            for report in comparison.reports
        ]
        lines.append(_row("sqlite", sqlite.config.replicas, pair[0]))
        lines.append(_row("postgresql", postgresql.config.replicas, pair[1]))
        first, second = pair
        if first is not None and second is not None and first.calls_per_s > 0:
            lines.append(
                f"  postgresql / sqlite: calls/s x{second.calls_per_s / first.calls_per_s:.2f}, "
                f"p99 x{second.latency.p99_ms / first.latency.p99_ms:.2f}"
            )
    lines.append(
        "correctness (zero errors, both audit logs complete) on both stores: "
        + ("met" if comparison.correct else "MISSED")
    )
    return lines
