"""Run a scenario day by day through the nodes, in-process or over gRPC.

Each simulated day: Chile's encounters of the day are enrolled (the same
``enrol`` as ``bx enroll``) and every outbox drained, then Panama's; the surge
monitor runs on every link with the day as its date; officers follow up a
share of the new partner hits with step 2. Enrolling one country's day and
draining before the next makes the order of checks the same in both modes,
so the same seed gives the same alerts. The nodes keep their real clocks
(agreement in force, quotas, hit references); the simulated dates are the
encounters' times and the monitor's days.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from biometric_exchange.node.enrolment import add_watchlist, enrol_many
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.surges import run_monitor
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.followups import follow_up
from biometric_exchange.simulation.record import (
    RunLog,
    RunRecord,
    collect,
    note_sent,
    snapshot_evidence,
)
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.topology import Topology, connect, create_folders
from biometric_exchange.simulation.world import World, draw_world
from biometric_exchange.workspace import recreate_marked_folder

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
"""(what, done, total)."""
MARKER = ".bx-simulation"
"""Marks a nodes folder a simulation made (and may therefore recreate)."""
MEMORY_DIR = Path("/dev/shm")  # noqa: S108 - a scratch folder of our own inside it
"""In-process runs keep their node folders here when the machine has it: the run
measures the exchange, not the disk (databases are scratch, dropped after the run)."""


def _quiet(_what: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class Run:
    world: World
    record: RunRecord


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@contextmanager
def _workdir(out: Path, over_grpc: bool) -> Iterator[Path]:
    """Over gRPC: ``out/nodes`` (kept, with the nodes' logs). In-process: scratch."""
    if over_grpc:
        nodes = out / "nodes"
        recreate_marked_folder(
            nodes, MARKER, refusal="was not made by a simulation; choose another --out"
        )
        yield nodes
        return
    with tempfile.TemporaryDirectory(prefix="bx-sim-", dir=_scratch_base()) as scratch:
        yield Path(scratch)


MEMORY_DIR_MIN_FREE = 2 * 1024**3
"""A memory folder with less room than this (a container's 64 MB default) is not used."""


def _scratch_base() -> Path | None:
    """``MEMORY_DIR`` when it exists with room to spare, else the system's temporary folder."""
    if MEMORY_DIR.is_dir() and shutil.disk_usage(MEMORY_DIR).free >= MEMORY_DIR_MIN_FREE:
        return MEMORY_DIR
    return None


def run_scenario(
    scenario: Scenario,
    out: Path,
    *,
    over_grpc: bool = False,
    progress: Progress = _quiet,
    today: dt.date | None = None,
) -> Run:
    """Draw the scenario's world over the days ending yesterday, then ``run_world``."""
    calendar = Calendar.ending_before(today or today_utc(), scenario.days)
    started = time.perf_counter()
    progress("drawing the synthetic world", 0, scenario.days)
    world = draw_world(scenario, calendar)
    return run_world(
        world, out, over_grpc=over_grpc, progress=progress, seconds=time.perf_counter() - started
    )


def run_world(
    world: World,
    out: Path,
    *,
    over_grpc: bool = False,
    progress: Progress = _quiet,
    seconds: float = 0.0,
) -> Run:
    """Build the nodes, load the watchlists, run every day, collect the records."""
    scenario = world.scenario
    run_log = RunLog()
    run_log.seconds["world"] = seconds
    with _workdir(out, over_grpc) as workdir:
        mark = time.perf_counter()
        progress("creating keys, agreement and watchlists", 0, scenario.days)
        folders = create_folders(scenario, workdir)
        for country, path in folders.items():
            node = Node.open(path)
            try:
                add_watchlist(node, world.watchlist(country))
            finally:
                node.database.close()
        topology = connect(folders, over_grpc=over_grpc, logs=workdir / "logs")
        run_log.seconds["setup"] = time.perf_counter() - mark
        try:
            run_days(world, topology, run_log, progress)
            mark = time.perf_counter()
            record = collect(topology, world.calendar, run_log)
            run_log.seconds["collect"] = time.perf_counter() - mark
        finally:
            topology.close()
    return Run(world, record)


def run_days(world: World, topology: Topology, run_log: RunLog, progress: Progress) -> None:
    scenario, calendar = world.scenario, world.calendar
    for day in range(calendar.days):
        started = time.perf_counter()
        progress(f"day {day + 1} of {calendar.days} ({calendar.date(day)})", day, calendar.days)
        for country in scenario.nodes.countries:
            mark = time.perf_counter()
            _enrol_day(world, topology.nodes[country], day, run_log)
            run_log.seconds["enrol"] += time.perf_counter() - mark
            mark = time.perf_counter()
            topology.drain()
            run_log.seconds["exchange"] += time.perf_counter() - mark
        mark = time.perf_counter()
        for country, node in topology.nodes.items():
            transports = {r.partner: r.transport for r in topology.routes if r.country == country}
            run_monitor(node, transports, today=calendar.date(day))
        run_log.seconds["surge monitor"] += time.perf_counter() - mark
        mark = time.perf_counter()
        run_log.follow_ups += follow_up(
            topology, scenario.step2, seed=scenario.seed, day=day, seen=run_log.seen_hits
        )
        run_log.seconds["step 2"] += time.perf_counter() - mark
        snapshot_evidence(topology, day, run_log)
        note_sent(topology, run_log)
        run_log.day_seconds.append(time.perf_counter() - started)
    progress("days done", calendar.days, calendar.days)


def _enrol_day(world: World, node: Node, day: int, run_log: RunLog) -> None:
    encounters = world.encounters_on(day, node.country)
    refs = enrol_many(node, encounters)
    committed = dt.datetime.now(dt.UTC)
    for encounter in encounters:
        run_log.enrolled_at[encounter.encounter_id] = committed
        for ref in refs[encounter.encounter_id].values():
            run_log.probe_refs[(node.country, ref)] = encounter.encounter_id
