"""Checks shared by the kill -9 tests: new captures to enrol, and that every one of
them settled once on both sides (nothing lost, no alert or evidence twice)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import numpy as np

from biometric_exchange.domain import Encounter, validate_template
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset


def new_captures(dataset: DemoDataset, count: int, *, prefix: str, seed: int) -> list[Encounter]:
    """``count`` PAN encounters: new captures of the dataset's PAN people, same
    identities, one minute apart."""
    rng = np.random.default_rng(seed)
    originals = dataset.encounters["PAN"]
    copies = []
    for number in range(count):
        source = originals[number % len(originals)]
        noise = rng.normal(0.0, 0.01, source.template.shape)
        copies.append(
            dataclasses.replace(
                source,
                encounter_id=f"{prefix}-{number:05d}",
                template=validate_template(source.template + noise),
                encountered_at=source.encountered_at + dt.timedelta(minutes=number),
            )
        )
    return copies


def assert_settled_once(
    panama: Node, chile: Node, dataset: DemoDataset, copies: list[Encounter]
) -> Counter[str | None]:
    """Every capture stored and checked once; Panama one alert per hit probe (each
    probe gets its own reference), each encounter once; Chile one alert per watchlisted
    subject with each probe counted once. Returns the hits expected per Chilean entry."""
    assert panama.records.count_encounters() == len(copies)
    states = Counter(
        item.state for item in (panama.outbox.get(e.encounter_id) for e in copies) if item
    )
    assert sum(states.values()) == len(copies)
    assert set(states) <= {OutboxState.DONE, OutboxState.OUT_OF_SCOPE}, states

    planted = {
        c.encounter_id: c.watchlist_entry_id
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    }
    originals = dataset.encounters["PAN"]
    sources = [originals[n % len(originals)].encounter_id for n in range(len(copies))]
    expected_per_entry = Counter(planted[source] for source in sources if source in planted)
    assert expected_per_entry

    partner_hits = panama.alerts.partner_hits("CHL")
    assert len(partner_hits) == sum(expected_per_entry.values())
    assert len({a.hit_reference for a in partner_hits}) == len(partner_hits)
    hit_encounters = [item["encounter_id"] for a in partner_hits for item in a.evidence]
    assert len(hit_encounters) == len(set(hit_encounters)) == len(partner_hits)

    for entry, expected in expected_per_entry.items():
        alerts = [a for a in chile.alerts.list() if a.watchlist_entry_id == entry]
        assert len(alerts) == 1, f"one alert for {entry}"
        keys = [item["key"] for item in alerts[0].evidence]
        assert len(keys) == len(set(keys))
        sightings = [key for key in keys if key.endswith(":sighting")]
        assert len(keys) - len(sightings) == expected
        # A sighting follows its hit; a kill between the two can lose it, never double it.
        assert len(sightings) <= expected
    return expected_per_entry
