"""Person-level rules end to end, in-process: conflicts, movement, protection, scope."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from biometric_exchange.domain import (
    AlertKind,
    AlertQueue,
    Encounter,
    WatchlistCategory,
    validate_template,
)
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.regions import is_extra_regional
from biometric_exchange.synthetic import DemoDataset
from tests.wiring import worker

LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"
"""Where Panama meets a traveller first seen in Chile (a node enrols at its own points)."""


def recapture(
    encounter: Encounter, new_id: str, *, seed: int, **person_changes: object
) -> Encounter:
    """Another capture of the same face, optionally under another identity."""
    noise = np.random.default_rng(seed).normal(0.0, 0.01, encounter.template.shape)
    person = dataclasses.replace(encounter.person, **person_changes)  # type: ignore[arg-type]
    return dataclasses.replace(
        encounter,
        encounter_id=new_id,
        person=person,
        template=validate_template(encounter.template + noise),
        encountered_at=encounter.encountered_at + dt.timedelta(days=3),
    )


def run(sender: Node, holder: Node) -> None:
    worker(sender, holder).run_once()


def unrelated_extra_regional(dataset: DemoDataset, country: str) -> Encounter:
    planted = {c.encounter_id for c in dataset.ground_truth if c.watchlist_entry_id}
    return next(
        e
        for e in dataset.encounters[country]
        if e.encounter_id not in planted and is_extra_regional(e.person.nationality)
    )


def test_same_face_under_another_identity_raises_a_conflict(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    first = unrelated_extra_regional(dataset, "PAN")
    enrol(pan, first)
    run(pan, chl)
    enrol(pan, recapture(first, "PAN-ENC-SAME", seed=1))  # same person again: no conflict
    run(pan, chl)
    assert pan.alerts.list(kind=AlertKind.IDENTITY_CONFLICT) == []

    enrol(
        pan,
        recapture(
            first, "PAN-ENC-ALIAS", seed=2, given_name="Other", document_number="SYN-ALIAS001"
        ),
    )
    run(pan, chl)
    (conflict,) = pan.alerts.list(kind=AlertKind.IDENTITY_CONFLICT)
    assert conflict.encounter_id == "PAN-ENC-ALIAS"
    assert conflict.subject_key == f"conflict:{first.encounter_id}", "the face's first encounter"
    (item,) = conflict.evidence
    assert item["key"] == f"identity:{item['identity']}", "one item per identity, not per pair"
    assert item["encounters"] == [first.encounter_id, "PAN-ENC-ALIAS"]
    assert item["differences"] == ["names", "document_number"]
    assert item["distance"] < 0.6
    assert "Other" not in conflict.summary, "summaries never carry names"
    assert "Other" not in str(item) and "SYN-ALIAS001" not in str(item)

    enrol(
        pan,
        recapture(
            first, "PAN-ENC-ALIAS2", seed=6, given_name="Other", document_number="SYN-ALIAS001"
        ),
    )
    run(pan, chl)
    (again,) = pan.alerts.list(kind=AlertKind.IDENTITY_CONFLICT)
    (repeat,) = again.evidence
    assert (repeat["occurrences"], repeat["last_occurrence"]) == (2, "PAN-ENC-ALIAS2"), (
        "the same alias again counts on its item"
    )


def test_two_hits_on_one_entry_carry_unrelated_references_and_both_resolve(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    """Fresh references per probe: the partner cannot link two sightings of our subject
    by reference; we (the holder) gather both in one alert, and each resolves."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    planted = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(pan, planted)
    run(pan, chl)
    alias = recapture(planted, "PAN-ENC-ALIAS", seed=3, birth_date=dt.date(1970, 1, 1))
    enrol(pan, alias)
    run(pan, chl)

    hits = pan.alerts.partner_hits("CHL")
    references = {h.hit_reference for h in hits}
    assert len(hits) == 2 and len(references) == 2
    first, second = sorted(r for r in references if r)
    assert first[:4] == second[:4] == "HIT-"
    assert {chl.hit_references.entry_for("PAN", r) for r in references} == {case.watchlist_entry_id}
    (seen,) = [a for a in chl.alerts.list() if a.watchlist_entry_id == case.watchlist_entry_id]
    keys = {e["key"] for e in seen.evidence}
    assert {f"PAN:{r}:sighting" for r in references} <= keys, "both sightings were reported"
    points = {e["encounter_point"] for e in seen.evidence if e["key"].endswith(":sighting")}
    assert points == {planted.border_point}


def test_partner_probe_matching_our_recent_encounter_is_a_movement(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    seen_in_chile = dataclasses.replace(
        unrelated_extra_regional(dataset, "CHL"),
        encountered_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3),
    )
    enrol(chl, seen_in_chile)
    run(chl, pan)
    onward = dataclasses.replace(
        recapture(seen_in_chile, "PAN-ENC-ONWARD", seed=4), border_point=LAJAS
    )
    enrol(pan, onward)
    run(pan, chl)

    (moved,) = chl.alerts.list(kind=AlertKind.MOVEMENT)
    evidence = moved.evidence[0]
    assert evidence["direction"] == "CHL → PAN"
    assert 3.0 <= evidence["dwell_days"] < 3.1, "measured to when the probe arrived"
    assert evidence["partner_point"] == "", "a probe does not say where"
    assert evidence["our_encounter"] == seen_in_chile.encounter_id
    assert moved.subject_key == f"movement:{seen_in_chile.encounter_id}"
    assert pan.alerts.list(kind=AlertKind.MOVEMENT) == [], (
        "only the node that saw them first learns it"
    )


def test_movement_outside_the_window_is_not_raised(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    seen_in_chile = dataclasses.replace(
        unrelated_extra_regional(dataset, "CHL"),
        encountered_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=45),
    )
    enrol(chl, seen_in_chile)
    run(chl, pan)
    late = recapture(seen_in_chile, "PAN-ENC-LATE", seed=5)
    enrol(pan, dataclasses.replace(late, border_point=LAJAS))
    run(pan, chl)
    assert chl.alerts.list(kind=AlertKind.MOVEMENT) == []


def test_missing_person_hits_go_to_the_protection_queue_only(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    chl.database.connection.execute(
        "UPDATE watchlist SET category = ? WHERE entry_id = ?",
        (WatchlistCategory.MISSING_PERSON.value, case.watchlist_entry_id),
    )
    chl.database.connection.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'watchlist_generation'"
    )
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(pan, encounter)
    run(pan, chl)

    for node in (pan, chl):
        kinds = {
            a.kind
            for a in node.alerts.list()
            if case.encounter_id in str(a.evidence)
            or a.watchlist_entry_id == case.watchlist_entry_id
        }
        assert AlertKind.PROTECTION in kinds
        assert AlertKind.WATCHLIST_HIT not in kinds
        assert AlertKind.SUBJECT_ENCOUNTERED_BY_PARTNER not in kinds
    protection = [a for a in chl.alerts.list() if a.kind is AlertKind.PROTECTION]
    assert protection and all(a.queue is AlertQueue.PROTECTION for a in protection)


def test_regional_migrants_trigger_no_person_level_alert(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    pan, chl = nodes["PAN"], nodes["CHL"]
    case = next(c for c in dataset.ground_truth if c.enrolling_country == c.holder_country == "PAN")
    local = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    regional = dataclasses.replace(
        local, person=dataclasses.replace(local.person, nationality="VEN")
    )
    enrol(pan, regional)
    run(pan, chl)
    assert pan.alerts.list() == []
