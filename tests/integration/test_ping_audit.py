"""Ping is audited on the answering side, counted per partner, outcome, reason and
UTC hour so that a partner pinging often does not grow the audit log per call
(Chile's real gRPC server over mutual TLS, Panama calling)."""

from __future__ import annotations

import grpc
import pytest

from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve.ping import NOT_THE_CALLER, OTHER_AGREEMENT, SAME_AGREEMENT
from biometric_exchange.store.audit import AuditEntry, AuditEvent
from biometric_exchange.store.call_counts import CallCounts
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from tests.integration.conftest import ServedPair, entries_after, last_seq

pytestmark = pytest.mark.integration

PINGS = 60
HOUR_S = 3600


Counted = dict[tuple[str, str, str], int]


def _counts(node: Node) -> Counted:
    """(outcome, reason, window) -> Pings counted by ``node`` from PAN."""
    counts = CallCounts(node.database, node.audit, node.clock)
    return {
        (c.outcome, c.reason, c.window): c.count
        for c in counts.counts(AuditEvent.PING_RECEIVED)
        if c.peer == "PAN"
    }


def _grown(before: Counted, after: Counted) -> Counted:
    return {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}


def _ping(stub: pb_grpc.ExchangeStub, panama: Node, **changes: str) -> pb.PingResponse:
    request = pb.PingRequest(
        sender="PAN",
        agreement_hash=panama.link("CHL").policy.agreement_hash,
        sent_at_ms=panama.clock(),
    )
    for name, value in changes.items():
        setattr(request, name, value)
    response: pb.PingResponse = stub.Ping(request, timeout=10)
    return response


def _window_entries(node: Node, outcome: str, reason: str, window: str) -> list[AuditEntry]:
    return [
        e
        for e in entries_after(node, 0, "ping.received")
        if (e.outcome, e.detail["reason"], e.detail["window"]) == (outcome, reason, window)
    ]


def test_ping_is_audited(served_pair: ServedPair) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    stub = served_pair.partner_stub(panama, chile)
    before = _counts(chile)
    assert _ping(stub, panama).agreement_matches
    assert not _ping(stub, panama, agreement_hash="0" * 64).agreement_matches
    with pytest.raises(grpc.RpcError) as refused:
        _ping(stub, panama, sender="MEX")
    assert (refused.value.code(), refused.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "malformed request",
    )
    grown = _grown(before, _counts(chile))
    assert {(outcome, reason) for outcome, reason, _ in grown} == {
        ("accepted", SAME_AGREEMENT),
        ("accepted", OTHER_AGREEMENT),
        ("rejected", NOT_THE_CALLER),
    }
    for outcome, reason, window in grown:
        (entry,) = _window_entries(chile, outcome, reason, window)
        assert entry.peer == "PAN"
        assert entry.detail["counted"] is True
    assert chile.audit.verify() > 0


def test_repeated_pings_do_not_grow_the_audit_log_per_call(served_pair: ServedPair) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    stub = served_pair.partner_stub(panama, chile)
    before_seq, before = last_seq(chile), _counts(chile)
    for _ in range(PINGS):
        _ping(stub, panama)
    grown = _grown(before, _counts(chile))
    assert sum(grown.values()) == PINGS
    assert {(outcome, reason) for outcome, reason, _ in grown} == {("accepted", SAME_AGREEMENT)}
    # One entry for a window these Pings opened (two if an hour ended meanwhile), none
    # for a window already open.
    added = entries_after(chile, before_seq, "ping.received")
    assert len(added) <= len(grown) <= 2
    assert all(e.detail["window"] in {w for _, _, w in grown} for e in added)

    # The next hour's first Ping is audited with the total of the hour before.
    last_window = max(window for _, _, window in grown)
    total = _counts(chile)[("accepted", SAME_AGREEMENT, last_window)]
    served_pair.clock.advance(HOUR_S)
    seq = last_seq(chile)
    _ping(stub, panama)
    _ping(stub, panama)
    (entry,) = entries_after(chile, seq, "ping.received")
    assert entry.detail["window"] > last_window
    assert (entry.detail["previous_window"], entry.detail["previous_count"]) == (
        last_window,
        total,
    )
