"""Step 2 over real sockets: PAN's running node learns CHL's manual approval by itself."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.domain import Alert, RequestStatus
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.send.details import request_details
from biometric_exchange.node.serve.details import approve
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.details import (
    ReceivedRequest,
    ReceivedRequests,
    SentRequest,
    SentRequests,
)
from biometric_exchange.synthetic import DemoDataset
from tests.integration.conftest import RunningPair, eventually

pytestmark = pytest.mark.integration


def test_manual_approval_reaches_the_running_requester(
    running_pair: RunningPair, dataset: DemoDataset
) -> None:
    chile, panama = running_pair.chile, running_pair.panama
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(panama, encounter)

    def partner_hit() -> Alert | None:
        alerts = panama.alerts.partner_hits("CHL")
        return next((a for a in alerts if a.encounter_id == case.encounter_id), None)

    hit = eventually(partner_hit)
    assert hit.hit_reference is not None
    transport = GrpcPeerTransport(panama.link("CHL"))
    try:
        sent = request_details(
            panama.link("CHL"),
            transport,
            hit_reference=hit.hit_reference,
            purpose="anti_trafficking",
            justification="Encounter at the Darien matches a CHL trafficking-network subject.",
            officer_id="PAN-OFFICER-12",
            fields=["names", "document_numbers"],
        )
    finally:
        transport.close()
    assert sent.status is RequestStatus.PENDING, sent.reason

    def queued() -> ReceivedRequest | None:
        return ReceivedRequests(chile.database).get("PAN", sent.request_id)

    assert eventually(queued).status is RequestStatus.PENDING
    approve(chile.link("PAN"), sent.request_id, "CHL-OFFICER-3", "identity confirmed")

    def answered() -> SentRequest | None:
        current = SentRequests(panama.database).get(sent.request_id)
        return current if current and current.status is not RequestStatus.PENDING else None

    final = eventually(answered, timeout=30)
    assert final.status is RequestStatus.APPROVED
    entry = next(e for e in dataset.watchlists["CHL"] if e.entry_id == case.watchlist_entry_id)
    assert final.disclosed == {
        "given_name": entry.person.given_name,
        "family_name": entry.person.family_name,
        "document_number": entry.person.document_number,
    }
    logs = b"".join(p.read_bytes() for p in running_pair.logs.glob("*.log"))
    assert sent.request_id.encode() in logs, "PAN's node logged the answer it got"
    for value in final.disclosed.values():
        assert value.encode() not in logs


def test_operators_ask_and_deny_from_the_command_line(
    running_pair: RunningPair, dataset: DemoDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    chile, panama = running_pair.chile, running_pair.panama
    case = [
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    ][1]
    enrol(panama, next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id))

    def partner_hit() -> Alert | None:
        alerts = panama.alerts.partner_hits("CHL")
        return next((a for a in alerts if a.encounter_id == case.encounter_id), None)

    reference = eventually(partner_hit).hit_reference
    assert reference is not None
    runner = CliRunner()
    monkeypatch.setenv("BX_OPERATOR", "PAN-OFFICER-12")
    asked = runner.invoke(
        app,
        [
            "details", "request", "--node", str(panama.node_dir), "--reference", reference,
            "--purpose", "border_security", "--field", "nationality",
            "--justification", "Routine check of a partner hit at Paso Canoas.",
        ],
    )  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    match = re.search(r"request (DR-[0-9A-F]{16}) pending at CHL, due in 4[78] h", asked.stdout)
    assert match, asked.stdout
    request_id = match.group(1)

    monkeypatch.setenv("BX_OPERATOR", "CHL-OFFICER-3")
    denied = runner.invoke(
        app,
        ["requests", "deny", request_id, "--node", str(chile.node_dir), "--reason", "no case"],
    )
    assert denied.exit_code == 0, denied.stderr

    def answered() -> SentRequest | None:
        current = SentRequests(panama.database).get(request_id)
        return current if current and current.status is not RequestStatus.PENDING else None

    final = eventually(answered, timeout=30)
    assert final.status is RequestStatus.DENIED and final.reason == "no case"
    listed = runner.invoke(app, ["details", "list", "--node", str(panama.node_dir)])
    assert listed.exit_code == 0 and request_id in listed.stdout and "denied" in listed.stdout
