"""Each term of the agreement enforced on both sides, each refusal audited.

The sending side refuses locally (nothing leaves; the outbox item is held or
marked out of scope; an audit entry says why). The receiving side checks
again on a request that bypassed the sender's checks and refuses with the
gRPC status of the table in node/status.py, auditing the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from biometric_exchange.agreement import AgreementDocument, Purpose, Terms
from biometric_exchange.agreement.commitment import (
    ScopeOpening,
    commit,
    commitments_digest,
    rule_violation,
)
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.agreement.terms import ProtectedCategory, ScopeRule
from biometric_exchange.crypto.envelope import EnvelopeContext, seal
from biometric_exchange.crypto.keys import encode_public, key_id
from biometric_exchange.domain import Encounter, LegalStatus
from biometric_exchange.exceptions import ConfigError, ExchangeError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.status import status_for
from biometric_exchange.regions import is_extra_regional
from biometric_exchange.serde.identify import IdentifyQuery, ProbeIn, identify_request_to_bytes
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.wiring import amend, handlers, worker

DAY_MS = 24 * 60 * 60 * 1000
EXTRA_REGIONAL_ADULT = ScopeFacts("CHN", 30, None)


# --- helpers ------------------------------------------------------------------


def handler(chl: Node) -> PartnerHandlers:
    """CHL's handlers for PAN's calls."""
    return handlers(chl, "PAN")


def identify(chl: Node, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
    return handler(chl).handle(IDENTIFY, envelope)


def request(
    pan: Node,
    dataset: DemoDataset,
    *,
    purpose: str = "border_security",
    facts: ScopeFacts = EXTRA_REGIONAL_ADULT,
    probes: int = 1,
    context: EnvelopeContext | None = None,
    openings: list[ScopeOpening] | None = None,
) -> pb.SealedEnvelope:
    """A sealed Identify from PAN that skipped PAN's own checks. Each probe states the
    rule a sender holding ``facts`` would apply (protection for a protected person,
    else standard), whatever the purpose; ``openings`` collects what opens them."""
    encounters = dataset.encounters["PAN"][:probes]
    rule = ScopeRule.PROTECTION if facts.protected_category else ScopeRule.STANDARD
    made = [
        commit(f"probe-{i}", rule, facts, e.border_point, int(e.encountered_at.timestamp() * 1000))
        for i, e in enumerate(encounters)
    ]
    if openings is not None:
        openings.extend(made)
    query = IdentifyQuery(
        purpose,
        tuple(
            ProbeIn(o.probe_ref, e.template, rule, o.commitment)
            for o, e in zip(made, encounters, strict=True)
        ),
        3,
    )
    return seal(
        context or pan.link("CHL").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=pan.clock(),
    )


def refused_by_holder(chl: Node, envelope: pb.SealedEnvelope) -> tuple[grpc.StatusCode, str]:
    """Call CHL's handler; return the status code and the reason CHL audited."""
    with pytest.raises(ExchangeError) as raised:
        identify(chl, envelope)
    code, _public = status_for(raised.value)
    last = last_entry(chl, "identify.received")
    assert last.outcome == "rejected"
    return code, str(last.detail["reason"])


def last_entry(node: Node, event: str) -> AuditEntry:
    entries = [e for e in node.audit.entries() if e.event == event]
    assert entries, f"no {event} entry"
    return entries[-1]


def sender_refusal(pan: Node) -> AuditEntry:
    entry = last_entry(pan, "identify.sent")
    assert entry.outcome == "rejected"
    assert entry.detail["decided_by"] == "sender"
    return entry


def enrol_planted(pan: Node, dataset: DemoDataset, **person_changes: Any) -> Encounter:
    """Enrol PAN's first planted extra-regional hit on CHL's watchlist."""
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    if person_changes:
        person = dataclasses.replace(encounter.person, **person_changes)
        encounter = dataclasses.replace(encounter, person=person)
    enrol(pan, encounter)
    return encounter


def state(node: Node, encounter: Encounter) -> OutboxState:
    item = node.outbox.get(encounter.encounter_id)
    assert item is not None
    return item.state


def probes_received(chl: Node) -> int:
    return sum(
        e.detail.get("probes", 0)
        for e in chl.audit.entries()
        if e.event == "identify.received" and e.outcome == "accepted"
    )


# --- purpose ----------------------------------------------------------------------


def _enforcement_purposes_only(terms: dict[str, Any]) -> None:
    terms["purposes"] = ["anti_trafficking", "anti_smuggling"]
    terms["step2"]["fields"] = {}


def test_wrong_purpose_is_refused_by_the_sender(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    amend(nodes, _enforcement_purposes_only)
    encounter = enrol_planted(pan, dataset)
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.PENDING  # held, not lost
    assert "purpose 'border_security' is not allowed" in sender_refusal(pan).detail["reason"]
    assert probes_received(chl) == 0


def test_wrong_purpose_is_refused_by_the_holder(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    code, reason = refused_by_holder(
        nodes["CHL"], request(nodes["PAN"], dataset, purpose="tourism")
    )
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert reason == "purpose 'tourism' is not allowed by the agreement"


def test_node_refuses_to_start_with_a_purpose_the_agreement_lacks(
    pair_dirs: tuple[Any, Any],
) -> None:
    panama = pair_dirs[1]
    config = (panama / "node.toml").read_text(encoding="utf-8")
    (panama / "node.toml").write_text(
        config + '\n[exchange]\npurpose = "tourism"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"exchange\.purpose"):
        Node.open(panama)


# --- scope ------------------------------------------------------------------------


def _accepted_and_exposed_by_opening(
    nodes: dict[str, Node], dataset: DemoDataset, facts: ScopeFacts
) -> str | None:
    """A forged standard-rule probe about ``facts``: the holder cannot see the facts
    and answers; the commitment it recorded, once opened, names the breach."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    openings: list[ScopeOpening] = []
    identify(chl, request(pan, dataset, facts=facts, openings=openings))
    received = last_entry(chl, "identify.received")
    assert received.outcome == "accepted"
    assert received.detail["scope_rules"] == {"standard": 1}
    (opening,) = openings
    assert received.detail["commitments"] == commitments_digest([opening.commitment])
    return rule_violation(chl.link("PAN").policy, opening, Purpose.BORDER_SECURITY)


def test_regional_record_is_not_sent_and_a_forged_probe_is_exposed_by_its_opening(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = enrol_planted(pan, dataset, nationality="VEN")
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.OUT_OF_SCOPE
    refusal = sender_refusal(pan)
    assert refusal.detail["encounter_id"] == encounter.encounter_id
    assert refusal.detail["reason"] == "out of scope: nationality within the Americas"

    breach = _accepted_and_exposed_by_opening(nodes, dataset, ScopeFacts("VEN", 30, None))
    assert breach == "out of scope: nationality within the Americas"
    assert _accepted_and_exposed_by_opening(nodes, dataset, EXTRA_REGIONAL_ADULT) is None


def test_minimum_age_is_enforced_by_the_sender_and_a_breach_exposed_by_its_opening(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    amend(nodes, lambda t: t["scope"].update(minimum_age=18))
    encounter = enrol_planted(
        pan, dataset, birth_date=dt.date.today() - dt.timedelta(days=365 * 10)
    )
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.OUT_OF_SCOPE
    assert sender_refusal(pan).detail["reason"] == "out of scope: younger than 18"

    breach = _accepted_and_exposed_by_opening(nodes, dataset, ScopeFacts("CHN", 12, None))
    assert breach == "out of scope: younger than 18"


@pytest.mark.parametrize(
    ("changes", "category"),
    [
        ({"legal_status": LegalStatus.ASYLUM_SEEKER}, "asylum_seeker"),
        ({"legal_status": LegalStatus.REFUGEE}, "refugee"),
        ({"nationality": "XXB"}, "refugee"),
        ({"nationality": "XXC"}, "refugee"),
        (
            {
                "unaccompanied_minor": True,
                "birth_date": dt.date.today() - dt.timedelta(days=365 * 15),
            },
            "unaccompanied_minor",
        ),
    ],
)
def test_protected_records_are_refused_on_both_sides_for_enforcement_purposes(
    nodes: dict[str, Node], dataset: DemoDataset, changes: dict[str, Any], category: str
) -> None:
    """The sender does not send; a probe stated under the protection rule for an
    enforcement purpose is refused by the holder, PERMISSION_DENIED, audited; a
    protected person sent under the standard rule is exposed by its opening."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = enrol_planted(pan, dataset, **changes)
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.OUT_OF_SCOPE
    assert sender_refusal(pan).detail["reason"].startswith(f"protected category {category}")

    facts = ScopeFacts("CHN", 15, ProtectedCategory(category))
    code, reason = refused_by_holder(chl, request(pan, dataset, facts=facts))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert reason == (
        "probes[0]: scope rule 'protection' (protected categories) is only for "
        "humanitarian_protection, missing_persons"
    )
    opening = commit("p", ScopeRule.STANDARD, facts, "PAN-POINT", 0)
    breach = rule_violation(chl.link("PAN").policy, opening, Purpose.BORDER_SECURITY)
    assert breach == f"rule 'standard' stated for a person in protected category {category}"


def test_protected_record_may_be_exchanged_for_a_protection_purpose(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    facts = ScopeFacts("CHN", 15, ProtectedCategory.UNACCOMPANIED_MINOR)
    reply = identify(chl, request(pan, dataset, purpose=Purpose.MISSING_PERSONS.value, facts=facts))
    assert reply.ciphertext
    received = last_entry(chl, "identify.received")
    assert received.outcome == "accepted"
    assert received.detail["scope_rules"] == {"protection": 1}


# --- quota ------------------------------------------------------------------------


def test_daily_probe_quota_holds_the_excess_at_the_sender(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    amend(nodes, lambda t: t["quotas"].update(probes_per_day=2))
    extra_regional = [
        e for e in dataset.encounters["PAN"] if is_extra_regional(e.person.nationality)
    ][:3]
    for encounter in extra_regional:
        enrol(pan, encounter)
    worker(pan, chl).run_once()
    states = [state(pan, e) for e in extra_regional]
    assert states.count(OutboxState.DONE) == 2
    assert states.count(OutboxState.PENDING) == 1
    reason = sender_refusal(pan).detail["reason"]
    assert reason == "daily quota probes_sent for CHL: 2 of 2 used, 1 more asked"
    assert not pan.outbox.due(), "held until the next UTC day"
    assert probes_received(chl) == 2


def test_daily_probe_quota_is_enforced_by_the_holder(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    amend(nodes, lambda t: t["quotas"].update(probes_per_day=2))
    identify(chl, request(pan, dataset, probes=2))
    code, reason = refused_by_holder(chl, request(pan, dataset, probes=1))
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert reason == "daily quota probes_received for PAN: 2 of 2 used, 1 more asked"


# --- validity, hash, revocation -------------------------------------------------------


@pytest.mark.parametrize(
    ("offset_days", "message"), [(400, "expired on"), (-2, "not yet in force")]
)
def test_agreement_out_of_force_is_refused_on_both_sides(
    nodes: dict[str, Node], dataset: DemoDataset, offset_days: int, message: str
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = enrol_planted(pan, dataset)
    shifted = pan.clock() + offset_days * DAY_MS
    pan.clock = lambda: shifted
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.PENDING
    assert message in sender_refusal(pan).detail["reason"]

    envelope = request(pan, dataset)  # sealed at the shifted time...
    chl.clock = lambda: shifted  # ...and received on the same day
    code, reason = refused_by_holder(chl, envelope)
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert message in reason


def test_partner_with_another_agreement_is_not_sent_to(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    ours = pan.link("CHL").agreement
    amend(nodes, lambda t: t.update(title="Amended by one side"))
    pan.adopt(ours)  # PAN still holds the old one
    encounter = enrol_planted(pan, dataset)
    worker(pan, chl).run_once()
    assert state(pan, encounter) is OutboxState.PENDING
    assert sender_refusal(pan).detail["reason"] == "the partner holds a different agreement (Ping)"

    code, reason = refused_by_holder(chl, request(pan, dataset))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert reason == "agreement hash differs from ours"


def test_envelope_signed_with_a_revoked_key_is_refused(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    old_key = pan.keys.signing_key
    new_key = Ed25519PrivateKey.generate()

    def rotate(terms: dict[str, Any]) -> None:
        terms["revoked_keys"] = [key_id(old_key.public_key())]

    raw = chl.link("PAN").agreement.model_dump(mode="json")
    rotate(raw["agreement"])
    raw["parties"][1]["signing_key"] = encode_public(new_key.public_key())
    raw["signatures"] = {}
    rotated = (
        AgreementDocument.model_validate(raw)
        .signed_by("CHL", chl.keys.signing_key)
        .signed_by("PAN", new_key)
    )
    chl.adopt(rotated)
    stale_context = dataclasses.replace(
        pan.link("CHL").envelope, agreement_hash=rotated.hash
    )  # PAN still signs with the revoked key
    code, reason = refused_by_holder(chl, request(pan, dataset, context=stale_context))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "is revoked by the agreement" in reason


def test_agreement_revoking_a_pinned_key_does_not_load(nodes: dict[str, Node]) -> None:
    chl = nodes["CHL"]
    raw = chl.link("PAN").agreement.model_dump(mode="json")
    raw["agreement"]["revoked_keys"] = [key_id(chl.keys.signing_public)]
    with pytest.raises(ValueError, match="party CHL: signing_key is on the revocation list"):
        AgreementDocument.model_validate(raw)


def test_terms_reject_step2_fields_for_a_purpose_not_allowed() -> None:
    with pytest.raises(ValueError, match=r"step2\.fields names purposes not allowed"):
        Terms.model_validate(
            {
                "id": "CHL-PAN-1",
                "version": 1,
                "title": "t",
                "effective_from": "2026-01-01",
                "effective_until": "2027-01-01",
                "purposes": ["border_security"],
            }
        )
