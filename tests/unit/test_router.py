"""The federation router in-process: it forwards what it cannot open, refuses pairs
without terms, members speaking for others and members over quota, and audits each
(real SQLite, real envelopes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf.message import Message

from biometric_exchange.crypto.envelope import EnvelopeContext, seal
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.federation.generate import FederationFolders
from biometric_exchange.node.rpc import IDENTIFY, PING, Rpc
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.services import Services
from biometric_exchange.node.status import RemoteRefusal, status_for
from biometric_exchange.router.config import DATABASE_FILENAME, load_router_config
from biometric_exchange.router.forward import CLAIMED_CHARS, Router
from biometric_exchange.router.local import LocalHolders, RoutedTransport
from biometric_exchange.serde.identify import IdentifyQuery, identify_request_to_bytes
from biometric_exchange.simulation.biregional.run import copy_folders
from biometric_exchange.store.database import Database
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.probes import probe
from tests.routing import opens_with_none, small_federation, template, try_open

Request = TypeVar("Request", bound=Message)
Reply = TypeVar("Reply", bound=Message)
NOON = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


class Recorded:
    """The router's onward calls, each request and reply kept as it crossed."""

    def __init__(self, holders: LocalHolders) -> None:
        self._holders = holders
        self.crossed: list[pb.SealedEnvelope] = []

    def __call__(self, holder: str, member: str) -> Recorded:
        self._current = self._holders(holder, member)
        return self

    def call(self, rpc: Rpc[Request, Reply], request: Request, *, timeout: float) -> Reply:
        reply = self._current.call(rpc, request, timeout=timeout)
        for message in (request, reply):
            if isinstance(message, pb.SealedEnvelope):
                self.crossed.append(message)
        return reply


@dataclass
class Federation:
    folders: Any
    nodes: dict[str, Node]
    router: Router
    onward: Recorded
    database: Database
    closers: list[Any] = field(default_factory=list)


def open_router(
    folders: Any, nodes: dict[str, Node], **changes: Any
) -> tuple[Router, Recorded, Database]:
    services = {code: Services.of(node) for code, node in nodes.items()}
    onward = Recorded(LocalHolders(nodes, services))
    config = load_router_config(folders.router).model_copy(update=changes)
    database = Database(folders.router / DATABASE_FILENAME)
    return Router(config, database, onward, clock=lambda: NOON), onward, database


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> FederationFolders:
    """Keys and agreements made once; each test works on its own copy."""
    return small_federation(tmp_path_factory.mktemp("generated"))


@pytest.fixture
def federation(tmp_path: Path, generated: FederationFolders) -> Iterator[Federation]:
    folders = copy_folders(generated, tmp_path / "copy")
    nodes = {code: Node.open(path) for code, path in folders.nodes.items()}
    router, onward, database = open_router(folders, nodes)
    yield Federation(folders, nodes, router, onward, database)
    database.close()
    for node in nodes.values():
        node.database.close()


def identify_envelope(sender: Node, context: EnvelopeContext) -> pb.SealedEnvelope:
    query = IdentifyQuery("anti_trafficking", (probe("probe-0", template(7)),), 1)
    return seal(
        context,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=sender.clock(),
    )


def refusal_code(call: Any) -> grpc.StatusCode:
    with pytest.raises(ExchangeError) as raised:
        call()
    return status_for(raised.value)[0]


def test_the_router_forwards_envelopes_it_cannot_open(federation: Federation) -> None:
    pan = federation.nodes["PAN"]
    request = identify_envelope(pan, pan.link("CRI").envelope)
    reply = RoutedTransport(federation.router, "PAN", "CRI").call(IDENTIFY, request, timeout=5)

    assert [e.SerializeToString() for e in federation.onward.crossed] == [
        request.SerializeToString(),
        reply.SerializeToString(),
    ], "forwarded unchanged both ways"
    folders = federation.folders
    for envelope in (request, reply):
        assert opens_with_none(envelope, folders.router, folders)
    # The same attempt with the real recipient's key opens each: the attempt can succeed.
    assert try_open(request, load_keys(folders.nodes["CRI"]).kex_key, folders)
    assert try_open(reply, load_keys(folders.nodes["PAN"]).kex_key, folders)
    # The router keeps routing metadata only: no ciphertext reaches its database.
    stored = b"".join(p.read_bytes() for p in folders.router.glob(f"{DATABASE_FILENAME}*"))
    for envelope in (request, reply):
        assert envelope.ciphertext[:24] not in stored
    (entry,) = federation.router.audit.entries()
    assert (entry.event, entry.outcome, entry.peer) == ("route.forwarded", "accepted", "PAN")
    assert entry.detail["to"] == "CRI" and entry.detail["method"] == "Identify"
    received = [
        e for e in federation.nodes["CRI"].audit.entries() if e.event == "identify.received"
    ]
    assert [(e.peer, e.outcome) for e in received] == [("PAN", "accepted")]


def test_a_member_cannot_reach_a_partner_it_has_no_terms_with(federation: Federation) -> None:
    """Colombia seals for Mexico with Mexico's real public keys; the router refuses."""
    col, mex = federation.nodes["COL"], federation.nodes["MEX"]
    assert "MEX" not in col.partner_codes
    mex_keys = load_keys(federation.folders.nodes["MEX"])
    context = EnvelopeContext(
        agreement_id="COL-MEX-NONE",
        agreement_hash="0" * 64,
        own_party="COL",
        partner_party="MEX",
        own_signing_key=col.keys.signing_key,
        own_kex_key=col.keys.kex_key,
        partner_signing_public=mex_keys.signing_public,
        partner_kex_public=mex_keys.kex_public,
    )
    envelope = identify_envelope(col, context)
    code = refusal_code(lambda: federation.router.forward("COL", "MEX", IDENTIFY, envelope))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RemoteRefusal) as raised:
        RoutedTransport(federation.router, "COL", "MEX").call(IDENTIFY, envelope, timeout=5)
    assert raised.value.code is grpc.StatusCode.PERMISSION_DENIED
    refused = federation.router.audit.entries()
    assert [(e.event, e.outcome, e.peer) for e in refused] == [
        ("route.refused", "rejected", "COL")
    ] * 2
    assert refused[0].detail["reason"] == "no terms between COL and MEX"
    assert federation.onward.crossed == []
    assert not [e for e in mex.audit.entries() if e.peer == "COL"], "nothing reached Mexico"


def test_a_member_cannot_speak_for_another(federation: Federation) -> None:
    pan = federation.nodes["PAN"]
    envelope = identify_envelope(pan, pan.link("CRI").envelope)
    code = refusal_code(lambda: federation.router.forward("HND", "CRI", IDENTIFY, envelope))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    code = refusal_code(lambda: federation.router.forward("PAN", "HND", IDENTIFY, envelope))
    assert code is grpc.StatusCode.INVALID_ARGUMENT, "the header names CRI, not HND"
    reasons = [e.detail["reason"] for e in federation.router.audit.entries()]
    assert reasons == ["envelope sender 'PAN' is not HND", "envelope recipient 'CRI' is not HND"]
    assert federation.onward.crossed == []


def test_a_claimed_header_reaches_the_audit_cut_short(federation: Federation) -> None:
    pan = federation.nodes["PAN"]
    envelope = identify_envelope(pan, pan.link("CRI").envelope)
    header = pb.EnvelopeHeader.FromString(envelope.header)
    header.sender = "X" * 100_000
    header.message_id = "M" * 100_000
    forged = pb.SealedEnvelope(header=header.SerializeToString(), ciphertext=envelope.ciphertext)
    code = refusal_code(lambda: federation.router.forward("PAN", "CRI" * 1_000, IDENTIFY, forged))
    assert code is grpc.StatusCode.INVALID_ARGUMENT, "no such member"
    code = refusal_code(lambda: federation.router.forward("PAN", "CRI", IDENTIFY, forged))
    assert code is grpc.StatusCode.UNAUTHENTICATED
    entries = list(federation.router.audit.entries())
    assert len(entries) == 2
    for entry in entries:
        assert all(len(str(value)) <= 100 for value in entry.detail.values()), entry.detail
        assert len(entry.peer or "") <= CLAIMED_CHARS
    assert entries[1].message_id == "M" * CLAIMED_CHARS
    assert federation.onward.crossed == []


def ping(node: Node, partner: str) -> pb.PingRequest:
    link = node.link(partner)
    return pb.PingRequest(
        sender=node.country, agreement_hash=link.policy.agreement_hash, sent_at_ms=node.clock()
    )


def test_each_member_has_its_own_daily_quota(federation: Federation) -> None:
    federation.database.close()
    router, _onward, database = open_router(
        federation.folders, federation.nodes, calls_per_member_per_day=2
    )
    federation.database = database
    pan, hnd = federation.nodes["PAN"], federation.nodes["HND"]
    for _ in range(2):
        assert router.forward("PAN", "CRI", PING, ping(pan, "CRI")).party == "CRI"
    code = refusal_code(lambda: router.forward("PAN", "CRI", PING, ping(pan, "CRI")))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert router.forward("HND", "CRI", PING, ping(hnd, "CRI")).party == "CRI"
    outcomes = [(e.event, e.peer) for e in router.audit.entries()]
    assert outcomes == [
        ("route.forwarded", "PAN"),
        ("route.forwarded", "PAN"),
        ("route.refused", "PAN"),
        ("route.forwarded", "HND"),
    ]
    assert router.audit.verify() == 4


def test_the_holder_status_reaches_the_member_unchanged(federation: Federation) -> None:
    """Panama states border_security to Mexico, which their terms do not allow:
    Mexico refuses, and the member sees Mexico's PERMISSION_DENIED through the router."""
    pan = federation.nodes["PAN"]
    query = IdentifyQuery("border_security", (probe("probe-0", template(8)),), 1)
    envelope = seal(
        pan.link("MEX").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=pan.clock(),
    )
    with pytest.raises(RemoteRefusal) as raised:
        RoutedTransport(federation.router, "PAN", "MEX").call(IDENTIFY, envelope, timeout=5)
    assert raised.value.code is grpc.StatusCode.PERMISSION_DENIED
    (entry,) = federation.router.audit.entries()
    assert (entry.event, entry.outcome, entry.detail["status"]) == (
        "route.forwarded",
        "failed",
        "PERMISSION_DENIED",
    )
