"""End to end over real sockets: enrolment on one node raises alerts on both.

Both nodes serve in this process (real gRPC, real mutual TLS on loopback); Panama's
exchange worker runs in the test's thread until its outbox is empty.
"""

from __future__ import annotations

import logging

import pytest

from biometric_exchange.domain import AlertKind, Encounter, template_to_bytes
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.store.outbox import OutboxItem, OutboxState
from biometric_exchange.synthetic import DemoDataset, GroundTruth
from tests.integration.conftest import ServedPair, node_logs


def _encounter(dataset: DemoDataset, case: GroundTruth) -> Encounter:
    return next(
        e for e in dataset.encounters[case.enrolling_country] if e.encounter_id == case.encounter_id
    )


def _settled(pair: ServedPair, encounter_id: str) -> OutboxItem:
    item = pair.panama.outbox.get(encounter_id)
    assert item is not None and item.state is not OutboxState.PENDING, item
    return item


def test_cross_node_hit_raises_an_alert_on_each_node(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    enrol(served_pair.panama, _encounter(dataset, case))
    served_pair.exchange(served_pair.panama)

    item = _settled(served_pair, case.encounter_id)
    assert item.state is OutboxState.DONE
    partner_hits = served_pair.panama.alerts.partner_hits("CHL")
    (enrolling_side,) = [a for a in partner_hits if a.encounter_id == case.encounter_id]
    holding_side = next(
        a
        for a in served_pair.chile.alerts.list(kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)
        if a.watchlist_entry_id == case.watchlist_entry_id
    )
    assert enrolling_side.partner == "CHL" and holding_side.partner == "PAN"
    assert enrolling_side.summary.startswith("hit on CHL watchlist, category ")
    assert "was encountered by PAN" in holding_side.summary
    assert enrolling_side.hit_reference == holding_side.hit_reference
    assert enrolling_side.distance is None, "no distance crosses the border"
    assert holding_side.distance is not None and holding_side.distance < 0.6
    # The reference handed to Panama names nobody.
    assert case.watchlist_entry_id not in (enrolling_side.hit_reference or "")


def test_regional_migrant_is_not_sent(served_pair: ServedPair, dataset: DemoDataset) -> None:
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and not c.extra_regional
    )

    def received() -> int:
        events = served_pair.chile.audit.entries()
        return sum(1 for e in events if e.event == "identify.received")

    before = received()
    enrol(served_pair.panama, _encounter(dataset, case))
    served_pair.exchange(served_pair.panama)

    assert _settled(served_pair, case.encounter_id).state is OutboxState.OUT_OF_SCOPE
    assert received() == before
    chile_alerts = served_pair.chile.alerts.list()
    assert case.watchlist_entry_id not in {a.watchlist_entry_id for a in chile_alerts}


def test_node_logs_hold_no_names_or_template_bytes(
    served_pair: ServedPair, dataset: DemoDataset, caplog: pytest.LogCaptureFixture
) -> None:
    """What both nodes' code logs while they exchange (both sides of every call run
    here), formatted as a node writes its log."""
    caplog.set_level(logging.INFO)
    for encounter in dataset.encounters["PAN"][:4]:
        if served_pair.panama.outbox.get(encounter.encounter_id) is None:
            enrol(served_pair.panama, encounter)
    served_pair.exchange(served_pair.panama)
    assert served_pair.panama.outbox.depth() == 0
    events = {getattr(r, "event", None) for r in caplog.records}
    assert {"identify.sent", "identify.reply_sent"} <= events, "both sides logged the exchange"
    logs = node_logs(caplog.records)
    people = [e.person for e in dataset.encounters["PAN"]] + [
        e.person for e in dataset.watchlists["CHL"]
    ]
    for person in people:
        for name in (person.given_name, person.family_name):
            assert name.encode() not in logs
        assert person.document_number.encode() not in logs
    for encounter in dataset.encounters["PAN"][:4]:
        assert template_to_bytes(encounter.template)[:16] not in logs
