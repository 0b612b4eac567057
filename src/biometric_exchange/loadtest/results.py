"""The figures of a load run: latency percentiles, per-run statistics, the audit
check, the matching alone, the verdicts and the whole report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from biometric_exchange.loadtest.config import LoadConfig


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        if not seconds:
            nan = float("nan")
            return cls(nan, nan, nan, nan)
        p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000.0, [50, 95, 99])
        return cls(float(p50), float(p95), float(p99), max(seconds) * 1000.0)


@dataclass(frozen=True)
class AuditCheck:
    """Both audit logs against the calls of one run, matched by message id."""

    calls: int
    answered: int
    """Calls the driver saw answered (a reply that opened and answered every probe)."""
    caller_sent: int
    """Calls with an ``identify.sent`` entry in the caller's log."""
    caller_outcomes: int
    """Of those, calls whose outcome (``identify.reply_received``) the caller recorded."""
    caller_answered: int
    """Of those, outcomes ``accepted``."""
    holder_accepted: int
    """Calls with an ``identify.received`` accepted entry in the holder's log."""
    holder_rejected: int
    holder_replied: int
    """Calls with an ``identify.reply_sent`` entry in the holder's log."""
    answered_missing_at_holder: int
    """Calls the caller recorded as answered that the holder did not record (accepted
    and replied): must be 0."""
    holder_after_caller_gave_up: int
    """Calls the holder accepted and answered after the caller's deadline."""
    never_reached_holder: int
    """Unanswered calls with no entry at the holder (refused by transport or lost)."""

    @property
    def complete(self) -> bool:
        return (
            self.caller_sent == self.calls
            and self.caller_outcomes == self.calls
            and self.caller_answered == self.answered
            and self.answered_missing_at_holder == 0
            and self.holder_replied == self.holder_accepted
        )


@dataclass(frozen=True)
class RunStats:
    name: str
    clients: int
    probes_per_call: int
    calls: int
    answered: int
    errors: dict[str, int]
    elapsed_s: float
    latency: Percentiles
    mean_latency_ms: float
    hits: int
    holder_cpu_s: float | None
    driver_cpu_s: float
    load_average: tuple[float, float]
    """One-minute load average of the machine before and after the run."""
    audit: AuditCheck | None = None
    offered_per_s: float | None = None
    """Calls a second offered when the run was paced (latency from each call's due
    time); None for a closed loop."""

    @property
    def calls_per_s(self) -> float:
        return self.answered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def probes_per_s(self) -> float:
        return self.calls_per_s * self.probes_per_call

    @property
    def cost_per_call_ms(self) -> float:
        """Wall time per answered call with every client busy (the amortized cost)."""
        return 1000.0 * self.elapsed_s / self.answered if self.answered else float("nan")

    @property
    def holder_cpu_per_call_ms(self) -> float | None:
        if self.holder_cpu_s is None or not self.calls:
            return None
        return 1000.0 * self.holder_cpu_s / self.calls


@dataclass(frozen=True)
class MatchingStats:
    """``Gallery.search`` alone (exact top-k under the threshold) on the same watchlist."""

    probes: int
    serial_p50_ms: float
    """One search at a time."""
    concurrent_threads: int
    concurrent_cost_ms: float
    """Wall time per search with ``concurrent_threads`` searching at once."""

    @property
    def best_cost_ms(self) -> float:
        """The cheaper way of running many searches: one at a time or concurrently."""
        return min(self.serial_p50_ms, self.concurrent_cost_ms)


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool


@dataclass(frozen=True)
class LoadReport:
    config: LoadConfig
    workdir: str
    cpu_count: int
    generate_s: float
    insert_s: float
    start_s: float
    single: RunStats
    batch: RunStats | None
    serial_batch: RunStats | None
    matching_single: MatchingStats
    matching_batch: MatchingStats | None
    verdicts: tuple[Verdict, ...] = field(default=())
    holder_passes: tuple[int, int] | None = None
    """(searches, passes over the watchlist) the holder logged when it stopped."""

    @property
    def runs(self) -> tuple[RunStats, ...]:
        return tuple(r for r in (self.single, self.batch, self.serial_batch) if r is not None)

    @property
    def batch_overhead(self) -> float | None:
        """Wall time per batch Identify with every client busy, over the cheapest
        amortized search alone, minus 1 (what the exchange adds to the matching)."""
        if self.batch is None or self.matching_batch is None or not self.batch.answered:
            return None
        return self.batch.cost_per_call_ms / self.matching_batch.best_cost_ms - 1.0

    @property
    def serial_batch_overhead(self) -> float | None:
        """p50 latency of one batch Identify at a time over one search alone, minus 1."""
        serial, matching = self.serial_batch, self.matching_batch
        if serial is None or matching is None or not serial.answered:
            return None
        return serial.latency.p50_ms / matching.serial_p50_ms - 1.0

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["config"]["workdir"] = str(self.config.workdir) if self.config.workdir else None
        raw["batch_overhead"] = self.batch_overhead
        raw["serial_batch_overhead"] = self.serial_batch_overhead
        for run in self.runs:
            key = {"single": "single", "batch": "batch", "batch-serial": "serial_batch"}[run.name]
            raw[key].update(
                calls_per_s=run.calls_per_s,
                probes_per_s=run.probes_per_s,
                cost_per_call_ms=run.cost_per_call_ms,
                holder_cpu_per_call_ms=run.holder_cpu_per_call_ms,
            )
            if run.audit is not None:
                raw[key]["audit"]["complete"] = run.audit.complete
        return raw
