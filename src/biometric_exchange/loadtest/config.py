"""The load run's settings (``LoadConfig``), its targets and limits, and the
holder's environment."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.server import SERVER_THREADS

TARGET_SINGLE_CALLS_PER_S = 300.0
"""Single-probe Identify throughput the reference implementation aims at (16 clients)."""
TARGET_SINGLE_P99_MS = 50.0
NATIONAL_SCALE = 1_000_000
"""From this watchlist size on, the national-scale targets apply instead."""
TARGET_NATIONAL_CALLS_PER_S = 100.0
TARGET_NATIONAL_P99_MS = 100.0


def single_targets(watchlist: int) -> tuple[float, float]:
    """(calls/s, p99 ms) a single-probe run at 16 clients aims at for this watchlist."""
    if watchlist >= NATIONAL_SCALE:
        return TARGET_NATIONAL_CALLS_PER_S, TARGET_NATIONAL_P99_MS
    return TARGET_SINGLE_CALLS_PER_S, TARGET_SINGLE_P99_MS


TARGET_BATCH_OVERHEAD = 0.25
"""A batch of probes may cost at most this much more than searching the gallery alone."""
SERVER_WORKERS = SERVER_THREADS
"""Threads of the node's gRPC server (``node.server.start_server``)."""
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PURPOSE = "border_security"
MAX_CANDIDATES = 3
THRESHOLD = 0.6
INSERT_BATCH = 5_000
CALL_TIMEOUT_S = 30.0
MAX_PROBES_PER_REQUEST = 1000
"""The agreement schema's ceiling on ``step1.max_probes_per_request``."""
GENERATOR = "biometric-exchange loadtest"
STORES = ("sqlite", "postgresql")
MAX_REPLICAS = 16


@dataclass(frozen=True)
class LoadConfig:
    watchlist: int = 100_000
    clients: int = 16
    calls: int = 3_000
    seconds: float = 60.0
    """Upper bound on each timed run."""
    rate: float | None = None
    """Single-probe calls a second offered, paced (an open loop: latency runs from
    each call's due time); None: each client calls again when answered."""
    batch_size: int = 100
    batch_calls: int | None = None
    """Calls of the concurrent batch run; as many as ``calls`` when None (bounded by
    ``seconds``); 0 skips it."""
    serial_batch_calls: int = 20
    """Batch calls made one at a time, for the latency against the matching alone."""
    hit_rate: float = 0.1
    """Share of probes that are new captures of a watchlist subject."""
    matching_repeats: int = 20
    holder_blas_threads: int | None = None
    """BLAS threads of the holder process (and of the matching-alone process);
    inherited from this environment when None."""
    compact_from: int | None = None
    """The holder's ``[matching] compact_from``; the node's default when None."""
    batch_window_ms: float | None = None
    """The holder's ``[matching] batch_window_ms``; the node's default when None."""
    seed: int = 2017
    workdir: Path | None = None
    """Where the pair is built (kept); a temporary folder (removed) when None."""
    store: str = "sqlite"
    """The holder's store: ``sqlite`` (one process) or ``postgresql``."""
    replicas: int = 1
    """Holder processes serving at once (several only on ``postgresql``)."""
    store_url: str | None = None
    """The PostgreSQL server the holder's database is made on (a database of its
    own is created there); a throwaway cluster on loopback when None."""

    def __post_init__(self) -> None:
        at_least_one = {
            "watchlist": self.watchlist,
            "clients": self.clients,
            "calls": self.calls,
            "batch_size": self.batch_size,
            "matching_repeats": self.matching_repeats,
        }
        if self.holder_blas_threads is not None:
            at_least_one["holder_blas_threads"] = self.holder_blas_threads
        for name, value in at_least_one.items():
            if value < 1:
                raise InvalidInput(f"{name}: must be at least 1")
        if self.batch_size > MAX_PROBES_PER_REQUEST:
            raise InvalidInput(f"batch_size: at most {MAX_PROBES_PER_REQUEST} probes per request")
        if (self.batch_calls is not None and self.batch_calls < 0) or self.serial_batch_calls < 0:
            raise InvalidInput("batch_calls, serial_batch_calls: must not be negative")
        if not self.seconds > 0:
            raise InvalidInput("seconds: must be positive")
        if self.rate is not None and not 0 < self.rate < math.inf:
            raise InvalidInput("rate: calls a second, a positive number")
        if not 0.0 <= self.hit_rate <= 1.0:
            raise InvalidInput("hit_rate: must be between 0 and 1")
        if self.store not in STORES:
            raise InvalidInput(f"store: one of {', '.join(STORES)}, not {self.store!r}")
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise InvalidInput(f"replicas: between 1 and {MAX_REPLICAS}")
        if self.replicas > 1 and self.store == "sqlite":
            raise InvalidInput("replicas: a SQLite store is served by one process")

    @property
    def batch_run_calls(self) -> int:
        return self.calls if self.batch_calls is None else self.batch_calls

    @property
    def single_probes_needed(self) -> int:
        """The single run's probes, its clients' warm-up calls included."""
        return self.calls + self.clients

    @property
    def batch_calls_needed(self) -> int:
        """The batch runs' calls, warm-up calls included."""
        return self.batch_run_calls + self.clients + self.serial_batch_calls + 1

    @property
    def probes_needed(self) -> int:
        """Every probe the driver may send today, each a distinct capture: the holder
        refuses a repeat of a recent probe under another reference."""
        return self.single_probes_needed + self.batch_calls_needed * self.batch_size

    def holder_matching(self) -> dict[str, int | float]:
        """The ``[matching]`` settings the run gives the holder (its defaults otherwise)."""
        found: dict[str, int | float] = {}
        if self.compact_from is not None:
            found["compact_from"] = self.compact_from
        if self.batch_window_ms is not None:
            found["batch_window_ms"] = self.batch_window_ms
        return found

    def holder_environment(self) -> dict[str, str]:
        if self.holder_blas_threads is None:
            return {}
        return dict.fromkeys(BLAS_THREAD_VARIABLES, str(self.holder_blas_threads))


@contextmanager
def temporary_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in the environment for the block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
