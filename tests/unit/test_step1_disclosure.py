"""Step 1 discloses hit/no-hit: protected subjects, bands, sightings, opened commitments."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from biometric_exchange.agreement import AgreementDocument
from biometric_exchange.domain import LegalStatus, RecordDigest, Template
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.rpc import IDENTIFY, REPORT_SIGHTINGS
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.scope_audit import open_request
from biometric_exchange.node.send.round_trip import round_trip
from biometric_exchange.node.send.sightings import report_sightings
from biometric_exchange.serde.identify import (
    IdentifyQuery,
    identify_request_to_bytes,
    identify_response_from_bytes,
)
from biometric_exchange.serde.sightings import Sighting
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.store.audit.reconcile import reconcile
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.dataset import GroundTruth as GroundTruthCase
from tests.probes import planted_template, probe, recaptured
from tests.wiring import amend, in_memory, worker


def _case(dataset: DemoDataset) -> GroundTruthCase:
    return next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )


def _listed(nodes: dict[str, Node], dataset: DemoDataset, **person: Any) -> GroundTruthCase:
    """Chile's watchlist entry of the first planted case, its subject changed."""
    case = _case(dataset)
    chl = nodes["CHL"]
    entry = next(e for e in dataset.watchlists["CHL"] if e.entry_id == case.watchlist_entry_id)
    changed = dataclasses.replace(entry, person=dataclasses.replace(entry.person, **person))
    chl.database.connection.execute("DELETE FROM watchlist WHERE entry_id = ?", (entry.entry_id,))
    chl.records.add_watchlist([changed])
    return case


def _exchange(nodes: dict[str, Node], dataset: DemoDataset, case: GroundTruthCase) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(pan, encounter)
    worker(pan, chl).run_once()


def _last(node: Node, event: str) -> AuditEntry:
    return [e for e in node.audit.entries() if e.event == event][-1]


def _amend(nodes: dict[str, Node], **step1: Any) -> AgreementDocument:
    """Both nodes under terms with ``step1`` and a protection purpose."""

    def change(terms: dict[str, Any]) -> None:
        terms["step1"].update(step1)
        terms["purposes"] = ["border_security", "humanitarian_protection"]
        terms["step2"]["fields"] = {}

    return amend(nodes, change)


@pytest.mark.parametrize(
    "person",
    [
        {"legal_status": LegalStatus.REFUGEE},
        {"legal_status": LegalStatus.ASYLUM_SEEKER},
        {"nationality": "XXB"},
        {"nationality": "XXC"},
        {"unaccompanied_minor": True},
    ],
)
def test_a_hit_on_our_protected_subject_is_not_reported_for_enforcement(
    nodes: dict[str, Node], dataset: DemoDataset, person: dict[str, Any]
) -> None:
    case = _listed(nodes, dataset, **person)
    _exchange(nodes, dataset, case)
    pan, chl = nodes["PAN"], nodes["CHL"]
    assert pan.alerts.partner_hits("CHL") == []
    reply = _last(chl, "identify.reply_sent")
    assert reply.detail["hits"] == 0
    assert reply.detail["withheld_protected"] == 1


def test_a_hit_on_our_protected_subject_is_reported_for_a_protection_purpose(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    case = _listed(nodes, dataset, legal_status=LegalStatus.REFUGEE)
    document = _amend(nodes)
    pan, chl = nodes["PAN"], nodes["CHL"]
    config = pan.node_dir / "node.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[exchange]\npurpose = "humanitarian_protection"\n',
        encoding="utf-8",
    )
    reopened = Node.open(pan.node_dir)
    reopened.adopt(document)
    try:
        nodes["PAN"] = reopened
        _exchange(nodes, dataset, case)
        assert len(reopened.alerts.partner_hits("CHL")) == 1
        assert _last(chl, "identify.received").detail["scope_rules"] == {"protection": 1}
    finally:
        reopened.database.close()


def test_a_banded_agreement_names_the_band_and_nothing_finer(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    _amend(nodes, confidence="banded")
    case = _case(dataset)
    _exchange(nodes, dataset, case)
    (hit,) = nodes["PAN"].alerts.partner_hits("CHL")
    (evidence,) = hit.evidence
    assert evidence["confidence"] in {"strong", "probable", "possible"}
    assert evidence["distance"] is None


def test_sightings_are_recorded_once_and_only_for_the_callers_valid_references(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    case = _case(dataset)
    _exchange(nodes, dataset, case)
    pan, chl = nodes["PAN"], nodes["CHL"]
    (hit,) = pan.alerts.partner_hits("CHL")
    assert hit.hit_reference
    recorded = _last(chl, "sightings.reply_sent")
    assert (recorded.detail["recorded"], recorded.detail["ignored"]) == (1, 0)
    link = pan.link("CHL")
    transport = in_memory(chl, "PAN")
    now = dt.datetime.now(dt.UTC)
    again = Sighting(hit.hit_reference, "PAN-ELSEWHERE", now)
    unknown = Sighting("HIT-not-issued", "PAN-ELSEWHERE", now)
    assert report_sightings(link, transport, [again, unknown]) == 0
    (alert,) = [a for a in chl.alerts.list() if a.watchlist_entry_id == case.watchlist_entry_id]
    points = [e["encounter_point"] for e in alert.evidence if e["key"].endswith(":sighting")]
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    assert points == [encounter.border_point], "the first report stands"
    assert REPORT_SIGHTINGS.sealed.received.value == "sightings.received"


def test_an_auditor_can_open_every_commitment_of_a_request(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    case = _case(dataset)
    _exchange(nodes, dataset, case)
    pan, chl = nodes["PAN"], nodes["CHL"]
    sent = _last(pan, "identify.sent")
    assert sent.message_id is not None
    received = _last(chl, "identify.received")
    assert received.detail["commitments"] == sent.detail["commitments"]
    opened = open_request(pan, sent.message_id)
    assert opened.compliant
    (probe,) = opened.probes
    assert probe.opening is not None and probe.opening.facts.nationality != ""

    pan.database.connection.execute(
        "UPDATE scope_openings SET facts = replace(facts, '\"age_years\":', '\"age_years\":1')"
    )
    tampered = open_request(pan, sent.message_id)
    assert not tampered.compliant and not tampered.probes[0].commitment_holds


def test_reconciliation_flags_commitments_recorded_differently() -> None:
    ours = [RecordDigest("m1", "identify.sent", "accepted", 1, "aa" * 32)]
    same = [RecordDigest("m1", "identify.received", "accepted", 2, "aa" * 32)]
    other = [RecordDigest("m1", "identify.received", "accepted", 2, "bb" * 32)]
    assert reconcile(ours, same).consistent
    result = reconcile(ours, other)
    assert not result.consistent and result.commitments_differ == [(ours[0], other[0])]


def test_a_reused_probe_reference_links_nothing_while_a_retry_keeps_its_reference(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    """A retry (same reference, same template) gets the reference it was given; the
    same probe reference on another capture of the face gets an unrelated one."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    link, transport = pan.link("CHL"), in_memory(chl, "PAN")
    template = planted_template(dataset)

    def reference_for(sent: Template) -> str:
        query = IdentifyQuery("border_security", (probe("reused", sent),), 1)
        results = round_trip(
            link,
            transport,
            IDENTIFY,
            identify_request_to_bytes(query),
            identify_response_from_bytes,
            sent={},
        )
        (hit,) = results["reused"]
        return hit.hit_reference

    first = reference_for(template)
    assert reference_for(template) == first
    other = reference_for(recaptured(template, 4))
    assert other != first
    assert chl.hit_references.entry_for("PAN", other) is not None
