"""The whole exchange without sockets: PAN's worker calls CHL's handler in-process."""

from __future__ import annotations

from biometric_exchange.domain import AlertKind
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.transport import GrpcPeerTransport
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import free_port
from tests.wiring import worker as _worker


def test_partner_hits_raise_alerts_on_both_sides(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    assert _worker(pan, chl).run_once() == len(dataset.encounters["PAN"])

    expected = {
        (case.encounter_id, case.watchlist_entry_id)
        for case in dataset.ground_truth
        if case.enrolling_country == "PAN" and case.holder_country == "CHL" and case.extra_regional
    }
    assert len(expected) == 2
    partner_hits = pan.alerts.partner_hits("CHL")
    assert {a.encounter_id for a in partner_hits} == {e for e, _ in expected}
    assert all("hit on CHL watchlist, category" in a.summary for a in partner_hits)
    encountered = chl.alerts.list(kind=AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER)
    assert {a.watchlist_entry_id for a in encountered} == {w for _, w in expected}
    assert {a.hit_reference for a in encountered} == {a.hit_reference for a in partner_hits}


def test_regional_migrants_are_checked_locally_but_not_sent(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    _worker(pan, chl).run_once()

    regional = [
        c for c in dataset.ground_truth if c.enrolling_country == "PAN" and not c.extra_regional
    ]
    assert regional, "the dataset plants regional migrants"
    for case in regional:
        item = pan.outbox.get(case.encounter_id)
        assert item is not None and item.state is OutboxState.OUT_OF_SCOPE
    received = [e for e in chl.audit.entries() if e.event == "identify.received"]
    sent_probes = sum(e.detail["probes"] for e in received)
    assert sent_probes == len(dataset.encounters["PAN"]) - len(regional)
    # The regional subject on CHL's watchlist raised nothing on either side.
    regional_on_chl = {c.watchlist_entry_id for c in regional if c.holder_country == "CHL"}
    assert regional_on_chl
    assert not {a.watchlist_entry_id for a in chl.alerts.list()} & regional_on_chl


def test_local_watchlist_hit_needs_no_partner(nodes: dict[str, Node], dataset: DemoDataset) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    local = [c for c in dataset.ground_truth if c.enrolling_country == c.holder_country == "PAN"]
    assert local
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    _worker(pan, chl).run_once()
    alerts = [a for a in pan.alerts.list() if a.subject_key.startswith("local:")]
    assert {(a.encounter_id, a.watchlist_entry_id) for a in alerts} == {
        (c.encounter_id, c.watchlist_entry_id) for c in local
    }


def test_reprocessing_does_not_duplicate_alerts(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    worker = _worker(pan, chl)
    worker.run_once()
    before = (len(pan.alerts.list()), len(chl.alerts.list()))
    # Simulate a lost reply: the same outbox items are processed again.
    pan.database.connection.execute("UPDATE outbox SET state = 'pending', next_attempt_at_ms = 0")
    worker.run_once()
    assert (len(pan.alerts.list()), len(chl.alerts.list())) == before
    assert pan.audit.verify() > 0 and chl.audit.verify() > 0


def test_unreachable_partner_leaves_items_pending_then_they_go_through(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    encounter = next(
        e
        for e in dataset.encounters["PAN"]
        if any(
            c.encounter_id == e.encounter_id and c.holder_country == "CHL" and c.extra_regional
            for c in dataset.ground_truth
        )
    )
    enrol(pan, encounter)
    closed_port = free_port()  # nothing listens there: a real connection failure
    unreachable = GrpcPeerTransport(pan.link("CHL"), endpoint=f"127.0.0.1:{closed_port}")
    try:
        _worker(pan, transport=unreachable).run_once()
    finally:
        unreachable.close()
    item = pan.outbox.get(encounter.encounter_id)
    assert item is not None and item.state is OutboxState.PENDING
    assert item.attempts == 1 and item.last_error and "unavailable" in item.last_error
    assert pan.outbox.due() == [], "a failed item waits for its back-off"

    pan.database.connection.execute("UPDATE outbox SET next_attempt_at_ms = 0")
    _worker(pan, chl).run_once()
    item = pan.outbox.get(encounter.encounter_id)
    assert item is not None and item.state is OutboxState.DONE
    assert len(pan.alerts.partner_hits("CHL")) == 1
