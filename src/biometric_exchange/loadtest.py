"""Load driver: many concurrent Identify calls over real mutual TLS to a real node.

``run_load`` builds a fresh pair in a folder of its own (``create_pair``),
re-signs the agreement so that the run fits its terms (probes per request and
per day; nothing else changes), loads a synthetic watchlist of N entries into
Chile's database, starts Chile as a real process (``bx node run``) and drives
it from this process as Panama's node: C threads, each with its own gRPC
channel, call ``Identify`` through the same ``round_trip`` the exchange worker
uses, so every call is sealed, opened and recorded in Panama's audit log
(``identify.sent``, then ``identify.reply_received`` with its outcome). Runs:
one probe per call, batches of B probes, and a few batches one at a time.
Afterwards both audit logs are matched against the calls made, by message id,
and the gallery search alone is timed on the same watchlist, in a fresh
process with the holder's environment, for the batch-overhead ratio.

Synthetic data only: every watchlist entry is generated here and marked so.
The figures depend on the machine and on whatever else runs on it: the report
carries the CPU count and the load average around each run.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import multiprocessing
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from numpy.typing import NDArray

from biometric_exchange import agreement
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.domain import (
    Person,
    Provenance,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
)
from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.matching import Gallery
from biometric_exchange.node.outbound import IDENTIFY, round_trip
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.status import error_from_status
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.serde import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
    identify_response_from_bytes,
)
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.synthetic import TemplateModel
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from biometric_exchange.workspace import (
    TERMS_FILE,
    create_pair,
    party_for,
    start_node_process,
    stop_process,
    wait_serving,
)

TARGET_SINGLE_CALLS_PER_S = 300.0
"""Single-probe Identify throughput the reference implementation aims at (16 clients)."""
TARGET_SINGLE_P99_MS = 50.0
TARGET_BATCH_OVERHEAD = 0.25
"""A batch of probes may cost at most this much more than searching the gallery alone."""
SERVER_WORKERS = 8
"""Threads of the node's gRPC server (``node.server.start_server``)."""
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PURPOSE = "border_security"
MAX_CANDIDATES = 3
THRESHOLD = 0.6
INSERT_BATCH = 5_000
CALL_TIMEOUT_S = 30.0
MAX_PROBES_PER_REQUEST = 1000
"""The agreement schema's ceiling on ``step1.max_probes_per_request``."""
BATCH_PROBE_POOL = 50
"""Batch runs cycle through this many batches' worth of distinct probes."""
GENERATOR = "biometric-exchange loadtest"
_NATIONALITIES = ("CHN", "IND", "AFG", "CMR", "NPL", "UZB", "BGD", "SEN")
_CATEGORIES = tuple(WatchlistCategory)

Matrix = NDArray[np.float32]


# --- configuration and results --------------------------------------------------------------


@dataclass(frozen=True)
class LoadConfig:
    watchlist: int = 100_000
    clients: int = 16
    calls: int = 3_000
    seconds: float = 60.0
    """Upper bound on each timed run."""
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
    seed: int = 2017
    workdir: Path | None = None
    """Where the pair is built (kept); a temporary folder (removed) when None."""

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
        if not 0.0 <= self.hit_rate <= 1.0:
            raise InvalidInput("hit_rate: must be between 0 and 1")

    @property
    def batch_run_calls(self) -> int:
        return self.calls if self.batch_calls is None else self.batch_calls

    @property
    def probes_needed(self) -> int:
        """Every probe the driver may send today (one warm-up call per client and run)."""
        single = self.calls + self.clients
        batches = self.batch_run_calls + self.serial_batch_calls + self.clients + 1
        return single + batches * self.batch_size

    def holder_environment(self) -> dict[str, str]:
        if self.holder_blas_threads is None:
            return {}
        return dict.fromkeys(BLAS_THREAD_VARIABLES, str(self.holder_blas_threads))


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


# --- the pair and its data ----------------------------------------------------------------


def amend_pair_agreement(
    first: Path,
    second: Path,
    change: Callable[[dict[str, Any]], None],
    *,
    terms_file: Path = TERMS_FILE,
) -> agreement.AgreementDocument:
    """Draft the agreement again from ``terms_file`` with ``change`` applied to its terms,
    have both parties sign it, and install it in both node folders."""
    terms = copy.deepcopy(agreement.load_terms(terms_file))
    change(terms)
    parties = (party_for(first), party_for(second))
    document = agreement.draft(
        parties,
        today=dt.datetime.now(dt.UTC).date(),
        terms=terms,
        source=f"{terms_file} (amended)",
    )
    for node_dir, party in zip((first, second), parties, strict=True):
        document = document.signed_by(party.code, load_keys(node_dir).signing_key)
    text = agreement.dumps(document)
    for node_dir in (first, second):
        (node_dir / AGREEMENT_FILENAME).write_text(text, encoding="utf-8")
    return document


def _prepare_pair(config: LoadConfig, workdir: Path) -> tuple[Path, Path]:
    """A fresh pair whose agreement admits the run: ``batch_size`` probes per request
    and every probe of the run within the day's quota."""
    chile_dir, panama_dir = create_pair(workdir)

    def fit_the_run(terms: dict[str, Any]) -> None:
        step1 = terms.setdefault("step1", {})
        step1["max_probes_per_request"] = max(
            int(step1.get("max_probes_per_request", 64)), config.batch_size
        )
        quotas = terms.setdefault("quotas", {})
        quotas["probes_per_day"] = max(
            int(quotas.get("probes_per_day", 10_000)), 2 * config.probes_needed
        )

    amend_pair_agreement(chile_dir, panama_dir, fit_the_run)
    return chile_dir, panama_dir


@dataclass(frozen=True)
class SyntheticWatchlist:
    ids: list[str]
    latents: Matrix
    templates: Matrix


def synthetic_watchlist(
    count: int, model: TemplateModel, rng: np.random.Generator
) -> SyntheticWatchlist:
    """``count`` identities, each with an enrolment-quality capture."""
    latents = model.latents(rng, count)
    templates = model.captures(latents, rng, max_noise_factor=1.0)
    return SyntheticWatchlist(_watchlist_ids(count), latents, templates)


def _watchlist_ids(count: int) -> list[str]:
    return [f"CHL-LOAD-{number:07d}" for number in range(count)]


def probe_templates(
    count: int,
    watchlist: SyntheticWatchlist,
    model: TemplateModel,
    rng: np.random.Generator,
    *,
    hit_rate: float,
) -> Matrix:
    """``count`` probes: a ``hit_rate`` share are new captures of watchlist subjects,
    the rest captures of new identities."""
    subjects = rng.integers(0, len(watchlist.ids), count)
    known = rng.random(count) < hit_rate
    latents = np.where(known[:, None], watchlist.latents[subjects], model.latents(rng, count))
    return model.captures(np.ascontiguousarray(latents, dtype=np.float32), rng)


def _entry(number: int, entry_id: str, template: Matrix, seed: int) -> WatchlistEntry:
    row = template.copy()
    row.setflags(write=False)
    return WatchlistEntry(
        entry_id=entry_id,
        category=_CATEGORIES[number % len(_CATEGORIES)],
        person=Person(
            given_name="Synthetic",
            family_name=f"Load Subject {number}",
            sex=(Sex.FEMALE, Sex.MALE)[number % 2],
            birth_date=dt.date(1960 + number % 45, 1 + number % 12, 1 + number % 28),
            nationality=_NATIONALITIES[number % len(_NATIONALITIES)],
            document_number=f"SYN-LOAD{number:07d}",
        ),
        template=row,
        valid_until=None,
        provenance=Provenance(synthetic=True, generator=GENERATOR, seed=seed),
    )


def load_watchlist(node: Node, watchlist: SyntheticWatchlist, *, seed: int) -> None:
    """Add every entry through ``RecordStore.add_watchlist``, INSERT_BATCH at a time."""
    for start in range(0, len(watchlist.ids), INSERT_BATCH):
        stop = min(start + INSERT_BATCH, len(watchlist.ids))
        node.records.add_watchlist(
            [
                _entry(number, watchlist.ids[number], watchlist.templates[number], seed)
                for number in range(start, stop)
            ]
        )


def _query(templates: Matrix, first_ref: int, now: dt.datetime) -> IdentifyQuery:
    facts = ScopeFacts("CHN", 30, None)
    probes = []
    for offset, values in enumerate(templates):
        row = values.copy()
        row.setflags(write=False)
        probes.append(ProbeIn(f"LOAD-{first_ref + offset:09d}", row, "PAN-LOAD", now, facts))
    return IdentifyQuery(PURPOSE, tuple(probes), MAX_CANDIDATES)


# --- driving the holder --------------------------------------------------------------------


@dataclass(frozen=True)
class _CallResult:
    latency_s: float
    status: str
    hits: int


class _Dispenser:
    """Hands out call numbers until ``calls`` are taken or the deadline passes."""

    def __init__(self, calls: int, seconds: float) -> None:
        self._numbers = iter(range(calls))
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()

    def take(self) -> int | None:
        if time.monotonic() >= self._deadline:
            return None
        with self._lock:
            return next(self._numbers, None)


def _channel(caller: Node) -> grpc.Channel:
    partner = caller.partner
    return grpc.secure_channel(
        partner.endpoint,
        channel_credentials(caller, partner.ca_certificate.encode()),
        options=channel_options(),
    )


def _one_call(caller: Node, stub: pb_grpc.ExchangeStub, query: IdentifyQuery) -> _CallResult:
    """One Identify through ``round_trip``, sealed and audited as the worker makes it."""
    codes: list[str] = []

    def call(envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        try:
            reply: pb.SealedEnvelope = stub.Identify(envelope, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            codes.append(exc.code().name)
            raise error_from_status(exc.code(), exc.details() or "") from exc
        return reply

    started = time.perf_counter()
    try:
        results: dict[str, list[HitOut]] = round_trip(
            caller,
            IDENTIFY,
            identify_request_to_bytes(query),
            call,
            identify_response_from_bytes,
            sent={"purpose": query.purpose, "probes": len(query.probes)},
            summary=lambda answer: {"hits": sum(1 for hits in answer.values() if hits)},
        )
    except ExchangeError as exc:
        status = codes[0] if codes else type(exc).__name__
        return _CallResult(time.perf_counter() - started, status, 0)
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
class _Run:
    name: str
    probes: Matrix
    clients: int
    calls: int
    per_call: int
    first_ref: int


def _drive(run: _Run, caller: Node, *, seconds: float, holder_pid: int) -> tuple[RunStats, int]:
    """The run's calls from its clients, each thread with its own channel; also returns
    the caller's last audit seq before the timed calls (warm-up calls come before)."""
    now = dt.datetime.now(dt.UTC)
    span = max(1, len(run.probes) - run.per_call + 1)

    def query_for(number: int) -> IdentifyQuery:
        start = (number * run.per_call) % span
        templates = run.probes[start : start + run.per_call]
        return _query(templates, run.first_ref + number * run.per_call, now)

    channels = [_channel(caller) for _ in range(run.clients)]
    stubs = [pb_grpc.ExchangeStub(channel) for channel in channels]
    for index, stub in enumerate(stubs):  # warm-up: connect and handshake, not timed
        _one_call(caller, stub, query_for(run.calls + index))
    marker = _last_seq(caller)
    results: list[_CallResult] = []
    lock = threading.Lock()
    ready = threading.Barrier(run.clients + 1)
    dispenser: list[_Dispenser] = []

    def client(stub: pb_grpc.ExchangeStub) -> None:
        own: list[_CallResult] = []
        ready.wait()
        while (number := dispenser[0].take()) is not None:
            own.append(_one_call(caller, stub, query_for(number)))
        with lock:
            results.extend(own)

    threads = [threading.Thread(target=client, args=(stub,), daemon=True) for stub in stubs]
    for thread in threads:
        thread.start()
    load_before = _load_average()
    holder_cpu_before = _process_cpu_s(holder_pid)
    driver_cpu_before = time.process_time()
    dispenser.append(_Dispenser(run.calls, seconds))
    started = time.perf_counter()
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    driver_cpu = time.process_time() - driver_cpu_before
    holder_cpu_after = _process_cpu_s(holder_pid)
    for channel in channels:
        channel.close()
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
    )
    return stats, marker


def _last_seq(node: Node) -> int:
    row = node.database.connection.execute("SELECT max(seq) FROM audit_log").fetchone()
    return int(row[0] or 0)


def _entries_after(node: Node, seq: int) -> list[AuditEntry]:
    return [entry for entry in node.audit.entries() if entry.seq > seq]


def _about(entry: AuditEntry) -> str | None:
    """The request an entry is about: its message id, the claimed one, or the one it answers."""
    for value in (
        entry.detail.get("in_reply_to"),
        entry.message_id,
        entry.detail.get("claimed_message_id"),
    ):
        if value:
            return str(value)
    return None


def check_audit(
    caller: Node, holder: Node, stats: RunStats, *, caller_after: int, holder_after: int
) -> AuditCheck:
    """Match this run's calls in both logs by the caller's request message ids."""
    ours = _entries_after(caller, caller_after)
    sent = {e.message_id for e in ours if e.event == "identify.sent" and e.message_id}
    outcomes = {
        str(e.detail["in_reply_to"]): e.outcome
        for e in ours
        if e.event == "identify.reply_received" and e.detail.get("in_reply_to") in sent
    }
    answered = {request for request, outcome in outcomes.items() if outcome == "accepted"}
    theirs = [e for e in _entries_after(holder, holder_after) if _about(e) in sent]
    accepted = {
        _about(e) for e in theirs if e.event == "identify.received" and e.outcome == "accepted"
    }
    rejected = {
        _about(e) for e in theirs if e.event == "identify.received" and e.outcome == "rejected"
    }
    replied = {_about(e) for e in theirs if e.event == "identify.reply_sent"}
    unanswered = sent - answered
    return AuditCheck(
        calls=stats.calls,
        answered=stats.answered,
        caller_sent=len(sent),
        caller_outcomes=len(outcomes),
        caller_answered=len(answered),
        holder_accepted=len(accepted),
        holder_rejected=len(rejected),
        holder_replied=len(replied),
        answered_missing_at_holder=len(answered - (accepted & replied)),
        holder_after_caller_gave_up=len(unanswered & accepted & replied),
        never_reached_holder=len(unanswered - accepted - rejected),
    )


# --- the gallery alone ---------------------------------------------------------------------


def time_matching(
    templates: Matrix, probes: Matrix, *, per_search: int, repeats: int, threads: int
) -> MatchingStats:
    """The holder's search (exact top-k under the threshold), alone: one at a time,
    then ``threads`` at once as the server's workers would run them."""
    gallery = Gallery()
    gallery.add(_watchlist_ids(len(templates)), templates)
    span = max(1, len(probes) - per_search + 1)
    batches = [probes[(i * per_search) % span :][:per_search] for i in range(repeats)]
    gallery.search(batches[0], k=MAX_CANDIDATES, threshold=THRESHOLD)  # warm-up
    serial = []
    for batch in batches:
        started = time.perf_counter()
        gallery.search(batch, k=MAX_CANDIDATES, threshold=THRESHOLD)
        serial.append(time.perf_counter() - started)
    numbers = itertools.count()
    lock = threading.Lock()
    total = repeats * threads

    def worker() -> None:
        while True:
            with lock:
                number = next(numbers)
            if number >= total:
                return
            gallery.search(batches[number % repeats], k=MAX_CANDIDATES, threshold=THRESHOLD)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    concurrent = time.perf_counter() - started
    return MatchingStats(
        probes=per_search,
        serial_p50_ms=1000.0 * statistics.median(serial),
        concurrent_threads=threads,
        concurrent_cost_ms=1000.0 * concurrent / total,
    )


def _matching_job(
    folder: str, batch_size: int, repeats: int, with_batch: bool
) -> tuple[MatchingStats, MatchingStats | None]:
    """In a fresh process: the searches alone on the arrays saved in ``folder``."""
    base = Path(folder)
    templates = np.load(base / "watchlist.npy")
    single = time_matching(
        templates,
        np.load(base / "single.npy"),
        per_search=1,
        repeats=max(repeats, 50),
        threads=SERVER_WORKERS,
    )
    if not with_batch:
        return single, None
    batch = time_matching(
        templates,
        np.load(base / "batch.npy"),
        per_search=batch_size,
        repeats=repeats,
        threads=SERVER_WORKERS,
    )
    return single, batch


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
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


def _matching_alone(
    config: LoadConfig, workdir: Path, data: _Data, *, with_batch: bool
) -> tuple[MatchingStats, MatchingStats | None]:
    """Time the searches in a spawned process with the holder's BLAS environment."""
    folder = workdir / "matching"
    folder.mkdir(exist_ok=True)
    np.save(folder / "watchlist.npy", data.watchlist.templates)
    np.save(folder / "single.npy", data.single_probes)
    np.save(folder / "batch.npy", data.batch_probes)
    context = multiprocessing.get_context("spawn")
    try:
        with _environment(config.holder_environment()), context.Pool(1) as pool:
            return pool.apply(
                _matching_job,
                (str(folder), config.batch_size, config.matching_repeats, with_batch),
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- the whole run -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    watchlist: SyntheticWatchlist
    single_probes: Matrix
    batch_probes: Matrix
    generate_s: float


def _generate(config: LoadConfig) -> _Data:
    rng = np.random.default_rng(config.seed)
    model = TemplateModel()
    started = time.perf_counter()
    watchlist = synthetic_watchlist(config.watchlist, model, rng)
    single = probe_templates(config.calls, watchlist, model, rng, hit_rate=config.hit_rate)
    batch = probe_templates(
        config.batch_size * BATCH_PROBE_POOL, watchlist, model, rng, hit_rate=config.hit_rate
    )
    return _Data(watchlist, single, batch, time.perf_counter() - started)


@contextmanager
def _workdir(config: LoadConfig) -> Iterator[Path]:
    if config.workdir is not None:
        config.workdir.mkdir(parents=True, exist_ok=True)
        yield config.workdir
        return
    with tempfile.TemporaryDirectory(prefix="bx-loadtest-") as folder:
        yield Path(folder)


@dataclass
class _Session:
    config: LoadConfig
    holder: Node
    caller: Node
    process: subprocess.Popen[bytes]
    progress: Callable[[str], None]

    def measure(self, run: _Run) -> RunStats:
        self.progress(
            f"{run.name}: up to {run.calls} calls of {run.per_call} probe(s) from "
            f"{run.clients} client(s), at most {self.config.seconds:.0f} s"
        )
        holder_after = _last_seq(self.holder)
        stats, caller_after = _drive(
            run, self.caller, seconds=self.config.seconds, holder_pid=self.process.pid
        )
        audit = check_audit(
            self.caller, self.holder, stats, caller_after=caller_after, holder_after=holder_after
        )
        return replace(stats, audit=audit)


def run_load(
    config: LoadConfig, *, progress: Callable[[str], None] = lambda _message: None
) -> LoadReport:
    """Build, load, start, drive, count and stop; return the figures."""
    with _workdir(config) as workdir:
        return _run(config, workdir, progress)


def _runs(config: LoadConfig, data: _Data) -> list[_Run]:
    runs = [_Run("single", data.single_probes, config.clients, config.calls, 1, 0)]
    if config.batch_run_calls:
        runs.append(
            _Run(
                "batch",
                data.batch_probes,
                config.clients,
                config.batch_run_calls,
                config.batch_size,
                100_000_000,
            )
        )
    if config.serial_batch_calls:
        runs.append(
            _Run(
                "batch-serial",
                data.batch_probes,
                1,
                config.serial_batch_calls,
                config.batch_size,
                500_000_000,
            )
        )
    return runs


def _run(config: LoadConfig, workdir: Path, progress: Callable[[str], None]) -> LoadReport:
    chile_dir, panama_dir = _prepare_pair(config, workdir)
    progress(f"generating {config.watchlist} synthetic watchlist templates")
    data = _generate(config)
    holder, caller = Node.open(chile_dir), Node.open(panama_dir)
    process = None
    try:
        progress(f"adding them to {chile_dir.name} in batches of {INSERT_BATCH}")
        started = time.perf_counter()
        load_watchlist(holder, data.watchlist, seed=config.seed)
        insert_s = time.perf_counter() - started
        progress("starting the holder node process")
        started = time.perf_counter()
        with _environment(config.holder_environment()):
            process = start_node_process(chile_dir, workdir / "logs" / f"{chile_dir.name}.log")
        wait_serving(chile_dir, process, timeout=600)
        start_s = time.perf_counter() - started
        session = _Session(config, holder, caller, process, progress)
        stats = {run.name: session.measure(run) for run in _runs(config, data)}
    finally:
        if process is not None:
            stop_process(process)
        holder.database.close()
        caller.database.close()
    progress("timing the gallery search alone, in a fresh process")
    batch, serial_batch = stats.get("batch"), stats.get("batch-serial")
    matching_single, matching_batch = _matching_alone(
        config, workdir, data, with_batch=batch is not None or serial_batch is not None
    )
    report = LoadReport(
        config=config,
        workdir=str(workdir),
        cpu_count=os.cpu_count() or 0,
        generate_s=data.generate_s,
        insert_s=insert_s,
        start_s=start_s,
        single=stats["single"],
        batch=batch,
        serial_batch=serial_batch,
        matching_single=matching_single,
        matching_batch=matching_batch,
    )
    return replace(report, verdicts=verdicts(report))


# --- verdicts and the text report ----------------------------------------------------------


def verdicts(report: LoadReport) -> tuple[Verdict, ...]:
    """Each target of the reference implementation against the measured figures."""
    single = report.single
    audits = [run.audit for run in report.runs if run.audit is not None]
    found = [
        Verdict(
            f"single-probe Identify >= {TARGET_SINGLE_CALLS_PER_S:.0f} calls/s "
            f"at {single.clients} clients",
            f"{single.calls_per_s:.1f} calls/s",
            single.calls_per_s >= TARGET_SINGLE_CALLS_PER_S,
        ),
        Verdict(
            f"single-probe p99 < {TARGET_SINGLE_P99_MS:.0f} ms",
            f"p99 {single.latency.p99_ms:.1f} ms",
            single.latency.p99_ms < TARGET_SINGLE_P99_MS,
        ),
        Verdict(
            "zero errors",
            ", ".join(f"{run.name}: {sum(run.errors.values())}" for run in report.runs),
            all(not run.errors for run in report.runs),
        ),
        Verdict(
            "both audit logs account for every call",
            ", ".join(
                f"{run.name}: {'complete' if run.audit.complete else 'INCOMPLETE'}"
                for run in report.runs
                if run.audit is not None
            ),
            bool(audits) and all(audit.complete for audit in audits),
        ),
    ]
    overhead = report.batch_overhead
    if overhead is not None and report.batch is not None:
        found.append(
            Verdict(
                f"batches of {report.batch.probes_per_call} probes cost at most "
                f"{TARGET_BATCH_OVERHEAD:.0%} more than the matching alone",
                f"{overhead:+.0%} (wall time per call, {report.batch.clients} clients, "
                "against the cheapest search alone)",
                overhead <= TARGET_BATCH_OVERHEAD,
            )
        )
    return tuple(found)


def _run_lines(run: RunStats) -> list[str]:
    latency = run.latency
    cpu = run.holder_cpu_per_call_ms
    lines = [
        f"{run.name}: {run.calls} calls x {run.probes_per_call} probe(s), {run.clients} "
        f"client(s), {run.elapsed_s:.1f} s: {run.calls_per_s:.1f} calls/s "
        f"({run.probes_per_s:,.0f} probes/s); latency p50 {latency.p50_ms:.1f} / "
        f"p95 {latency.p95_ms:.1f} / p99 {latency.p99_ms:.1f} / max {latency.max_ms:.1f} ms; "
        f"errors {run.errors or 0}; probes hit {run.hits}",
        "  CPU per call: holder "
        + (f"{cpu:.1f} ms" if cpu is not None else "unknown")
        + f", driver {1000.0 * run.driver_cpu_s / max(1, run.calls):.1f} ms; wall time per "
        f"call {run.cost_per_call_ms:.1f} ms; load average {run.load_average[0]:.1f} before, "
        f"{run.load_average[1]:.1f} after",
    ]
    if run.audit is not None:
        audit = run.audit
        lines.append(
            f"  audit: caller identify.sent {audit.caller_sent} / outcomes "
            f"{audit.caller_outcomes} (accepted {audit.caller_answered}) for {audit.calls} "
            f"calls; holder identify.received accepted {audit.holder_accepted}, rejected "
            f"{audit.holder_rejected}, reply_sent {audit.holder_replied}; answered but missing "
            f"at the holder {audit.answered_missing_at_holder}; answered after the caller "
            f"gave up {audit.holder_after_caller_gave_up}; never reached the holder "
            f"{audit.never_reached_holder}: " + ("complete" if audit.complete else "INCOMPLETE")
        )
    return lines


def describe(report: LoadReport) -> list[str]:
    """The report as plain text lines."""
    config = report.config
    blas = config.holder_blas_threads
    lines = [
        f"{report.cpu_count} CPUs; holder BLAS threads "
        + (str(blas) if blas is not None else "inherited")
        + f"; watchlist {config.watchlist} synthetic entries generated in "
        f"{report.generate_s:.1f} s, added (RecordStore.add_watchlist, {INSERT_BATCH} a "
        f"transaction) in {report.insert_s:.1f} s "
        f"({config.watchlist / max(report.insert_s, 1e-9):,.0f} entries/s); holder serving "
        f"after {report.start_s:.1f} s",
    ]
    for run in report.runs:
        lines.extend(_run_lines(run))
    single = report.matching_single
    lines.append(
        f"matching alone (Gallery.search, fresh process, {config.watchlist} entries): 1 probe "
        f"p50 {single.serial_p50_ms:.2f} ms; {single.concurrent_cost_ms:.2f} ms per search "
        f"with {single.concurrent_threads} threads"
    )
    if report.matching_batch is not None:
        batch = report.matching_batch
        lines.append(
            f"matching alone, {batch.probes} probes: p50 {batch.serial_p50_ms:.1f} ms one at a "
            f"time; {batch.concurrent_cost_ms:.1f} ms per search with "
            f"{batch.concurrent_threads} threads; cheapest {batch.best_cost_ms:.1f} ms"
        )
    if report.batch_overhead is not None:
        lines.append(
            "batch overhead (wall time per batch Identify, all clients busy / cheapest search "
            f"alone - 1): {report.batch_overhead:+.0%}"
        )
    if report.serial_batch_overhead is not None:
        lines.append(
            "batch overhead (one call at a time: p50 latency / search p50 - 1): "
            f"{report.serial_batch_overhead:+.0%}"
        )
    for verdict in report.verdicts:
        lines.append(
            f"target {verdict.target}: {verdict.measured} -> {'met' if verdict.met else 'MISSED'}"
        )
    return lines
