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

from biometric_exchange.loadtest.audit_check import check_audit, last_seq
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
    process: subprocess.Popen[bytes]
    progress: Callable[[str], None]

    def measure(self, run: Run) -> RunStats:
        self.progress(
            f"{run.name}: up to {run.calls} calls of {run.per_call} probe(s) from "
            f"{run.clients} client(s), at most {self.config.seconds:.0f} s"
        )
        holder_after = last_seq(self.holder)
        link = self.caller.link(self.holder.country)
        stats, caller_after = drive(
            run, link, seconds=self.config.seconds, holder_pid=self.process.pid
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


def _runs(config: LoadConfig, data: GeneratedData) -> list[Run]:
    runs = [Run("single", data.single_probes, config.clients, config.calls, 1, 0)]
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


def _run(config: LoadConfig, workdir: Path, progress: Callable[[str], None]) -> LoadReport:
    chile_dir, panama_dir = prepare_pair(config, workdir)
    progress(f"generating {config.watchlist} synthetic watchlist templates")
    data = generate_data(config)
    holder, caller = Node.open(chile_dir), Node.open(panama_dir)
    holder_log = workdir / "logs" / f"{chile_dir.name}.log"
    process = None
    try:
        progress(f"adding them to {chile_dir.name} in batches of {INSERT_BATCH}")
        started = time.perf_counter()
        load_watchlist(holder, data.watchlist, seed=config.seed)
        insert_s = time.perf_counter() - started
        progress("starting the holder node process")
        started = time.perf_counter()
        with temporary_environment(config.holder_environment()):
            process = start_node_process(chile_dir, holder_log)
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
        holder_passes=_passes(holder_log),
    )
    return replace(report, verdicts=verdicts(report))


_PASSES = re.compile(r"watchlist: (\d+) searches in (\d+) passes")


def _passes(log: Path) -> tuple[int, int] | None:
    """(searches, passes) from the holder's log line at stop, if it wrote one."""
    try:
        found = _PASSES.findall(log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return (int(found[-1][0]), int(found[-1][1])) if found else None
