"""Concurrent Identify calls from the caller's node, each client on its own channel.

Two ways of loading the holder. In a closed loop (the default) each client
calls again as soon as it is answered: the run measures the most calls the
pair can serve, and its latency is the clients' number over that throughput
(Little's law), whatever the holder does. Paced (``Run.rate``), the calls are
due at a fixed rate, an open loop: a client takes the next call due, waits
for its time and sends it, and the call's latency runs from the time it was
due. A holder that falls behind is charged for the calls it kept waiting,
not only for the ones it answered (no coordinated omission): the latency a
partner sees at that rate."""

from __future__ import annotations

import datetime as dt
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from biometric_exchange.agreement.commitment import commit
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.loadtest.audit_check import last_seq
from biometric_exchange.loadtest.config import CALL_TIMEOUT_S, MAX_CANDIDATES, PURPOSE
from biometric_exchange.loadtest.data import Matrix
from biometric_exchange.loadtest.results import Percentiles, RunStats
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.serde.common import to_ms
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
    identify_response_from_bytes,
)


def _query(templates: Matrix, first_ref: int, now: dt.datetime) -> IdentifyQuery:
    """Probes as the exchange worker sends them: template, rule and a fresh commitment."""
    facts = ScopeFacts("CHN", 30, None)
    probes = []
    for offset, values in enumerate(templates):
        row = values.copy()
        row.setflags(write=False)
        ref = f"LOAD-{first_ref + offset:09d}"
        opening = commit(ref, ScopeRule.STANDARD, facts, "PAN-LOAD", to_ms(now))
        probes.append(ProbeIn(ref, row, ScopeRule.STANDARD, opening.commitment))
    return IdentifyQuery(PURPOSE, tuple(probes), MAX_CANDIDATES)


@dataclass(frozen=True)
class _CallResult:
    latency_s: float
    status: str
    hits: int


class Dispenser:
    """Hands out call numbers, each with the time it is due (``clock`` seconds; None
    in a closed loop), until ``calls`` are taken or ``seconds`` have passed. Paced
    at ``rate`` calls a second, call ``n`` is due ``n / rate`` after the start, and
    none is handed out that would be due past the end."""

    def __init__(
        self,
        calls: int,
        seconds: float,
        *,
        rate: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self.start = clock()
        self._numbers = iter(range(calls))
        self._deadline = self.start + seconds
        self._interval = None if rate is None else 1.0 / rate
        self._lock = threading.Lock()

    def take(self) -> tuple[int, float | None] | None:
        if self._clock() >= self._deadline:
            return None
        with self._lock:
            number = next(self._numbers, None)
        if number is None:
            return None
        if self._interval is None:
            return number, None
        due = self.start + number * self._interval
        return (number, due) if due < self._deadline else None


def _status_of(error: ExchangeError) -> str:
    """The gRPC status a failed call got, or the error's kind when it got none."""
    if isinstance(error, RemoteRefusal):
        return error.code.name
    cause = error.__cause__
    return cause.code().name if isinstance(cause, grpc.RpcError) else type(error).__name__


def _wait_until(due: float) -> None:
    """Sleep until ``time.perf_counter()`` reaches ``due`` (at once when it has)."""
    while (left := due - time.perf_counter()) > 0:
        time.sleep(left)


def _one_call(
    link: Link, transport: GrpcPeerTransport, query: IdentifyQuery, due: float | None = None
) -> _CallResult:
    """One Identify through ``round_trip``, sealed and audited as the worker makes it;
    sent at ``due`` (``time.perf_counter()`` seconds) and timed from then when given,
    else at once."""
    if due is not None:
        _wait_until(due)
    started = time.perf_counter() if due is None else due
    try:
        results: dict[str, list[HitOut]] = round_trip(
            link,
            transport,
            IDENTIFY,
            identify_request_to_bytes(query),
            identify_response_from_bytes,
            sent={"purpose": query.purpose, "probes": len(query.probes)},
            summary=lambda answer: {"hits": sum(1 for hits in answer.values() if hits)},
            timeout=CALL_TIMEOUT_S,
        )
    except ExchangeError as exc:
        return _CallResult(time.perf_counter() - started, _status_of(exc), 0)
    latency = time.perf_counter() - started
    if sorted(results) != sorted(p.probe_ref for p in query.probes):
        return _CallResult(latency, "WRONG_ANSWER", 0)
    return _CallResult(latency, "OK", sum(1 for hits in results.values() if hits))


def _process_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


@dataclass(frozen=True)
class Run:
    """One timed run: its probes, clients, calls, probes per call and first probe ref."""

    name: str
    probes: Matrix
    clients: int
    calls: int
    per_call: int
    first_ref: int
    first_probe: int = 0
    """Where the run's probes start in ``probes`` (runs sharing a pool take their own)."""
    rate: float | None = None
    """Calls a second offered, paced (an open loop); None: a closed loop."""


def _holder_cpu_s(pids: Sequence[int]) -> float | None:
    """CPU seconds of every holder process, or None where unknown."""
    each = [_process_cpu_s(pid) for pid in pids]
    return None if any(cpu is None for cpu in each) else sum(cpu or 0.0 for cpu in each)


def drive(
    run: Run, caller: Link, *, seconds: float, holder_pids: Sequence[int]
) -> tuple[RunStats, int]:
    """The run's calls from its clients, each thread with its own channel, all through
    ``caller`` (the caller's link to the holder); also returns the caller's last
    audit seq before the timed calls (warm-up calls come before). ``holder_pids``:
    the holder's processes, whose CPU time is counted."""
    now = dt.datetime.now(dt.UTC)
    span = max(1, len(run.probes) - run.per_call + 1)

    def query_for(number: int) -> IdentifyQuery:
        start = (run.first_probe + number * run.per_call) % span
        templates = run.probes[start : start + run.per_call]
        return _query(templates, run.first_ref + number * run.per_call, now)

    transports = [GrpcPeerTransport(caller) for _ in range(run.clients)]
    for index, transport in enumerate(transports):  # warm-up: connect and handshake, not timed
        _one_call(caller, transport, query_for(run.calls + index))
    marker = last_seq(caller.node)
    results: list[_CallResult] = []
    lock = threading.Lock()
    ready = threading.Barrier(run.clients + 1)
    dispenser: list[Dispenser] = []

    def client(transport: GrpcPeerTransport) -> None:
        own: list[_CallResult] = []
        ready.wait()
        while (taken := dispenser[0].take()) is not None:
            number, due = taken
            own.append(_one_call(caller, transport, query_for(number), due))
        with lock:
            results.extend(own)

    threads = [
        threading.Thread(target=client, args=(transport,), daemon=True) for transport in transports
    ]
    for thread in threads:
        thread.start()
    load_before = _load_average()
    holder_cpu_before = _holder_cpu_s(holder_pids)
    driver_cpu_before = time.process_time()
    dispenser.append(Dispenser(run.calls, seconds, rate=run.rate))
    started = dispenser[0].start
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    driver_cpu = time.process_time() - driver_cpu_before
    holder_cpu_after = _holder_cpu_s(holder_pids)
    for transport in transports:
        transport.close()
    answered = [r for r in results if r.status == "OK"]
    stats = RunStats(
        name=run.name,
        clients=run.clients,
        probes_per_call=run.per_call,
        calls=len(results),
        answered=len(answered),
        errors=dict(Counter(r.status for r in results if r.status != "OK")),
        elapsed_s=elapsed,
        latency=Percentiles.of([r.latency_s for r in answered]),
        mean_latency_ms=(
            1000.0 * statistics.fmean(r.latency_s for r in answered) if answered else float("nan")
        ),
        hits=sum(r.hits for r in answered),
        holder_cpu_s=(
            None
            if holder_cpu_before is None or holder_cpu_after is None
            else holder_cpu_after - holder_cpu_before
        ),
        driver_cpu_s=driver_cpu,
        load_average=(load_before, _load_average()),
        offered_per_s=run.rate,
    )
    return stats, marker
