"""Blind step 1 between two nodes in one process: the same hits as plain step 1, and
every way a requester can stray from the protocol refused and audited."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from biometric_exchange.agreement.terms import Step1Mode
from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.requester import encrypt_probe, read_reply
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import ExchangeError, PartnerUnavailable
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.rpc import BLIND_IDENTIFY, BLIND_REVEAL, IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.serve.blind_state import blind_holder
from biometric_exchange.node.services import Services
from biometric_exchange.node.status import RemoteRefusal, status_for
from biometric_exchange.serde.blind import (
    BlindAnswer,
    BlindClaims,
    BlindProbeIn,
    BlindQuery,
    blind_answer_from_bytes,
    blind_request_to_bytes,
    claims_to_bytes,
    reveal_reply_from_bytes,
)
from biometric_exchange.serde.identify import (
    HitOut,
    IdentifyQuery,
    ProbeIn,
    identify_request_to_bytes,
)
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_pair
from tests.wiring import amend, handlers, in_memory
from tests.wiring import worker as make_worker

COMMITMENT = bytes(range(32))


def open_pair(workdir: Path, dataset: DemoDataset, mode: Step1Mode) -> dict[str, Node]:
    chile, panama = create_pair(workdir, step1_mode=mode)
    nodes = {"CHL": Node.open(chile), "PAN": Node.open(panama)}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
    return nodes


@pytest.fixture
def blind(tmp_path: Path, dataset: DemoDataset) -> Iterator[dict[str, Node]]:
    nodes = open_pair(tmp_path, dataset, Step1Mode.BLIND)
    yield nodes
    for node in nodes.values():
        node.database.close()


def exchange_all(nodes: dict[str, Node], dataset: DemoDataset) -> dict[str, list[tuple[str, str]]]:
    """Panama's encounters exchanged with Chile: both sides' view of the hits."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    worker = make_worker(pan, chl)
    while worker.run_once():
        pass
    states = {i.state for e in dataset.encounters["PAN"] for i in pan.outbox.items(e.encounter_id)}
    assert states <= {OutboxState.DONE, OutboxState.OUT_OF_SCOPE}
    return {
        "partner_hits": sorted(
            (a.encounter_id or "", a.category or "") for a in pan.alerts.partner_hits("CHL")
        ),
        "subjects": sorted(
            (a.watchlist_entry_id or "", a.kind.value)
            for a in chl.alerts.list()
            if a.kind.value == "SUBJECT_ENCOUNTERED_BY_PARTNER"
        ),
    }


def last(node: Node, event: str) -> AuditEntry:
    return [e for e in node.audit.entries() if e.event == event][-1]


def references(node: Node) -> int:
    (count,) = node.database.connection.execute("SELECT COUNT(*) FROM hit_references").fetchone()
    return int(count)


@dataclasses.dataclass
class Round:
    """One blind round opened by hand, as a requester that strays would."""

    pan: Node
    chl: Node
    services: Services
    keys: SecretContext
    answer: BlindAnswer
    probe_ref: str

    def reveal(self, slots: dict[str, tuple[int, ...]]) -> dict[str, list[HitOut]]:
        return round_trip(
            self.pan.link("CHL"),
            in_memory(self.chl, "PAN", self.services),
            BLIND_REVEAL,
            claims_to_bytes(BlindClaims(self.answer.round_id, slots)),
            reveal_reply_from_bytes,
            sent={},
        )


def open_round(nodes: dict[str, Node], template: np.ndarray, ref: str = "PRB-1") -> Round:
    pan, chl = nodes["PAN"], nodes["CHL"]
    services = Services.of(chl)
    link = pan.link("CHL")
    keys = SecretContext()
    probe = BlindProbeIn(
        ref, link.policy.scope_rule(link.purpose), COMMITMENT, encrypt_probe(keys, template)
    )
    query = BlindQuery(link.purpose.value, 3, keys.digest, keys.blob, (probe,))
    answer = round_trip(
        link,
        in_memory(chl, "PAN", services),
        BLIND_IDENTIFY,
        blind_request_to_bytes(query),
        blind_answer_from_bytes,
        sent={},
    )
    return Round(pan, chl, services, keys, answer, ref)


def encounter(dataset: DemoDataset, encounter_id: str) -> Encounter:
    (found,) = [e for e in dataset.encounters["PAN"] if e.encounter_id == encounter_id]
    return found


def listed(dataset: DemoDataset, entry_id: str) -> np.ndarray:
    (entry,) = [e for e in dataset.watchlists["CHL"] if e.entry_id == entry_id]
    return np.asarray(entry.template, dtype=np.float32)


def test_blind_step1_finds_exactly_what_plain_step1_finds(
    tmp_path: Path, dataset: DemoDataset, blind: dict[str, Node]
) -> None:
    plain = open_pair(tmp_path / "plain", dataset, Step1Mode.PLAIN)
    try:
        expected = exchange_all(plain, dataset)
    finally:
        for node in plain.values():
            node.database.close()
    assert expected["partner_hits"], "the demo dataset plants partner hits"
    assert exchange_all(blind, dataset) == expected
    chl = blind["CHL"]
    # The holder never saw a template and holds only the partner's public context.
    holder = blind_holder(chl.link("PAN"), Services.of(chl))
    contexts = list(holder._contexts.values())
    assert contexts and not any(c.is_private() or hasattr(c, "secret_key") for c in contexts)
    received = last(chl, "identify.received")
    assert received.detail["mode"] == "blind" and "commitments" in received.detail
    assert last(blind["PAN"], "identify.reveal_sent").detail["undecided"] == 0


def test_a_claim_of_a_real_hit_gets_a_fresh_reference(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    found = open_round(blind, listed(dataset, "CHL-WL-0012"))
    decisions = read_reply(found.keys, (found.answer.blocks or {})[found.probe_ref])
    assert len(decisions.hits) == 1 and decisions.undecided == 0
    results = found.reveal({found.probe_ref: decisions.hits})
    (hit,) = results[found.probe_ref]
    chl = blind["CHL"]
    stored = chl.hit_references.get(hit.hit_reference)
    assert stored is not None and stored.entry_id == "CHL-WL-0012" and stored.partner == "PAN"
    with pytest.raises(PartnerUnavailable):  # the round was answered once: ask again
        found.reveal({found.probe_ref: decisions.hits})


def _decoy(blind: dict[str, Node], found: Round) -> int:
    chl = blind["CHL"]
    opened = blind_holder(chl.link("PAN"), found.services)._rounds[found.answer.round_id]
    return int(np.flatnonzero(opened.probes[0].layout.rows < 0)[0])


@pytest.mark.parametrize("claim", ["decoy", "out of range", "too many", "twice", "other probe"])
def test_slots_not_given_as_possible_hits_get_nothing_and_are_audited(
    blind: dict[str, Node], dataset: DemoDataset, claim: str
) -> None:
    chl = blind["CHL"]
    found = open_round(blind, listed(dataset, "CHL-WL-0012"))
    (real,) = read_reply(found.keys, (found.answer.blocks or {})[found.probe_ref]).hits
    choices: dict[str, dict[str, tuple[int, ...]]] = {
        "decoy": {found.probe_ref: (_decoy(blind, found),)},
        "out of range": {found.probe_ref: (1 << 20,)},
        "too many": {found.probe_ref: tuple(range(found.answer.max_hits + 1))},
        "twice": {found.probe_ref: (real, real)},
        "other probe": {"PRB-other": (real,)},
    }
    slots = choices[claim]
    before = references(chl)
    with pytest.raises(RemoteRefusal) as refused:
        found.reveal(slots)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert references(chl) == before
    entry = last(chl, "identify.reveal_received")
    assert entry.outcome == "rejected" and entry.detail["reason"]
    strikes, _held = chl.extraction.standing("PAN", chl.today())
    assert strikes == 1


def test_three_false_claims_hold_step1_for_the_day(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = blind["CHL"]
    for _ in range(3):
        found = open_round(blind, listed(dataset, "CHL-WL-0015"))
        with pytest.raises(RemoteRefusal):
            found.reveal({found.probe_ref: (_decoy(blind, found),)})
    assert any(a.kind.value == "EXTRACTION_SUSPECTED" for a in chl.alerts.list())
    with pytest.raises(PartnerUnavailable):  # RESOURCE_EXHAUSTED: held until midnight UTC
        open_round(blind, listed(dataset, "CHL-WL-0015"))


def test_each_mode_refuses_the_other(
    tmp_path: Path, dataset: DemoDataset, blind: dict[str, Node]
) -> None:
    pan, chl = blind["PAN"], blind["CHL"]
    link = pan.link("CHL")
    template = listed(dataset, "CHL-WL-0012")
    query = IdentifyQuery(
        link.purpose.value,
        (ProbeIn("PRB-9", template, link.policy.scope_rule(link.purpose), COMMITMENT),),
        3,
    )
    envelope = seal(
        link.envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=pan.clock(),
    )
    with pytest.raises(ExchangeError) as refused:
        handlers(chl, "PAN").handle(IDENTIFY, envelope)
    assert status_for(refused.value)[0] == grpc.StatusCode.PERMISSION_DENIED
    assert "step 1 is blind" in last(chl, "identify.received").detail["reason"]
    plain = open_pair(tmp_path / "plain", dataset, Step1Mode.PLAIN)
    try:
        with pytest.raises(RemoteRefusal):
            open_round(plain, template)
    finally:
        for node in plain.values():
            node.database.close()


def test_a_malformed_ciphertext_in_a_valid_envelope_is_refused_and_audited(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = blind["PAN"], blind["CHL"]
    link = pan.link("CHL")
    keys = SecretContext()
    encrypted = encrypt_probe(keys, listed(dataset, "CHL-WL-0012"))
    broken = dataclasses.replace(
        encrypted, template=encrypted.template[: len(encrypted.template) // 2]
    )
    probe = BlindProbeIn("PRB-1", link.policy.scope_rule(link.purpose), COMMITMENT, broken)
    body = blind_request_to_bytes(
        BlindQuery(link.purpose.value, 3, keys.digest, keys.blob, (probe,))
    )
    envelope = seal(link.envelope, pb.MESSAGE_TYPE_BLIND_IDENTIFY_REQUEST, body, now_ms=pan.clock())
    with pytest.raises(ExchangeError) as refused:
        handlers(chl, "PAN").handle(BLIND_IDENTIFY, envelope)
    assert status_for(refused.value)[0] == grpc.StatusCode.INVALID_ARGUMENT
    entry = last(chl, "identify.received")
    assert entry.outcome == "rejected" and "encrypted_template" in entry.detail["reason"]


def test_a_holder_that_lost_the_context_asks_for_it_again(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = blind["PAN"], blind["CHL"]
    services = Services.of(chl)
    worker = make_worker(pan, transport=in_memory(chl, "PAN", services))
    first, second = encounter(dataset, "PAN-ENC-0003"), encounter(dataset, "PAN-ENC-0004")
    enrol(pan, first)
    worker.run_once()
    blind_holder(chl.link("PAN"), services)._contexts.clear()  # as after a restart
    enrol(pan, second)
    worker.run_once()
    replies = [e for e in chl.audit.entries() if e.event == "identify.reply_sent"]
    assert [bool(e.detail.get("context_required")) for e in replies] == [False, True, False]
    assert {i.state for i in pan.outbox.items(second.encounter_id)} <= {
        OutboxState.DONE,
        OutboxState.OUT_OF_SCOPE,
    }


def test_a_decision_inside_the_margin_is_counted_never_claimed(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = blind["PAN"]
    on_edge = listed(dataset, "CHL-WL-0012").astype(np.float64)
    on_edge[0] += 0.6  # the holder's threshold, to float32 rounding
    enrol(
        pan,
        dataclasses.replace(
            encounter(dataset, "PAN-ENC-0003"), template=on_edge.astype(np.float32)
        ),
    )
    make_worker(pan, blind["CHL"]).run_once()
    assert last(pan, "identify.reveal_sent").detail["undecided"] == 1
    assert not pan.alerts.partner_hits("CHL")


def test_the_daily_probe_quota_holds_blind_probes_before_any_evaluation(
    blind: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = blind["CHL"]
    amend(blind, lambda terms: terms["quotas"].update(probes_per_day=1))
    open_round(blind, listed(dataset, "CHL-WL-0012"))
    with pytest.raises(PartnerUnavailable, match="RESOURCE_EXHAUSTED"):
        open_round(blind, listed(dataset, "CHL-WL-0015"))
    refused = last(chl, "identify.received")
    assert refused.outcome == "rejected" and "quota" in refused.detail["reason"]
