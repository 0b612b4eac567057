"""The same world over real gRPC with mutual TLS: each member's server and the
router's on loopback, in this process, at the addresses their folders name.

Mesh: each member's worker dials each partner's server. Router: each member's
worker dials the router's server (``RoutedGrpcTransport``); the router dials the
holders with its own certificate. The node code serving and sending is the one
``bx node run`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.federation.description import Federation
from biometric_exchange.federation.generate import FederationFolders
from biometric_exchange.node.membership import load_membership
from biometric_exchange.node.routed import RoutedGrpcTransport
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import start_server
from biometric_exchange.node.services import Services
from biometric_exchange.node.transport import GrpcPeerTransport, PeerTransport
from biometric_exchange.router.config import DATABASE_FILENAME, RouterKeys, load_router_config
from biometric_exchange.router.forward import Router
from biometric_exchange.router.server import GrpcHolders, RunningRouter, start_router
from biometric_exchange.simulation.biregional.run import (
    TOPOLOGIES,
    MeteredOnward,
    Progress,
    TopologyRun,
    load_watchlists,
    read_router_audit,
    run_days,
)
from biometric_exchange.simulation.biregional.world import World
from biometric_exchange.store.database import Database


def subset(federation: Federation, members: tuple[str, ...]) -> Federation:
    """The federation of ``members`` only, with the pairs and overrides among them."""
    missing = [code for code in members if code not in federation.members]
    if missing:
        raise ConfigError(f"grpc_subset: {', '.join(missing)} not in the federation")
    kept = tuple(code for code in federation.members if code in members)

    def inside(key: str) -> bool:
        return all(code in kept for code in key.split("-"))

    return federation.model_copy(
        update={
            "members": kept,
            "pairs": {k: v for k, v in federation.pairs.items() if inside(k)},
            "without_terms": tuple(k for k in federation.without_terms if inside(k)),
        }
    )


OnwardWrapper = Callable[[Callable[[str, str], PeerTransport]], Callable[[str, str], PeerTransport]]


@dataclass
class Served:
    nodes: dict[str, Node]
    services: dict[str, Services]
    router: Router | None
    running_router: RunningRouter | None


@contextmanager
def serve(
    folders: FederationFolders,
    topology: str,
    result: TopologyRun,
    world: World,
    *,
    onward: OnwardWrapper | None = None,
) -> Iterator[Served]:
    """Every member's gRPC server (its watchlist loaded from ``world``), and in router
    topology the router's, until closed. ``onward`` wraps the router's way to the
    holders (by default: metered into ``result.router_tally``)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology: {topology!r} is not one of {', '.join(TOPOLOGIES)}")
    with ExitStack() as stack:
        nodes: dict[str, Node] = {}
        for code, path in folders.nodes.items():
            nodes[code] = Node.open(path)
            stack.callback(nodes[code].database.close)
        load_watchlists(nodes, world)
        services = {code: Services.of(node) for code, node in nodes.items()}
        for code, node in nodes.items():
            server = start_server(node, services[code])
            stack.callback(server.stop, 0)
        router: Router | None = None
        running: RunningRouter | None = None
        if topology == "router":
            config = load_router_config(folders.router)
            database = Database(folders.router / DATABASE_FILENAME)
            stack.callback(database.close)
            made: list[Router] = []

            def factory(holders: GrpcHolders) -> Router:
                metered = MeteredOnward(holders, result.router_tally)
                made.append(Router(config, database, onward(metered) if onward else metered))
                return made[0]

            running = start_router(config, RouterKeys(folders.router), factory)
            stack.callback(running.stop, 0)
            router = made[0]
        yield Served(nodes, services, router, running)


def ways_over_grpc(
    served: Served, topology: str
) -> tuple[dict[str, dict[str, PeerTransport]], list[PeerTransport]]:
    """Each member's gRPC transport to each partner (direct, or through the router)."""
    ways: dict[str, dict[str, PeerTransport]] = {}
    opened: list[PeerTransport] = []
    for code, node in served.nodes.items():
        ways[code] = {}
        membership = load_membership(node.node_dir)
        for link in node.links():
            if topology == "router":
                if membership is None:
                    raise ConfigError(f"{node.node_dir}: no membership.toml: not a router member")
                way: PeerTransport = RoutedGrpcTransport(link, membership)
            else:
                way = GrpcPeerTransport(link)
            ways[code][link.code] = way
            opened.append(way)
    return ways, opened


def run_topology_over_grpc(
    topology: str,
    folders: FederationFolders,
    world: World,
    progress: Progress,
    *,
    onward: OnwardWrapper | None = None,
) -> TopologyRun:
    """``world`` through ``folders`` over gRPC and mutual TLS on loopback."""
    result = TopologyRun(topology)
    with serve(folders, topology, result, world, onward=onward) as served:
        ways, opened = ways_over_grpc(served, topology)
        try:
            run_days(served.nodes, served.services, ways, world, result, progress=progress)
        finally:
            for way in opened:
                way.close()
        if served.router is not None:
            read_router_audit(served.router, result)
    return result
