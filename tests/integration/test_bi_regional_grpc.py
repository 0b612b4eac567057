"""Five members over real gRPC and mutual TLS on loopback, mesh and then router: the
router finds every hit the mesh finds, can open none of the envelopes it forwards,
and refuses a pair without terms with PERMISSION_DENIED, audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf.message import Message

from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.node.membership import ROUTE_TO, ROUTED_FOR, load_membership
from biometric_exchange.node.rpc import PING, Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.router.config import DATABASE_FILENAME, RouterKeys
from biometric_exchange.simulation.biregional.grpc_run import run_topology_over_grpc, serve
from biometric_exchange.simulation.biregional.run import TopologyRun, copy_folders, expected_hits
from biometric_exchange.simulation.biregional.scenario import load_bi_regional
from biometric_exchange.simulation.biregional.world import build_world, restrict
from biometric_exchange.store.audit import AuditLog
from biometric_exchange.store.database import Database
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.routing import SMALL, opens_with_none, small_federation, try_open

pytestmark = pytest.mark.integration
Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)
SCENARIO = Path(__file__).resolve().parents[2] / "simulations" / "bi_regional.toml"


def quiet(what: str, done: int, total: int) -> None:
    """No progress."""


class Crossing:
    """Keeps every sealed envelope the router forwards or returns."""

    def __init__(self) -> None:
        self.envelopes: list[pb.SealedEnvelope] = []

    def wrap(
        self, holders: Callable[[str, str], PeerTransport]
    ) -> Callable[[str, str], PeerTransport]:
        crossing = self

        class Kept:
            def __init__(self, inner: PeerTransport) -> None:
                self._inner = inner

            def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
                reply = self._inner.call(rpc, request, timeout=timeout)
                for message in (request, reply):
                    if isinstance(message, pb.SealedEnvelope):
                        crossing.envelopes.append(message)
                return reply

            def close(self) -> None:
                self._inner.close()

        return lambda holder, member: Kept(holders(holder, member))


def test_five_members_over_grpc_mesh_and_router(tmp_path: Path) -> None:
    scenario, _ = load_bi_regional(SCENARIO)
    scenario = scenario.model_copy(
        update={
            "days": 4,
            "world": scenario.world.model_copy(update={"migrants": 160, "listed_share": 1.0}),
        }
    )
    world = restrict(
        build_world(scenario, today=dt.datetime.now(dt.UTC).date()), tuple(SMALL["members"])
    )
    generated = small_federation(tmp_path)
    expected = expected_hits(world, generated.pairs)

    mesh = run_topology_over_grpc("mesh", copy_folders(generated, tmp_path / "mesh"), world, quiet)
    crossing = Crossing()
    routed = copy_folders(generated, tmp_path / "router")
    router = run_topology_over_grpc("router", routed, world, quiet, onward=crossing.wrap)

    assert len(expected) >= 5
    assert mesh.partner_hits & expected, "the mesh finds hits"
    assert mesh.partner_hits <= router.partner_hits, "every mesh hit is found through the router"
    assert router.partner_hits == mesh.partner_hits
    assert mesh.pending == router.pending == 0
    assert router.router_tally.calls["identify"] == router.member_tally.calls["identify"] > 0
    assert router.router_audit["route.forwarded/accepted"] == sum(
        router.member_tally.calls.values()
    )

    # Every envelope the router forwarded, request or reply: none opens with what it holds.
    assert len(crossing.envelopes) == 2 * (
        sum(router.member_tally.calls.values()) - router.member_tally.calls["ping"]
    )
    for envelope in crossing.envelopes:
        assert opens_with_none(envelope, routed.router, routed)
    first = crossing.envelopes[0]
    recipient = pb.EnvelopeHeader.FromString(first.header).recipient
    assert try_open(first, load_keys(routed.nodes[recipient]).kex_key, routed)


def test_over_grpc_the_router_refuses_a_pair_without_terms(tmp_path: Path) -> None:
    """Colombia dials the router for Mexico (no terms): PERMISSION_DENIED, audited by the
    router, and nothing reaches Mexico."""
    scenario, _ = load_bi_regional(SCENARIO)
    scenario = scenario.model_copy(
        update={"days": 1, "world": scenario.world.model_copy(update={"migrants": 5})}
    )
    world = restrict(
        build_world(scenario, today=dt.datetime.now(dt.UTC).date()), tuple(SMALL["members"])
    )
    folders = small_federation(tmp_path)

    with serve(folders, "router", TopologyRun("router"), world) as served:
        col = served.nodes["COL"]
        membership = load_membership(col.node_dir)
        assert membership is not None
        request = pb.PingRequest(sender="COL", agreement_hash="0" * 64, sent_at_ms=col.clock())
        with grpc.secure_channel(
            membership.endpoint,
            channel_credentials(col, membership.ca_certificate_pem),
            options=channel_options(),
        ) as channel:
            method = channel.unary_unary(
                PING.path,
                request_serializer=pb.PingRequest.SerializeToString,
                response_deserializer=pb.PingResponse.FromString,
            )
            with pytest.raises(grpc.RpcError) as raised:
                method(request, timeout=10, metadata=((ROUTE_TO, "MEX"),))
            assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
            assert raised.value.details() == "no terms between these members"
            # And with terms (Panama), the same call is forwarded and answered.
            assert (
                method(
                    pb.PingRequest(
                        sender="COL",
                        agreement_hash=col.link("PAN").policy.agreement_hash,
                        sent_at_ms=col.clock(),
                    ),
                    timeout=10,
                    metadata=((ROUTE_TO, "PAN"),),
                ).party
                == "PAN"
            )
        mex: Node = served.nodes["MEX"]
        # Even the router's own certificate cannot make Mexico serve Colombia: Mexico
        # holds no agreement with it.
        keys = RouterKeys(folders.router)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=mex.keys.ca_certificate_pem,
            private_key=keys.tls_key_pem,
            certificate_chain=keys.tls_certificate_pem,
        )
        with grpc.secure_channel(
            mex.config.node.listen, credentials, options=channel_options()
        ) as channel:
            method = channel.unary_unary(
                PING.path,
                request_serializer=pb.PingRequest.SerializeToString,
                response_deserializer=pb.PingResponse.FromString,
            )
            with pytest.raises(grpc.RpcError) as raised:
                method(request, timeout=10, metadata=((ROUTED_FOR, "COL"),))
            assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert not [e for e in mex.audit.entries() if e.peer == "COL"]
    database = Database(folders.router / DATABASE_FILENAME)
    try:
        entries = AuditLog(database).entries()
    finally:
        database.close()
    assert [(e.event, e.outcome, e.peer, e.detail.get("to")) for e in entries] == [
        ("route.refused", "rejected", "COL", "MEX"),
        ("route.forwarded", "accepted", "COL", "PAN"),
    ]
    assert entries[0].detail["reason"] == "no terms between COL and MEX"
