"""The whole load run: build, load, start, drive, count, stop, and time the matching."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.loadtest.audit_check import check_audit, last_seq
from biometric_exchange.loadtest.cluster import new_database, throwaway_cluster
from biometric_exchange.loadtest.config import INSERT_BATCH, LoadConfig, temporary_environment
from biometric_exchange.loadtest.data import GeneratedData, generate_data, load_watchlist
from biometric_exchange.loadtest.driver import Run, drive
from biometric_exchange.loadtest.matching_alone import matching_alone
from biometric_exchange.loadtest.pair import prepare_pair
from biometric_exchange.loadtest.report import verdicts
from biometric_exchange.loadtest.results import LoadReport, RunStats
from biometric_exchange.node.runtime import Node
from biometric_exchange.workspace import start_node_process, stop_process, wait_serving


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
    processes: list[subprocess.Popen[bytes]]
    progress: Callable[[str], None]

    def measure(self, run: Run) -> RunStats:
        pace = f", paced at {run.rate:g} calls/s" if run.rate is not None else ""
        self.progress(
            f"{run.name}: up to {run.calls} calls of {run.per_call} probe(s) from "
            f"{run.clients} client(s){pace}, at most {self.config.seconds:.0f} s"
        )
        holder_after = last_seq(self.holder)
        link = self.caller.link(self.holder.country)
        stats, caller_after = drive(
            run, link, seconds=self.config.seconds, holder_pids=[p.pid for p in self.processes]
        )
        audit = check_audit(
            self.caller, self.holder, stats, caller_after=caller_after, holder_after=holder_after
        )
        return replace(stats, audit=audit)


def run_load(
    config: LoadConfig, *, progress: Callable[[str], None] = lambda _message: None
) -> LoadReport:
    """Build, load, start, drive, count and stop; return the figures."""
    with _workdir(config) as workdir, _holder_store(config, progress) as store_url:
        return _run(config, workdir, progress, store_url)


@contextmanager
def _holder_store(config: LoadConfig, progress: Callable[[str], None]) -> Iterator[str | None]:
    """A new database for the holder on ``config.store_url``'s server or on a throwaway
    cluster; None for SQLite."""
    if config.store == "sqlite":
        yield None
        return
    if config.store_url is not None:
        yield new_database(config.store_url)
        return
    progress("starting a throwaway PostgreSQL cluster on loopback")
    with throwaway_cluster() as cluster:
        yield cluster.new_url()


def _start_holder(config: LoadConfig, holder_dir: Path, log: Path) -> list[subprocess.Popen[bytes]]:
    """The holder's processes, serving (each in a slot of its own, one address)."""
    processes: list[subprocess.Popen[bytes]] = []
    with temporary_environment(config.holder_environment()):
        for _ in range(config.replicas):
            processes.append(start_node_process(holder_dir, log))
            wait_serving(holder_dir, processes[-1], timeout=600)
            _wait_slot(holder_dir, len(processes), processes[-1])
    return processes


def _wait_slot(node_dir: Path, slot: int, process: subprocess.Popen[bytes]) -> None:
    """Until process ``slot`` has published that it serves (it binds first)."""
    name = "running.json" if slot == 1 else f"running-{slot}.json"
    deadline = time.monotonic() + 600
    while not (node_dir / "data" / name).exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise ConfigError(f"holder process {slot} did not start (see its log)")
        time.sleep(0.1)


def _runs(config: LoadConfig, data: GeneratedData) -> list[Run]:
    runs = [Run("single", data.single_probes, config.clients, config.calls, 1, 0, rate=config.rate)]
    if config.batch_run_calls:
        runs.append(
            Run(
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
            Run(
                "batch-serial",
                data.batch_probes,
                1,
                config.serial_batch_calls,
                config.batch_size,
                500_000_000,
                first_probe=(config.batch_run_calls + config.clients) * config.batch_size,
            )
        )
    return runs


def _run(
    config: LoadConfig, workdir: Path, progress: Callable[[str], None], store_url: str | None
) -> LoadReport:
    chile_dir, panama_dir = prepare_pair(config, workdir, store_url=store_url)
    progress(f"generating {config.watchlist} synthetic watchlist templates")
    data = generate_data(config)
    holder, caller = Node.open(chile_dir), Node.open(panama_dir)
    holder_log = workdir / "logs" / f"{chile_dir.name}.log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        progress(f"adding them to {chile_dir.name} in batches of {INSERT_BATCH}")
        started = time.perf_counter()
        load_watchlist(holder, data.watchlist, seed=config.seed)
        insert_s = time.perf_counter() - started
        progress(f"starting {config.replicas} holder node process(es) on {config.store}")
        started = time.perf_counter()
        processes = _start_holder(config, chile_dir, holder_log)
        start_s = time.perf_counter() - started
        session = _Session(config, holder, caller, processes, progress)
        stats = {run.name: session.measure(run) for run in _runs(config, data)}
    finally:
        for process in processes:
            stop_process(process)
        holder.database.close()
        caller.database.close()
    progress("timing the gallery search alone, in a fresh process")
    batch, serial_batch = stats.get("batch"), stats.get("batch-serial")
    matching_single, matching_batch = matching_alone(
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
        holder_passes=_passes(holder_log, config.replicas),
    )
    return replace(report, verdicts=verdicts(report))


_PASSES = re.compile(r"watchlist: (\d+) searches in (\d+) passes")


def _passes(log: Path, processes: int = 1) -> tuple[int, int] | None:
    """(searches, passes) from the holder's log lines at stop (every process's), if
    they wrote them."""
    try:
        found = _PASSES.findall(log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    last = found[-processes:]
    if not last:
        return None
    return sum(int(s) for s, _ in last), sum(int(p) for _, p in last)
