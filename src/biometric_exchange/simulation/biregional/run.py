"""One topology over one world, in-process: the same node code, two ways to reach.

``mesh``: each member's worker calls each partner's handlers directly.
``router``: each member's worker calls the router (``router.local``), which checks,
audits and forwards the same sealed envelopes to the holders' handlers. Each day
every member enrols its encounters, then every outbox is drained. The members'
calls are metered and timed; so are the router's onward calls.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message

from biometric_exchange.domain import AlertKind
from biometric_exchange.federation.generate import FederationFolders
from biometric_exchange.node.enrolment import add_watchlist, enrol_many
from biometric_exchange.node.rpc import Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import MeteredTransport, PeerTransport, Tally
from biometric_exchange.router.config import DATABASE_FILENAME, load_router_config
from biometric_exchange.router.forward import Router
from biometric_exchange.router.local import LocalHolders, RoutedTransport
from biometric_exchange.simulation.biregional.world import World
from biometric_exchange.store.database import Database

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)
TOPOLOGIES = ("mesh", "router")
WORKER_BATCH = 2000
HIT_KINDS = frozenset({AlertKind.WATCHLIST_HIT, AlertKind.PROTECTION})
"""A hit on a watchlist: ``PROTECTION`` when the entry is a missing person."""
Progress = Callable[[str, int, int], None]


class Timed:
    """A transport that records each call's duration (ms) per method."""

    def __init__(self, inner: PeerTransport, samples: dict[str, list[float]]) -> None:
        self._inner = inner
        self._samples = samples

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        started = time.perf_counter()
        try:
            return self._inner.call(rpc, request, timeout=timeout)
        finally:
            self._samples[rpc.meter].append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self._inner.close()


class MeteredOnward:
    """The router's onward calls, tallied."""

    def __init__(self, holders: Callable[[str, str], PeerTransport], tally: Tally) -> None:
        self._holders = holders
        self._tally = tally

    def __call__(self, holder: str, member: str) -> MeteredTransport:
        return MeteredTransport(self._holders(holder, member), self._tally)


@dataclass
class TopologyRun:
    topology: str
    encounters: int = 0
    seconds: float = 0.0
    member_tally: Tally = field(default_factory=Tally)
    """What members sent and received (to partners, or to the router)."""
    router_tally: Tally = field(default_factory=Tally)
    """What the router sent to holders and received from them."""
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    partner_hits: set[tuple[str, str, str]] = field(default_factory=set)
    """(member, partner, traveller) of every hit on a partner's list."""
    local_hits: set[tuple[str, str]] = field(default_factory=set)
    router_audit: Counter[str] = field(default_factory=Counter)
    """Router audit entries by ``event/outcome``."""
    router_audit_fields: list[str] = field(default_factory=list)
    router_chain_entries: int = 0
    pending: int = 0
    """Outbox items not done at the end (should be none)."""


def run_topology(
    topology: str, folders: FederationFolders, world: World, progress: Progress
) -> TopologyRun:
    """Run ``world`` through ``folders`` (fresh: nothing enrolled yet) as ``topology``."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology: {topology!r} is not one of {', '.join(TOPOLOGIES)}")
    result = TopologyRun(topology)
    nodes = {code: Node.open(path) for code, path in folders.nodes.items()}
    router_db: Database | None = None
    try:
        load_watchlists(nodes, world)
        services = {code: Services.of(node) for code, node in nodes.items()}
        router: Router | None = None
        if topology == "router":
            router_db = Database(folders.router / DATABASE_FILENAME)
            router = Router(
                load_router_config(folders.router),
                router_db,
                MeteredOnward(LocalHolders(nodes, services), result.router_tally),
            )
        ways: dict[str, dict[str, PeerTransport]] = {}
        for code, node in nodes.items():
            ways[code] = {}
            for link in node.links():
                if router is None:
                    holder = nodes[link.code].link(code)
                    way: PeerTransport = InMemoryPeerTransport(
                        PartnerHandlers(holder, services[link.code])
                    )
                else:
                    way = RoutedTransport(router, code, link.code)
                ways[code][link.code] = way
        run_days(nodes, services, ways, world, result, progress=progress)
        if router is not None:
            read_router_audit(router, result)
    finally:
        for node in nodes.values():
            node.database.close()
        if router_db is not None:
            router_db.close()
    return result


def load_watchlists(nodes: dict[str, Node], world: World) -> None:
    for code, node in nodes.items():
        add_watchlist(node, world.watchlists[code])


def run_days(
    nodes: dict[str, Node],
    services: dict[str, Services],
    ways: dict[str, dict[str, PeerTransport]],
    world: World,
    result: TopologyRun,
    *,
    progress: Progress,
) -> None:
    """Each day, every member enrols its encounters, then every outbox is drained;
    ``ways`` are each member's transports to its partners (metered and timed here)."""
    workers = []
    for code, node in nodes.items():
        transports: dict[str, PeerTransport] = {
            partner: Timed(MeteredTransport(way, result.member_tally), result.latency_ms)
            for partner, way in ways[code].items()
        }
        workers.append(ExchangeWorker(node, services[code], transports))
    started = time.perf_counter()
    days = world.scenario.days
    for day in range(days):
        progress(f"{result.topology}: day {day + 1} of {days}", day, days)
        for code, node in nodes.items():
            encounters = world.day_encounters(day, code)
            enrol_many(node, encounters)
            result.encounters += len(encounters)
        _drain(workers)
    result.seconds = time.perf_counter() - started
    progress(f"{result.topology}: done", days, days)
    collect(result, nodes, world)


def read_router_audit(router: Router, result: TopologyRun) -> None:
    entries = router.audit.entries()
    result.router_chain_entries = router.audit.verify()
    result.router_audit.update(f"{e.event}/{e.outcome}" for e in entries)
    result.router_audit_fields = sorted(
        {"at", "event", "peer", "message_id", "outcome"}
        | {key for e in entries for key in e.detail}
    )


def _drain(workers: list[ExchangeWorker]) -> None:
    busy = True
    while busy:
        busy = False
        for worker in workers:
            while worker.run_once(limit=WORKER_BATCH):
                busy = True


def collect(result: TopologyRun, nodes: dict[str, Node], world: World) -> None:
    for code, node in nodes.items():
        result.pending += node.outbox.depth()
        for alert in node.alerts.list():
            if alert.kind not in HIT_KINDS:
                continue
            traveller = world.traveller_of.get(alert.encounter_id or "")
            if traveller is None:
                continue
            if alert.partner is None:
                result.local_hits.add((code, traveller))
            else:
                result.partner_hits.add((code, alert.partner, traveller))


def expected_hits(world: World, pairs: tuple[tuple[str, str], ...]) -> set[tuple[str, str, str]]:
    """(member, lister, traveller) for every encounter of a listed traveller by another
    member holding terms with the lister: what the exchange should find."""
    agreed = {frozenset(pair) for pair in pairs}
    found = set()
    for encounter in world.all_encounters():
        traveller = world.traveller_of[encounter.encounter_id]
        lister = world.listed_by.get(traveller)
        member = encounter.border_point.split("-", 1)[0]
        if lister is not None and lister != member and frozenset((member, lister)) in agreed:
            found.add((member, lister, traveller))
    return found


def copy_folders(folders: FederationFolders, target: Path) -> FederationFolders:
    """The same generated folders (keys, agreements) copied under ``target``."""
    import shutil  # noqa: PLC0415

    root = folders.router.parent
    shutil.copytree(root, target, symlinks=False)
    return FederationFolders(
        {code: target / path.relative_to(root) for code, path in folders.nodes.items()},
        target / folders.router.relative_to(root),
        folders.pairs,
    )
