"""End to end over real sockets: enrolment on one node raises alerts on both."""

from __future__ import annotations

from biometric_exchange.domain import Alert, AlertKind, Encounter, template_to_bytes
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.store.outbox import OutboxItem, OutboxState
from biometric_exchange.synthetic import DemoDataset, GroundTruth
from tests.integration.conftest import RunningPair, eventually


def _encounter(dataset: DemoDataset, case: GroundTruth) -> Encounter:
    return next(
        e for e in dataset.encounters[case.enrolling_country] if e.encounter_id == case.encounter_id
    )


def _settled(pair: RunningPair, encounter_id: str) -> OutboxItem | None:
    item = pair.panama.outbox.get(encounter_id)
    return item if item is not None and item.state is not OutboxState.PENDING else None


def test_cross_node_hit_raises_an_alert_on_each_node(
    running_pair: RunningPair, dataset: DemoDataset
) -> None:
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    enrol(running_pair.panama, _encounter(dataset, case))

    item = eventually(lambda: _settled(running_pair, case.encounter_id))
    assert item.state is OutboxState.DONE

    def partner_hit() -> Alert | None:
        alerts = running_pair.panama.alerts.partner_hits("CHL")
        return next((a for a in alerts if a.encounter_id == case.encounter_id), None)

    def holder_alert() -> Alert | None:
        alerts = running_pair.chile.alerts.list(kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)
        return next((a for a in alerts if a.watchlist_entry_id == case.watchlist_entry_id), None)

    enrolling_side = eventually(partner_hit)
    holding_side = eventually(holder_alert)
    assert enrolling_side.partner == "CHL" and holding_side.partner == "PAN"
    assert enrolling_side.summary.startswith("hit on CHL watchlist, category ")
    assert "was encountered by PAN" in holding_side.summary
    assert enrolling_side.hit_reference == holding_side.hit_reference
    assert enrolling_side.distance is not None and enrolling_side.distance < 0.6
    # The reference handed to Panama names nobody.
    assert case.watchlist_entry_id not in (enrolling_side.hit_reference or "")


def test_regional_migrant_is_not_sent(running_pair: RunningPair, dataset: DemoDataset) -> None:
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and not c.extra_regional
    )

    def received() -> int:
        events = running_pair.chile.audit.entries()
        return sum(1 for e in events if e.event == "identify.received")

    before = received()
    enrol(running_pair.panama, _encounter(dataset, case))
    item = eventually(lambda: _settled(running_pair, case.encounter_id))

    assert item.state is OutboxState.OUT_OF_SCOPE
    assert received() == before
    chile_alerts = running_pair.chile.alerts.list()
    assert case.watchlist_entry_id not in {a.watchlist_entry_id for a in chile_alerts}


def test_node_logs_hold_no_names_or_template_bytes(
    running_pair: RunningPair, dataset: DemoDataset
) -> None:
    for encounter in dataset.encounters["PAN"][:4]:
        if running_pair.panama.outbox.get(encounter.encounter_id) is None:
            enrol(running_pair.panama, encounter)
    eventually(lambda: running_pair.panama.outbox.depth() == 0)
    logs = b"".join(p.read_bytes() for p in running_pair.logs.glob("*.log"))
    assert b"serving on" in logs, "the logs were written"
    people = [e.person for e in dataset.encounters["PAN"]] + [
        e.person for e in dataset.watchlists["CHL"]
    ]
    for person in people:
        for name in (person.given_name, person.family_name):
            assert name.encode() not in logs
        assert person.document_number.encode() not in logs
    for encounter in dataset.encounters["PAN"][:4]:
        assert template_to_bytes(encounter.template)[:16] not in logs
