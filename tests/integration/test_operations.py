"""Operator-facing behaviour of running nodes: health, reflection, ping, ports.

Both nodes serve in this process where their folders and agreement say they listen,
which is where the operators' tools look; only the second ``bx node run`` is a process.
"""

from __future__ import annotations

import subprocess
import sys

from biometric_exchange.node.probe import health_status, reflected_services
from biometric_exchange.node.rpc import PING
from biometric_exchange.node.server import EXCHANGE_SERVICE
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.integration.conftest import ServedPair


def test_both_nodes_report_serving_to_a_health_probe(pinned_pair: ServedPair) -> None:
    for node in (pinned_pair.chile, pinned_pair.panama):
        assert health_status(node) == "SERVING"
        assert health_status(node, service=EXCHANGE_SERVICE) == "SERVING"
        # The partner can probe it too, over its own mTLS identity.
    panama = pinned_pair.panama
    assert health_status(panama, partner=panama.link("CHL")) == "SERVING"


def test_reflection_lists_the_exchange_service(pinned_pair: ServedPair) -> None:
    for node in (pinned_pair.chile, pinned_pair.panama):
        services = reflected_services(node)
        assert EXCHANGE_SERVICE == "biometric_exchange.v1.Exchange"
        assert EXCHANGE_SERVICE in services
        assert "grpc.health.v1.Health" in services


def test_ping_reports_identity_agreement_and_clock(pinned_pair: ServedPair) -> None:
    panama, chile = pinned_pair.panama, pinned_pair.chile
    transport = GrpcPeerTransport(panama.link("CHL"))
    try:
        sent_at = panama.clock()
        ours = panama.link("CHL").agreement.hash
        response = transport.call(
            PING, pb.PingRequest(sender="PAN", agreement_hash=ours, sent_at_ms=sent_at), timeout=5
        )
        other = pb.PingRequest(sender="PAN", agreement_hash="0" * 64, sent_at_ms=sent_at)
        mismatch = transport.call(PING, other, timeout=5)
    finally:
        transport.close()
    assert response.party == "CHL"
    assert response.agreement_id == chile.link("PAN").agreement.id
    assert response.agreement_hash == panama.link("CHL").agreement.hash
    assert response.agreement_matches
    assert not mismatch.agreement_matches
    assert abs(response.server_time_ms - sent_at) < 60_000


def test_second_node_on_a_port_in_use_fails_with_a_clear_message(
    pinned_pair: ServedPair,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "biometric_exchange.cli",
            "node",
            "run",
            "-n",
            str(pinned_pair.chile.node_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert "in use" in result.stderr
    # The running node is untouched.
    assert health_status(pinned_pair.chile) == "SERVING"
