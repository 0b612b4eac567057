"""Which nodes a run has and how they reach each other.

``create_folders`` makes keyed node folders with the scenario's threshold and
a signed agreement for every pair of nodes, each from that pair's terms (see
``Scenario.terms``). ``connect`` is the one place that decides the topology:
every pair linked, in-process (each worker calls its partners' handlers
through ``InMemoryPeerTransport``, no sockets) or over gRPC (each node a real
process on loopback with mutual TLS; the driver holds a ``GrpcPeerTransport``
per link for the surge monitor's and step 2's calls). Either way the runner
sees the same ``Topology``: nodes by country, a ``Route`` (link and transport)
for each (node, partner) pair, and ``drain`` (every outbox empty).

The nodes' clocks run on the real date; the simulated days live in the
encounter times. Daily quotas count per real UTC day, so the agreement the
nodes sign multiplies the scenario's daily quotas by the number of simulated
days (the report compares each simulated day with the agreement's daily quota).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from biometric_exchange.agreement.terms import Purpose
from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.crypto.keys import init_keys
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.link import Link
from biometric_exchange.node.process import SURGE_INTERVAL_ENV
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import (
    GrpcPeerTransport,
    MeteredTransport,
    PeerTransport,
    Tally,
)
from biometric_exchange.simulation.conflict_thresholds import conflict_thresholds
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.wire import Wire
from biometric_exchange.simulation.witness import WitnessTransport
from biometric_exchange.workspace import (
    CORRIDOR,
    free_port,
    init_agreement,
    purpose_allowed,
    start_node_process,
    stop_process,
    wait_serving,
)

NODE_NAMES = {country: name for name, country in CORRIDOR}
TERMS_FILENAME = "terms.toml"
"""Chile-Panama's signed terms; every other pair's are ``terms-<A>-<B>.toml``."""
DRAIN_TIMEOUT_S = 300.0
"""Over gRPC: how long the nodes may take to empty their outboxes after an enrolment."""
QUIET_SURGE_INTERVAL_S = 7 * 24 * 3600.0
"""Node processes' own surge monitor (real date) stays quiet: the runner runs it per
simulated day."""
DEFAULT_QUOTAS = {"probes_per_day": 10_000, "detail_requests_per_day": 500}
"""Daily quotas of terms that name none."""


def node_terms(scenario: Scenario, first: str = "CHL", second: str = "PAN") -> dict[str, Any]:
    """The terms a pair's nodes sign (Chile-Panama's by default): the scenario's, with
    daily quotas over the whole run."""
    terms = scenario.terms(first, second)
    quotas = dict(terms.get("quotas", {}))
    for name, default in DEFAULT_QUOTAS.items():
        quotas[name] = int(quotas.get(name, default)) * scenario.days
    return {**terms, "quotas": quotas}


def terms_filename(first: str, second: str) -> str:
    return TERMS_FILENAME if (first, second) == ("CHL", "PAN") else f"terms-{first}-{second}.toml"


def create_folders(scenario: Scenario, workdir: Path) -> dict[str, Path]:
    """Keyed node folders on free loopback ports and a signed agreement for every pair.

    Each pair signs its terms (``node_terms``); a node states ``border_security`` to
    each partner whose agreement allows it, else that agreement's first purpose
    (``node.toml [exchange.partner_purposes]``, as ``workspace.create_federation``)."""
    terms_files: dict[tuple[str, str], Path] = {}
    for first, second in scenario.pairs():
        path = workdir / terms_filename(first, second)
        document = {"synthetic": True, "agreement": node_terms(scenario, first, second)}
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        terms_files[(first, second)] = path
    folders: dict[str, Path] = {}
    for country in scenario.nodes.countries:
        name = NODE_NAMES[country]
        directory = workdir / name
        directory.mkdir(parents=True)
        config: dict[str, Any] = {
            "node": {"name": name, "country": country, "listen": f"127.0.0.1:{free_port()}"},
            "matching": {"threshold": scenario.threshold},
        }
        if scenario.conflicts is not None:
            table = conflict_thresholds(scenario.conflicts.fpir)
            config["alerts"] = {"conflict_thresholds": {str(n): t for n, t in table.items()}}
        purposes = partner_purposes(country, terms_files)
        if purposes:
            config["exchange"] = {"partner_purposes": purposes}
        (directory / CONFIG_FILENAME).write_text(tomli_w.dumps(config), encoding="utf-8")
        init_keys(directory, name, country)
        folders[country] = directory
    for (first, second), path in terms_files.items():
        init_agreement(folders[first], folders[second], terms_file=path)
    return folders


def partner_purposes(country: str, terms_files: Mapping[tuple[str, str], Path]) -> dict[str, str]:
    """The purposes ``country`` states where an agreement does not allow border security."""
    stated = {}
    for pair, path in terms_files.items():
        if country not in pair:
            continue
        purpose = purpose_allowed(path)
        if purpose != Purpose.BORDER_SECURITY.value:
            stated[next(code for code in pair if code != country)] = purpose
    return stated


@dataclass(frozen=True)
class Route:
    """One node's link to one partner, and the way to reach that partner."""

    link: Link
    transport: PeerTransport

    @property
    def country(self) -> str:
        return self.link.node.country

    @property
    def partner(self) -> str:
        return self.link.code

    @property
    def node(self) -> Node:
        return self.link.node


@dataclass
class Topology:
    """The run's nodes (the driver's handles) and how each reaches its partners."""

    nodes: dict[str, Node]
    routes: list[Route]
    """Every (node, partner) pair: the surge monitor's and step 2's calls go this way."""
    drain: Callable[[], None]
    """Return once every node's outbox is empty."""
    mode: str
    tally: Tally = field(default_factory=Tally)
    """Calls and envelope bytes through the links (and, in-process, the workers' calls)."""
    wire: Wire = field(default_factory=Wire)
    """What crossed, each message opened as its recipient would (the tally's calls)."""
    workers_metered: bool = True
    """Over gRPC the node processes make the Identify and sightings calls: neither the
    tally nor the wire sees them."""
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()
        self.closers.clear()


def connect(folders: Mapping[str, Path], *, over_grpc: bool, logs: Path) -> Topology:
    """Open the nodes and wire every link: in-process, or over gRPC between real processes."""
    if over_grpc:
        return _over_grpc(folders, logs)
    return _in_process(folders)


WORKER_BATCH = 2000
"""Items one in-process worker pass takes (the node process takes 32 at a time)."""


def _in_process(folders: Mapping[str, Path]) -> Topology:
    nodes = {country: Node.open(path) for country, path in folders.items()}
    services = {c: Services.of(node) for c, node in nodes.items()}
    routes: list[Route] = []
    workers: list[ExchangeWorker] = []
    tally, wire = Tally(), Wire()
    for country, node in nodes.items():
        transports: dict[str, PeerTransport] = {}
        for link in node.links():
            partner = link.code
            holder = nodes[partner].link(country)
            handlers = InMemoryPeerTransport(PartnerHandlers(holder, services[partner]))
            witnessed = WitnessTransport(handlers, link, holder, wire)
            transports[partner] = MeteredTransport(witnessed, tally)
            routes.append(Route(link, transports[partner]))
        workers.append(ExchangeWorker(node, services[country], transports))

    def drain() -> None:
        busy = True
        while busy:
            busy = False
            for worker in workers:
                while worker.run_once(limit=WORKER_BATCH):
                    busy = True

    topology = Topology(nodes, routes, drain, "in-process", tally, wire)
    topology.closers.extend(node.database.close for node in nodes.values())
    return topology


@contextlib.contextmanager
def _quiet_surge_monitor() -> Iterator[None]:
    before = os.environ.get(SURGE_INTERVAL_ENV)
    os.environ[SURGE_INTERVAL_ENV] = str(QUIET_SURGE_INTERVAL_S)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SURGE_INTERVAL_ENV, None)
        else:
            os.environ[SURGE_INTERVAL_ENV] = before


def _over_grpc(folders: Mapping[str, Path], logs: Path) -> Topology:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    topology = Topology(
        {}, [], lambda: None, "over gRPC (mutual TLS on loopback)", workers_metered=False
    )
    try:
        with _quiet_surge_monitor():
            for country, path in folders.items():
                processes[country] = start_node_process(path, logs / f"{path.name}.log")
                topology.closers.append(_stopper(processes[country]))
        for country, path in folders.items():
            wait_serving(path, processes[country])
        for country, path in folders.items():
            node = Node.open(path)
            topology.nodes[country] = node
            topology.closers.append(node.database.close)
        for country, node in topology.nodes.items():
            for link in node.links():
                holder = topology.nodes[link.code].link(country)
                witnessed = WitnessTransport(GrpcPeerTransport(link), link, holder, topology.wire)
                transport = MeteredTransport(witnessed, topology.tally)
                topology.closers.append(transport.close)
                topology.routes.append(Route(link, transport))
    except BaseException:
        topology.close()
        raise

    def drain() -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while any(node.outbox.depth() for node in topology.nodes.values()):
            for country, process in processes.items():
                if process.poll() is not None:
                    raise ConfigError(f"node {country} exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"exchanges still pending after {DRAIN_TIMEOUT_S:.0f} s; see the node logs"
                )
            time.sleep(0.05)

    topology.drain = drain
    return topology


def _stopper(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        stop_process(process)

    return stop
