"""Step 2 without sockets: PAN asks CHL for details about hit references it really got."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from typer.testing import CliRunner

from biometric_exchange import agreement
from biometric_exchange.agreement.terms import Approval, QuotaTerms, Step2Terms
from biometric_exchange.alerts.rules import RuleContext, watchlist_hit
from biometric_exchange.cli.details import sla_clock
from biometric_exchange.cli.main import app
from biometric_exchange.config import AGREEMENT_FILENAME
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.domain import RequestStatus, WatchlistEntry
from biometric_exchange.exceptions import (
    AgreementRefusal,
    InvalidInput,
    QuotaExceeded,
)
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.link import Link
from biometric_exchange.node.rpc import REQUEST_DETAILS
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import poll_pending, reask_interval, request_details
from biometric_exchange.node.serve import PartnerHandlers
from biometric_exchange.node.serve.details import approve, deny
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.node.status import RemoteRefusal, status_for
from biometric_exchange.serde.details import (
    DetailsQuery,
    details_request_from_bytes,
    details_request_to_bytes,
)
from biometric_exchange.store.audit import AuditEntry, AuditEvent, AuditOutcome
from biometric_exchange.store.details import ReceivedRequests, SentRequest, SentRequests
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import party_for
from tests.wiring import Unreachable, handlers, worker

JUSTIFICATION = "Subject matched at the Darien crossing; identity needed for the case file."
MISSING_PERSONS_KEYS = {
    "given_name",
    "family_name",
    "birth_date",
    "nationality",
    "recorded_by",
    "recorded_on",
}


@dataclass
class Pair:
    chl: Node
    pan: Node
    transport: InMemoryPeerTransport
    holder: PartnerHandlers
    """CHL's handlers for PAN's calls (``transport`` calls them)."""
    references: list[str]
    """Hit references PAN received from CHL, from a real step 1."""
    dataset: DemoDataset

    @property
    def link(self) -> Link:
        """PAN's link to CHL."""
        return self.pan.link("CHL")

    @property
    def held(self) -> Link:
        """CHL's link to PAN."""
        return self.chl.link("PAN")

    def details(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        """Call CHL's step-2 handler directly (no status mapping)."""
        return self.holder.handle(REQUEST_DETAILS, envelope)

    def call(self, envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
        """RequestDetails through the in-process transport (errors as statuses)."""
        return self.transport.call(REQUEST_DETAILS, envelope, timeout=1)

    def entry(self, reference: str) -> WatchlistEntry:
        found = self.chl.hit_references.get(reference)
        assert found is not None
        return next(e for e in self.dataset.watchlists["CHL"] if e.entry_id == found.entry_id)

    def ask(self, reference: str | None = None, **changes: object) -> SentRequest:
        arguments: dict[str, object] = {
            "hit_reference": reference or self.references[0],
            "purpose": "missing_persons",
            "justification": JUSTIFICATION,
            "officer_id": "PAN-OFFICER-12",
            "fields": ["names", "birth_date", "nationality", "encounter_place_date"],
            **changes,
        }
        return request_details(self.link, self.transport, **arguments)  # type: ignore[arg-type]

    def bypass(self, **changes: object) -> pb.SealedEnvelope:
        """A sealed request from PAN that skips PAN's own checks."""
        query = DetailsQuery(
            request_id="DR-BYPASS-0001",
            hit_reference=self.references[0],
            purpose="missing_persons",
            justification=JUSTIFICATION,
            officer_id="PAN-OFFICER-12",
            fields=("names",),
        )
        query = dataclasses.replace(query, **changes)  # type: ignore[arg-type]
        body = details_request_to_bytes(query)
        return seal(
            self.link.envelope,
            pb.MESSAGE_TYPE_DETAILS_REQUEST,
            body,
            now_ms=self.pan.clock(),
        )


def _write_agreement(dirs: tuple[Path, Path], step2: Step2Terms, quotas: QuotaTerms) -> None:
    """Both parties re-sign an agreement with these step-2 terms and quotas."""
    parties = (party_for(dirs[0]), party_for(dirs[1]))
    document = agreement.draft(parties, today=dt.datetime.now(dt.UTC).date())
    terms = document.agreement.model_copy(update={"step2": step2, "quotas": quotas})
    document = document.model_copy(update={"agreement": terms})
    for node_dir, party in zip(dirs, parties, strict=True):
        document = document.signed_by(party.code, load_keys(node_dir).signing_key)
    for node_dir in dirs:
        (node_dir / AGREEMENT_FILENAME).write_text(agreement.dumps(document), encoding="utf-8")


@pytest.fixture
def make_pair(pair_dirs: tuple[Path, Path], dataset: DemoDataset) -> Iterator[Callable[..., Pair]]:
    opened: list[Node] = []

    def make(approval: Approval = Approval.MANUAL, detail_requests_per_day: int = 500) -> Pair:
        _write_agreement(
            pair_dirs,
            Step2Terms(approval=approval),
            QuotaTerms(detail_requests_per_day=detail_requests_per_day),
        )
        chl, pan = Node.open(pair_dirs[0]), Node.open(pair_dirs[1])
        opened.extend((chl, pan))
        chl.records.add_watchlist(dataset.watchlists["CHL"])
        pan.records.add_watchlist(dataset.watchlists["PAN"])
        for encounter in dataset.encounters["PAN"]:
            enrol(pan, encounter)
        holder = handlers(chl, "PAN")
        transport = InMemoryPeerTransport(holder)
        worker(pan, chl, transport=transport).run_once()
        references = [a.hit_reference for a in pan.alerts.partner_hits("CHL") if a.hit_reference]
        assert len(references) == 2, "the dataset plants two PAN encounters on CHL's watchlist"
        return Pair(chl, pan, transport, holder, references, dataset)

    yield make
    for node in opened:
        node.database.close()


@pytest.fixture
def pair(make_pair: Callable[..., Pair]) -> Pair:
    """Manual approval, the agreement's default."""
    return make_pair()


def _audit(node: Node, event: AuditEvent, outcome: AuditOutcome) -> list[AuditEntry]:
    return [e for e in node.audit.entries() if e.event == event and e.outcome == outcome]


def _holder_refusal(pair: Pair) -> AuditEntry:
    (entry,) = _audit(pair.chl, AuditEvent.DETAILS_RECEIVED, AuditOutcome.REJECTED)
    assert entry.peer == "PAN"
    return entry


def _sender_refusal(pair: Pair) -> AuditEntry:
    (entry,) = _audit(pair.pan, AuditEvent.DETAILS_SENT, AuditOutcome.REJECTED)
    assert entry.detail["decided_by"] == "sender" and entry.message_id is None
    return entry


def _refused_remotely(pair: Pair, sent: SentRequest, code: grpc.StatusCode) -> AuditEntry:
    """Stored refused with the code on PAN, audited on both sides; returns CHL's entry."""
    assert sent.status is RequestStatus.REFUSED
    assert sent.reason is not None and sent.reason.startswith(code.name)
    stored = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert stored is not None and stored.status is RequestStatus.REFUSED and not stored.disclosed
    (received,) = _audit(pair.pan, AuditEvent.DETAILS_REPLY_RECEIVED, AuditOutcome.REJECTED)
    assert code.name in received.detail["reason"]
    assert ReceivedRequests(pair.chl.database).get("PAN", sent.request_id) is None
    return _holder_refusal(pair)


# --- decisions ---------------------------------------------------------------------------


def test_automatic_approval_discloses_exactly_the_fields_allowed_for_the_purpose(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair(Approval.AUTOMATIC)
    reference = pair.references[0]

    sent = pair.ask(reference)

    assert sent.status is RequestStatus.APPROVED
    assert set(sent.disclosed) == MISSING_PERSONS_KEYS
    person = pair.entry(reference).person
    assert sent.disclosed["given_name"] == person.given_name
    assert sent.disclosed["family_name"] == person.family_name
    assert sent.disclosed["birth_date"] == person.birth_date.isoformat()
    assert sent.disclosed["nationality"] == person.nationality
    assert sent.disclosed["recorded_by"] == "CHL"
    dt.date.fromisoformat(sent.disclosed["recorded_on"])
    assert "document_number" not in sent.disclosed and "watchlist_category" not in sent.disclosed
    stored = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert stored is not None
    assert dataclasses.replace(stored, updated_at=None) == dataclasses.replace(
        sent, updated_at=None
    )

    held = ReceivedRequests(pair.chl.database).get("PAN", sent.request_id)
    assert held is not None and held.status is RequestStatus.APPROVED
    assert held.decided_by == "automatic" and held.entry_id == pair.entry(reference).entry_id
    (accepted,) = _audit(pair.chl, AuditEvent.DETAILS_RECEIVED, AuditOutcome.ACCEPTED)
    assert accepted.detail["decision"] == "approved"
    assert accepted.detail["officer"] == "PAN-OFFICER-12"
    assert accepted.detail["purpose"] == "missing_persons"
    assert len(_audit(pair.chl, AuditEvent.DETAILS_REPLY_SENT, AuditOutcome.ACCEPTED)) == 1
    assert len(_audit(pair.pan, AuditEvent.DETAILS_SENT, AuditOutcome.ACCEPTED)) == 1
    assert len(_audit(pair.pan, AuditEvent.DETAILS_REPLY_RECEIVED, AuditOutcome.ACCEPTED)) == 1
    # The audit logs name fields, never their values.
    for node in (pair.pan, pair.chl):
        assert person.family_name not in str([e.detail for e in node.audit.entries()])
        assert node.audit.verify() > 0


def test_border_security_gets_only_its_three_fields(make_pair: Callable[..., Pair]) -> None:
    pair = make_pair(Approval.AUTOMATIC)
    sent = pair.ask(
        purpose="border_security",
        fields=["nationality", "watchlist_category", "encounter_place_date"],
    )
    entry = pair.entry(pair.references[0])
    assert sent.disclosed == {
        "nationality": entry.person.nationality,
        "watchlist_category": entry.category.value,
        "recorded_by": "CHL",
        "recorded_on": sent.disclosed["recorded_on"],
    }


def test_manual_approval_reaches_the_requester_when_it_asks_again(pair: Pair) -> None:
    sent = pair.ask()
    assert sent.status is RequestStatus.PENDING and not sent.disclosed
    assert sent.due_at is not None
    assert 47 * 3600 < (sent.due_at - dt.datetime.now(dt.UTC)).total_seconds() <= 48 * 3600
    (queued,) = ReceivedRequests(pair.chl.database).queue()
    assert queued.request_id == sent.request_id and queued.status is RequestStatus.PENDING
    assert queued.justification == JUSTIFICATION and queued.officer_id == "PAN-OFFICER-12"

    assert poll_pending(pair.link, pair.transport, due_only=False) == 1
    still = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert still is not None and still.status is RequestStatus.PENDING

    decided = approve(pair.held, sent.request_id, "CHL-OFFICER-3", "identity confirmed")
    assert decided.status is RequestStatus.APPROVED and decided.decided_by == "CHL-OFFICER-3"
    (decision,) = _audit(pair.chl, AuditEvent.DETAILS_DECIDED, AuditOutcome.ACCEPTED)
    assert decision.detail["officer"] == "CHL-OFFICER-3"
    assert decision.detail["decision"] == "approved"

    assert poll_pending(pair.link, pair.transport, due_only=False) == 1
    answered = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert answered is not None and answered.status is RequestStatus.APPROVED
    assert set(answered.disclosed) == MISSING_PERSONS_KEYS
    assert answered.disclosed["given_name"] == pair.entry(pair.references[0]).person.given_name
    assert poll_pending(pair.link, pair.transport, due_only=False) == 0, (
        "nothing is pending any more"
    )


def test_denial_reaches_the_requester_with_its_reason(pair: Pair) -> None:
    sent = pair.ask()
    deny(pair.held, sent.request_id, "CHL-OFFICER-3", "case closed by the prosecutor")
    poll_pending(pair.link, pair.transport, due_only=False)
    answered = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert answered is not None and answered.status is RequestStatus.DENIED
    assert answered.reason == "case closed by the prosecutor" and not answered.disclosed
    (decision,) = _audit(pair.chl, AuditEvent.DETAILS_DECIDED, AuditOutcome.ACCEPTED)
    assert decision.detail["decision"] == "denied"


def test_only_a_pending_request_can_be_decided(pair: Pair) -> None:
    sent = pair.ask()
    approve(pair.held, sent.request_id, "CHL-OFFICER-3")
    with pytest.raises(InvalidInput, match="is approved"):
        deny(pair.held, sent.request_id, "CHL-OFFICER-3", "too late")
    with pytest.raises(InvalidInput, match="is approved"):
        approve(pair.held, sent.request_id, "CHL-OFFICER-3")
    with pytest.raises(InvalidInput, match="no such request"):
        approve(pair.held, "DR-NOPE-0000", "CHL-OFFICER-3")
    with pytest.raises(InvalidInput, match="operator"):
        approve(pair.held, sent.request_id, " ")
    with pytest.raises(InvalidInput, match="reason"):
        deny(pair.held, sent.request_id, "CHL-OFFICER-3", "")
    assert len(_audit(pair.chl, AuditEvent.DETAILS_DECIDED, AuditOutcome.ACCEPTED)) == 1


def test_asking_again_answers_the_state_without_counting_quota(
    make_pair: Callable[..., Pair],
) -> None:
    pair = make_pair(detail_requests_per_day=1)
    sent = pair.ask()
    for _ in range(3):
        assert poll_pending(pair.link, pair.transport, due_only=False) == 1
    today = pair.chl.today()
    assert pair.chl.quotas.used(today, "PAN", QuotaKind.DETAILS_RECEIVED) == 1
    assert pair.pan.quotas.used(today, "PAN", QuotaKind.DETAILS_SENT) == 0
    assert pair.pan.quotas.used(today, "CHL", QuotaKind.DETAILS_SENT) == 1
    received = _audit(pair.chl, AuditEvent.DETAILS_RECEIVED, AuditOutcome.ACCEPTED)
    assert [e.detail["repeat"] for e in received] == [False, True, True, True]
    assert all(e.detail["request_id"] == sent.request_id for e in received)
    # Each ask is a new envelope: four message ids.
    assert len({e.message_id for e in received}) == 4

    # The same id for another request is malformed, not a re-ask.
    other = pair.bypass(request_id=sent.request_id, fields=("names",))
    with pytest.raises(RemoteRefusal) as refused:
        pair.call(other)
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT


# --- refusals, each on both sides ----------------------------------------------------------


def test_a_purpose_outside_the_agreement_is_refused_on_both_sides(pair: Pair) -> None:
    with pytest.raises(AgreementRefusal, match="purpose 'tax_collection'"):
        pair.ask(purpose="tax_collection")
    assert "tax_collection" in _sender_refusal(pair).detail["reason"]
    assert SentRequests(pair.pan.database, pair.pan.records.data_keys).list() == []
    assert not [e for e in pair.chl.audit.entries() if e.event.startswith("details.")]

    envelope = pair.bypass(purpose="tax_collection")
    with pytest.raises(AgreementRefusal) as refused:
        pair.details(envelope)
    assert status_for(refused.value)[0] is grpc.StatusCode.PERMISSION_DENIED
    assert "tax_collection" in _holder_refusal(pair).detail["reason"]


def test_a_field_not_allowed_for_the_purpose_is_refused_on_both_sides(pair: Pair) -> None:
    with pytest.raises(AgreementRefusal, match="'names' is not allowed"):
        pair.ask(purpose="border_security", fields=["nationality", "names"])
    assert "names" in _sender_refusal(pair).detail["reason"]

    envelope = pair.bypass(purpose="border_security", fields=("nationality", "names"))
    with pytest.raises(RemoteRefusal) as refused:
        pair.call(envelope)
    assert refused.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert "'names' is not allowed" in _holder_refusal(pair).detail["reason"]


def test_a_protected_record_is_disclosed_only_for_a_protection_purpose(pair: Pair) -> None:
    reference = pair.references[0]
    entry_id = pair.entry(reference).entry_id
    pair.chl.database.connection.execute(
        "UPDATE watchlist SET legal_status = 'refugee' WHERE entry_id = ?", (entry_id,)
    )
    sent = pair.ask(
        reference, purpose="border_security", fields=["nationality", "watchlist_category"]
    )
    refusal = _refused_remotely(pair, sent, grpc.StatusCode.PERMISSION_DENIED)
    assert "protected record (refugee)" in refusal.detail["reason"]

    allowed = pair.ask(reference, purpose="humanitarian_protection", fields=["names"])
    assert allowed.status is RequestStatus.PENDING


def test_the_daily_quota_is_enforced_on_both_sides(make_pair: Callable[..., Pair]) -> None:
    pair = make_pair(detail_requests_per_day=1)
    assert pair.ask().status is RequestStatus.PENDING
    with pytest.raises(QuotaExceeded):
        pair.ask(pair.references[1])
    assert "daily quota details_sent" in _sender_refusal(pair).detail["reason"]

    # A requester that does not count (here: its counter wiped) meets the holder's quota.
    pair.pan.database.connection.execute("DELETE FROM quota_usage WHERE kind = 'details_sent'")
    sent = pair.ask(pair.references[1])
    refusal = _refused_remotely(pair, sent, grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert "daily quota details_received" in refusal.detail["reason"]
    assert poll_pending(pair.link, pair.transport, due_only=False) == 1, (
        "a refused request is not asked again"
    )


def test_a_reference_of_another_party_or_unknown_is_refused_alike(pair: Pair) -> None:
    with pytest.raises(AgreementRefusal, match="was not received from CHL"):
        pair.ask("HIT-never-reported")
    _sender_refusal(pair)

    entry_id = pair.entry(pair.references[0]).entry_id
    pair.chl.database.connection.execute(
        "INSERT INTO hit_references (reference, entry_id, partner, probe_ref, created_at, "
        "expires_at) VALUES ('HIT-issued-to-mex', ?, 'MEX', 'probe', ?, ?)",
        (entry_id, dt.datetime.now(dt.UTC).isoformat(), "2999-01-01T00:00:00+00:00"),
    )
    encounter = pair.dataset.encounters["PAN"][0]
    reasons = []
    for reference in ("HIT-issued-to-mex", "HIT-unknown-to-chl"):
        pair.pan.alerts.raise_alert(
            watchlist_hit(
                encounter,
                context=RuleContext("AGR-TEST", "border_security", 0.6),
                category="arrest_warrant",
                distance=0.3,
                partner="CHL",
                hit_reference=reference,
            )
        )
        sent = pair.ask(reference)
        assert sent.status is RequestStatus.REFUSED
        assert sent.reason is not None and sent.reason.startswith("PERMISSION_DENIED")
        refusals = _audit(pair.chl, AuditEvent.DETAILS_RECEIVED, AuditOutcome.REJECTED)
        reasons.append(refusals[-1].detail["reason"])
    assert reasons == ["hit reference not valid for this party"] * 2, "no oracle"


def test_an_expired_reference_is_refused(pair: Pair) -> None:
    pair.chl.database.connection.execute(
        "UPDATE hit_references SET expires_at = '2001-01-01T00:00:00+00:00' WHERE reference = ?",
        (pair.references[0],),
    )
    sent = pair.ask()
    refusal = _refused_remotely(pair, sent, grpc.StatusCode.FAILED_PRECONDITION)
    assert "expired" in refusal.detail["reason"]


def test_a_malformed_request_is_refused_on_both_sides(pair: Pair) -> None:
    with pytest.raises(InvalidInput, match="justification"):
        pair.ask(justification="because")
    _sender_refusal(pair)
    envelope = pair.bypass(justification="because")
    with pytest.raises(RemoteRefusal) as refused:
        pair.call(envelope)
    assert refused.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "justification" in _holder_refusal(pair).detail["reason"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": "DR-1"}, "request_id"),
        ({"request_id": "DR-" + "X" * 62}, "request_id"),
        ({"request_id": "DR-\n-0001"}, "request_id"),
        ({"hit_reference": ""}, "hit_reference"),
        ({"officer_id": ""}, "officer_id"),
        ({"justification": "   short   "}, "justification"),
        ({"fields": ()}, "fields"),
        ({"fields": ("names", "x" * 65)}, "fields[1]"),
    ],
)
def test_request_form_is_checked_naming_the_field(change: dict[str, object], field: str) -> None:
    query = DetailsQuery(
        "DR-0000-0001", "HIT-x", "missing_persons", JUSTIFICATION, "O-1", ("names",)
    )
    body = details_request_to_bytes(dataclasses.replace(query, **change))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as error:
        details_request_from_bytes(body)
    assert str(error.value).startswith(f"{field}:")


def test_unreachable_partner_leaves_the_request_pending(pair: Pair) -> None:
    sent = request_details(
        pair.link,
        Unreachable(),
        hit_reference=pair.references[0],
        purpose="missing_persons",
        justification=JUSTIFICATION,
        officer_id="PAN-OFFICER-12",
        fields=["names"],
    )
    assert sent.status is RequestStatus.PENDING and sent.last_error
    assert len(_audit(pair.pan, AuditEvent.DETAILS_REPLY_RECEIVED, AuditOutcome.FAILED)) == 1
    assert poll_pending(pair.link, pair.transport, due_only=False) == 1
    answered = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert answered is not None and answered.status is RequestStatus.PENDING
    assert answered.last_error is None


# --- command line --------------------------------------------------------------------------


def test_sla_clock() -> None:
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert sla_clock(now + dt.timedelta(hours=47, minutes=59), now) == "due in 47 h"
    assert sla_clock(now - dt.timedelta(hours=2, minutes=10), now) == "overdue by 2 h"
    assert sla_clock(now + dt.timedelta(minutes=20), now) == "due in 20 min"


def test_operators_decide_from_the_command_line(
    pair: Pair, pair_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    chl_dir, pan_dir = pair_dirs
    runner = CliRunner()
    sent = pair.ask()
    listed = runner.invoke(app, ["requests", "list", "--node", str(chl_dir)])
    assert listed.exit_code == 0, listed.stderr
    assert sent.request_id in listed.stdout and "due in 47 h" in listed.stdout
    assert pair.entry(pair.references[0]).person.family_name not in listed.stdout

    monkeypatch.delenv("BX_OPERATOR", raising=False)
    refused = runner.invoke(app, ["requests", "approve", sent.request_id, "--node", str(chl_dir)])
    assert refused.exit_code == 2 and "--operator" in refused.stderr
    assert "error:" in refused.stderr and refused.stdout == ""

    monkeypatch.setenv("BX_OPERATOR", "CHL-OFFICER-3")
    unknown = runner.invoke(app, ["requests", "approve", "DR-NONE", "--node", str(chl_dir)])
    assert unknown.exit_code == 2 and "request 'DR-NONE': no such request" in unknown.stderr
    # A unique start of the id is enough.
    prefix = sent.request_id[:-4]
    approved = runner.invoke(app, ["requests", "approve", prefix, "--node", str(chl_dir)])
    assert approved.exit_code == 0, approved.stderr
    assert f"request {sent.request_id} from PAN approved by CHL-OFFICER-3" in approved.stdout
    rows = json.loads(
        runner.invoke(app, ["requests", "list", "-n", str(chl_dir), "--format", "json"]).stdout
    )
    assert [(r["request_id"], r["status"], r["decided_by"]) for r in rows] == [
        (sent.request_id, "approved", "CHL-OFFICER-3")
    ]
    again = runner.invoke(
        app, ["requests", "deny", sent.request_id, "--node", str(chl_dir), "--reason", "late"]
    )
    assert again.exit_code == 2 and "is approved" in again.stderr

    poll_pending(pair.link, pair.transport, due_only=False)
    details = runner.invoke(app, ["details", "list", "--node", str(pan_dir)])
    assert details.exit_code == 0, details.stderr
    assert "approved" in details.stdout
    assert pair.entry(pair.references[0]).person.family_name in details.stdout


def test_details_request_refuses_locally_from_the_command_line(
    pair: Pair, pair_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BX_OPERATOR", "PAN-OFFICER-12")
    result = CliRunner().invoke(
        app,
        [
            "details", "request", "--node", str(pair_dirs[1]),
            "--reference", pair.references[0], "--purpose", "border_security",
            "--justification", JUSTIFICATION, "--field", "names",
        ],
    )  # fmt: skip
    assert result.exit_code == 2 and result.stdout == ""
    assert "'names' is not allowed for purpose border_security" in " ".join(result.stderr.split())
    _sender_refusal(pair)


def test_pending_requests_are_asked_again_with_back_off(pair: Pair) -> None:
    sent = pair.ask()
    assert poll_pending(pair.link, pair.transport) == 0, "just asked: not due yet"
    start = pair.pan.clock()
    pair.pan.clock = lambda: start + 2_500
    assert poll_pending(pair.link, pair.transport) == 1, "due after the 2 s minimum"
    assert poll_pending(pair.link, pair.transport) == 0
    assert reask_interval(dt.timedelta(hours=1)) == dt.timedelta(minutes=5)
    assert reask_interval(dt.timedelta(seconds=50)) == dt.timedelta(seconds=5)
    stored = SentRequests(pair.pan.database, pair.pan.records.data_keys).get(sent.request_id)
    assert stored is not None and stored.status is RequestStatus.PENDING
