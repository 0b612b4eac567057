"""Step 2 over real sockets: PAN's node learns CHL's manual approval by asking again.

Both nodes serve in this process where their agreement pins them (the CLI dials
those addresses); what PAN's running node does in its loop (work the outbox, ask
again about pending requests once their re-ask interval has passed) runs in the
test's thread, and the nodes' clock is moved on instead of waiting for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.domain import RequestStatus
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.send.details import MIN_REASK, poll_pending, request_details
from biometric_exchange.node.serve.details import approve
from biometric_exchange.store.details import ReceivedRequests, SentRequest, SentRequests
from biometric_exchange.synthetic import DemoDataset, GroundTruth
from tests.integration.conftest import ServedPair, node_logs, served_pair_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset) -> Iterator[ServedPair]:
    with served_pair_in(tmp_path_factory.mktemp("details"), dataset, pinned=True) as served:
        yield served


def _partner_hit_reference(pair: ServedPair, dataset: DemoDataset, case: GroundTruth) -> str:
    """Enrol the case's encounter at PAN, exchange, return CHL's hit reference."""
    panama = pair.panama
    enrol(panama, next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id))
    pair.exchange(panama)
    (hit,) = [a for a in panama.alerts.partner_hits("CHL") if a.encounter_id == case.encounter_id]
    assert hit.hit_reference is not None
    return hit.hit_reference


def _ask_again(pair: ServedPair) -> int:
    """PAN's node loop asking again about its pending requests that are due."""
    return poll_pending(pair.panama.link("CHL"), pair.transport(pair.panama, "CHL"))


def _asked_again_once_due(pair: ServedPair, request_id: str) -> SentRequest:
    """Once the re-ask interval has passed, PAN's node asks again and stores the answer."""
    pair.clock.advance(MIN_REASK.total_seconds())
    assert _ask_again(pair) == 1
    current = SentRequests(pair.panama.database, pair.panama.records.data_keys).get(request_id)
    assert current is not None
    return current


def _extra_regional_cases(dataset: DemoDataset) -> list[GroundTruth]:
    return [
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    ]


def test_manual_approval_reaches_the_running_requester(
    pair: ServedPair, dataset: DemoDataset, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    chile, panama = pair.chile, pair.panama
    case = _extra_regional_cases(dataset)[0]
    reference = _partner_hit_reference(pair, dataset, case)
    sent = request_details(
        panama.link("CHL"),
        pair.transport(panama, "CHL"),
        hit_reference=reference,
        purpose="anti_trafficking",
        justification="Encounter at the Darien matches a CHL trafficking-network subject.",
        officer_id="PAN-OFFICER-12",
        fields=["names", "document_numbers"],
    )
    assert sent.status is RequestStatus.PENDING, sent.reason

    queued = ReceivedRequests(chile.database).get("PAN", sent.request_id)
    assert queued is not None and queued.status is RequestStatus.PENDING
    approve(chile.link("PAN"), sent.request_id, "CHL-OFFICER-3", "identity confirmed")

    assert _ask_again(pair) == 0, "asked again before the re-ask interval"
    final = _asked_again_once_due(pair, sent.request_id)
    assert final.status is RequestStatus.APPROVED
    entry = next(e for e in dataset.watchlists["CHL"] if e.entry_id == case.watchlist_entry_id)
    assert final.disclosed == {
        "given_name": entry.person.given_name,
        "family_name": entry.person.family_name,
        "document_number": entry.person.document_number,
    }
    logs = node_logs(caplog.records)
    assert sent.request_id.encode() in logs, "PAN's node logged the answer it got"
    for value in final.disclosed.values():
        assert value.encode() not in logs


def test_operators_ask_and_deny_from_the_command_line(
    pair: ServedPair, dataset: DemoDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    chile, panama = pair.chile, pair.panama
    reference = _partner_hit_reference(pair, dataset, _extra_regional_cases(dataset)[1])
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

    # (The CLI dated the request by the system clock; no early look: the nodes' clock
    # may already be ahead of it.)
    final = _asked_again_once_due(pair, request_id)
    assert final.status is RequestStatus.DENIED and final.reason == "no case"
    listed = runner.invoke(app, ["details", "list", "--node", str(panama.node_dir)])
    assert listed.exit_code == 0 and request_id in listed.stdout and "denied" in listed.stdout
