"""The world through real node processes (``bx node run``) and a real router process
(``bx federation router``) on loopback, with mutual TLS: mesh or router.

The driver opens each node's database beside its process (SQLite, as the
corridor's gRPC runs do) to enrol each day's encounters and waits until every
outbox is empty; the processes' workers make the calls. Calls are counted from
the members' audit logs and the router's (the processes are not metered).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.federation.generate import FederationFolders, choose_topology
from biometric_exchange.node.enrolment import add_watchlist, enrol_many
from biometric_exchange.node.runtime import Node
from biometric_exchange.router.config import DATABASE_FILENAME, load_router_config
from biometric_exchange.simulation.biregional.run import Progress, TopologyRun, collect
from biometric_exchange.simulation.biregional.world import World
from biometric_exchange.store.audit import AuditLog
from biometric_exchange.store.database import Database
from biometric_exchange.workspace import start_node_process, stop_process, wait_serving

DRAIN_TIMEOUT_S = 300.0
LISTEN_TIMEOUT_S = 60.0
SENT_EVENTS = {"identify.sent": "identify", "sightings.sent": "sightings"}


def start_router_process(router_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``bx federation router ROUTER_DIR`` as a child process, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "biometric_exchange.cli",
                "federation",
                "router",
                str(router_dir),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def wait_listening(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    host, port = endpoint.rsplit(":", 1)
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"the router exited with status {process.returncode}")
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return
        except OSError:
            time.sleep(0.2)
    raise ConfigError(f"the router did not listen on {endpoint} within {LISTEN_TIMEOUT_S:.0f} s")


def run_processes(
    topology: str, folders: FederationFolders, world: World, logs: Path, progress: Progress
) -> TopologyRun:
    """``world`` through node processes (and the router's, in router topology)."""
    choose_topology(folders, topology)
    for code, path in folders.nodes.items():
        node = Node.open(path)
        try:
            add_watchlist(node, world.watchlists[code])
        finally:
            node.database.close()
    result = TopologyRun(topology)
    processes: list[subprocess.Popen[bytes]] = []
    nodes: dict[str, Node] = {}
    try:
        _start(topology, folders, logs, processes, nodes)
        mark = time.perf_counter()
        days = world.scenario.days
        for day in range(days):
            progress(f"{topology} (processes): day {day + 1} of {days}", day, days)
            for code, node in nodes.items():
                encounters = world.day_encounters(day, code)
                enrol_many(node, encounters)
                result.encounters += len(encounters)
            _drain(nodes, processes)
        result.seconds = time.perf_counter() - mark
        collect(result, nodes, world)
        _count_sent(nodes, result)
    finally:
        for node in nodes.values():
            node.database.close()
        for process in reversed(processes):
            stop_process(process)
    if topology == "router":
        _router_audit(folders.router, result)
    return result


def _start(
    topology: str,
    folders: FederationFolders,
    logs: Path,
    processes: list[subprocess.Popen[bytes]],
    nodes: dict[str, Node],
) -> None:
    """Start the router (in router topology) and every node; open each node's database."""
    if topology == "router":
        router = start_router_process(folders.router, logs / "router.log")
        processes.append(router)
        wait_listening(load_router_config(folders.router).listen, router)
    started = {
        code: start_node_process(path, logs / f"{path.name}.log")
        for code, path in folders.nodes.items()
    }
    processes.extend(started.values())
    for code, path in folders.nodes.items():
        wait_serving(path, started[code])
        nodes[code] = Node.open(path)


def _count_sent(nodes: dict[str, Node], result: TopologyRun) -> None:
    for node in nodes.values():
        for entry in node.audit.entries():
            if entry.event in SENT_EVENTS:
                result.member_tally.calls[SENT_EVENTS[entry.event]] += 1


def _drain(nodes: dict[str, Node], processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while any(node.outbox.depth() for node in nodes.values()):
        for process in processes:
            if process.poll() is not None:
                raise ConfigError(f"a process exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise ConfigError(f"exchanges still pending after {DRAIN_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _router_audit(router_dir: Path, result: TopologyRun) -> None:
    database = Database(router_dir / DATABASE_FILENAME)
    try:
        log = AuditLog(database)
        entries = log.entries()
        result.router_chain_entries = log.verify()
    finally:
        database.close()
    result.router_audit = Counter(f"{e.event}/{e.outcome}" for e in entries)
    for entry in entries:
        if entry.event == "route.forwarded":
            result.router_tally.calls[str(entry.detail.get("method", "")).lower()] += 1
