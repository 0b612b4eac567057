"""The drawn world: deterministic, steady, with the surge, fraud and watchlists it claims."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.scenario import Scenario, parse_scenario
from biometric_exchange.simulation.world import World, draw_world

CALENDAR = Calendar(dt.date(2026, 3, 1), 20)


def _scenario(**changes: object) -> Scenario:
    raw: dict[str, object] = {
        "name": "world",
        "seed": 8,
        "days": 20,
        "population": {"migrants": 3000, "fraud_share": 0.05},
        "watchlist": {"prevalence": 0.05, "fillers": 100},
        "surge": {
            "nationality": "BGD",
            "border_point": "PAN-PASO-CANOAS",
            "start_day": 12,
            "extra_per_day": 15,
        },
    }
    raw.update(changes)
    return parse_scenario(raw, "world")


@pytest.fixture(scope="module")
def world() -> World:
    return draw_world(_scenario(), CALENDAR)


def test_the_same_seed_draws_the_same_world_on_any_date(world: World) -> None:
    later = draw_world(_scenario(), Calendar(dt.date(2026, 9, 10), 20))
    assert np.array_equal(world.encounters.encounter_id, later.encounters.encounter_id)
    assert np.array_equal(world.encounters.template, later.encounters.template)
    assert np.array_equal(world.encounters.day, later.encounters.day)
    shift = np.timedelta64(dt.date(2026, 9, 10) - dt.date(2026, 3, 1), "D")
    assert np.array_equal(world.encounters.time + shift, later.encounters.time)
    assert np.array_equal(world.listings.entry_id, later.listings.entry_id)
    other = draw_world(_scenario(seed=9), CALENDAR)
    assert not np.array_equal(world.encounters.face[:50], other.encounters.face[:50])


def test_encounters_fall_in_the_days_numbered_in_time_order(world: World) -> None:
    e = world.encounters
    assert e.day.min() == 0 and e.day.max() == CALENDAR.days - 1
    for country in ("CHL", "PAN"):
        mine = e.country == country
        assert list(e.encounter_id[mine]) == sorted(e.encounter_id[mine])
        assert np.all(np.diff(e.time[mine].astype(np.int64)) >= 0)
    # The lead-in makes the flow steady: the first days are as busy as the last.
    pan = np.bincount(e.day[(e.country == "PAN") & (e.face < world.travellers)])
    assert pan[:5].mean() > 0.7 * pan[-5:].mean()


def test_the_surge_adds_new_people_from_its_day_at_its_point(world: World) -> None:
    assert world.surge is not None and world.surge.arrivals == world.surge_faces.size
    e = world.encounters
    surge = np.isin(e.face, world.surge_faces)
    assert surge.sum() == world.surge.arrivals > 0
    assert set(e.border_point[surge]) == {"PAN-PASO-CANOAS"}
    assert e.day[surge].min() >= 12
    assert set(world.people.nationality[world.surge_faces]) == {"BGD"}


def test_fraud_travellers_show_the_alias_after_the_primary_identity(world: World) -> None:
    e = world.encounters
    assert world.fraud_faces.size == round(3000 * 0.05)
    assert set(e.face[e.alias]) <= set(world.fraud_faces.tolist())
    both = 0
    for face in set(e.face[e.alias].tolist()):
        rows = np.flatnonzero(e.face == face)
        primary, alias_rows = rows[~e.alias[rows]], rows[e.alias[rows]]
        if primary.size:  # the first encounter may fall before the simulated days
            both += 1
            assert e.time[primary].max() < e.time[alias_rows].min()
        alias = world.person(face, alias=True)
        assert alias.document_number != world.person(face).document_number
    assert both > 10


def test_watchlists_keep_their_status_through_the_run(world: World) -> None:
    listings = world.listings
    assert set(listings.owner) == {"CHL", "PAN"}
    until = listings.valid_until[~np.isnat(listings.valid_until)]
    first, last = np.datetime64(CALENDAR.start), np.datetime64(CALENDAR.end)
    assert not np.any((until >= first) & (until <= last))
    assert (listings.owner == "CHL").sum() >= 100  # fillers included
    entries = world.watchlist("PAN")
    assert all(entry.provenance.synthetic for entry in entries)
    assert entries[0].entry_id == "PAN-WL-0000001"


def test_more_fillers_list_the_same_travellers() -> None:
    small = draw_world(_scenario(), CALENDAR)
    large = draw_world(_scenario(watchlist={"prevalence": 0.05, "fillers": 2000}), CALENDAR)
    for world in (small, large):
        assert world.travellers == 3000
    listed_small = small.listings.face[small.listings.face < small.travellers]
    listed_large = large.listings.face[large.listings.face < large.travellers]
    assert np.array_equal(listed_small, listed_large)
    assert np.array_equal(small.encounters.template, large.encounters.template)
    assert len(large.listings) - len(small.listings) == 2 * (2000 - 100)


def test_records_are_marked_synthetic(world: World) -> None:
    encounter = world.encounter(0)
    assert encounter.provenance.synthetic and encounter.provenance.seed == 8
    assert encounter.encountered_at.tzinfo is dt.UTC
    assert world.encounters_on(0, "CHL")[0].encounter_id.startswith("CHL-ENC-")
