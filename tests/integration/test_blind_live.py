"""Blind step 1 between two nodes serving real gRPC with real mutual TLS in this process:
the planted hits found, both audit logs agreeing, a tampered ciphertext refused."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from biometric_exchange.agreement.terms import Step1Mode
from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.requester import encrypt_probe
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde.blind import BlindProbeIn, BlindQuery, blind_request_to_bytes
from biometric_exchange.store.audit.reconcile import digest_entries, reconcile
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_pair
from tests.integration.conftest import ServedPair
from tests.wiring import ClockAhead, serving_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def blind_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ServedPair]:
    clock = ClockAhead()
    chile, panama = create_pair(tmp_path_factory.mktemp("blind"), step1_mode=Step1Mode.BLIND)
    nodes = {"CHL": Node.open(chile, clock=clock), "PAN": Node.open(panama, clock=clock)}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
    try:
        with serving_all(nodes, kind=ServedPair) as pair:
            pair.clock = clock
            yield pair
    finally:
        for node in nodes.values():
            node.database.close()


def test_planted_hits_are_found_blind_and_both_logs_agree(
    blind_pair: ServedPair, dataset: DemoDataset
) -> None:
    chl, pan = blind_pair.chile, blind_pair.panama
    planted = {
        c.encounter_id
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    }
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    blind_pair.exchange(pan)
    states = {i.state for e in dataset.encounters["PAN"] for i in pan.outbox.items(e.encounter_id)}
    assert states <= {OutboxState.DONE, OutboxState.OUT_OF_SCOPE}
    assert {a.encounter_id for a in pan.alerts.partner_hits("CHL")} == planted
    subjects = [a for a in chl.alerts.list() if a.kind.value == "SUBJECT_ENCOUNTERED_BY_PARTNER"]
    assert len(subjects) == len(planted)
    ours = digest_entries(pan.audit.entries(), "CHL")
    theirs = digest_entries(chl.audit.entries(), "PAN")
    result = reconcile(ours, theirs)
    assert result.consistent and result.matched > 0
    assert any(r.event == "identify.reveal_sent" for r in ours)


def test_a_tampered_blind_request_is_refused_and_counted(
    blind_pair: ServedPair, dataset: DemoDataset
) -> None:
    chl, pan = blind_pair.chile, blind_pair.panama
    link = pan.link("CHL")
    keys = SecretContext()
    template = dataset.watchlists["CHL"][0].template
    probe = BlindProbeIn(
        "PRB-tampered",
        link.policy.scope_rule(link.purpose),
        bytes(32),
        encrypt_probe(keys, template),
    )
    body = blind_request_to_bytes(
        BlindQuery(link.purpose.value, 3, keys.digest, keys.blob, (probe,))
    )
    envelope = seal(link.envelope, pb.MESSAGE_TYPE_BLIND_IDENTIFY_REQUEST, body, now_ms=pan.clock())
    ciphertext = bytearray(envelope.ciphertext)
    ciphertext[len(ciphertext) // 2] ^= 0x01
    tampered = pb.SealedEnvelope(
        header=envelope.header, ciphertext=bytes(ciphertext), signature=envelope.signature
    )
    before = sum(c.count for c in chl.refusals.counts() if c.event == "identify.received")
    with pytest.raises(grpc.RpcError) as refused:
        blind_pair.partner_stub(pan, chl).BlindIdentify(tampered, timeout=30)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    counts = [c for c in chl.refusals.counts() if c.event == "identify.received"]
    assert sum(c.count for c in counts) == before + 1
    assert any(
        e.event == "identify.received" and e.outcome == "rejected" and e.detail.get("counted")
        for e in chl.audit.entries()
    )
