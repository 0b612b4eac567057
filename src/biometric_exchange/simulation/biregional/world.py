"""The bi-regional world: travellers along the routes, who meets them, who lists them.

Each traveller takes one route (by its share), starts on a day drawn over the
lead-in and the simulated days, and moves one member every ``hop_days``; each
member on the way records the crossing with its encounter rate (a fresh capture
of the traveller's face each time). A share of travellers is listed by one
member drawn at random, and every member lists filler entries on people who
never travel. Nationalities are extra-regional, ages adult, so every agreement's
scope admits every traveller: what a topology finds is what its pairs' terms
let it find. Everything is synthetic and seeded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from biometric_exchange.domain import (
    Encounter,
    Person,
    Provenance,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
    validate_template,
)
from biometric_exchange.simulation.biregional.scenario import BiRegionalScenario
from biometric_exchange.synthetic.templates import TemplateModel

GENERATOR = "bi_regional"
NATIONALITIES = ("CHN", "IND", "NPL", "BGD", "AFG", "CMR", "SOM", "ERI", "SEN")
"""Leading extra-regional nationalities of the Darién flow (DESIGN.md, "Facts that help")."""
WEIGHTS = (0.22, 0.16, 0.1, 0.08, 0.1, 0.08, 0.08, 0.06, 0.12)
CATEGORIES = tuple(WatchlistCategory)


@dataclass
class World:
    scenario: BiRegionalScenario
    start: dt.date
    encounters: dict[int, dict[str, list[Encounter]]] = field(default_factory=dict)
    """Day → member → that day's encounters."""
    listed_by: dict[str, str] = field(default_factory=dict)
    """Traveller id → the member listing them."""
    watchlists: dict[str, list[WatchlistEntry]] = field(default_factory=dict)
    traveller_of: dict[str, str] = field(default_factory=dict)
    """Encounter id → traveller id."""

    def day_encounters(self, day: int, member: str) -> list[Encounter]:
        return self.encounters.get(day, {}).get(member, [])

    def all_encounters(self) -> list[Encounter]:
        return [
            e for by_member in self.encounters.values() for es in by_member.values() for e in es
        ]


def restrict(world: World, members: tuple[str, ...]) -> World:
    """The part of ``world`` that ``members`` see: their encounters and watchlists."""
    kept = set(members)
    return World(
        world.scenario.model_copy(
            update={"federation": {**world.scenario.federation, "members": list(members)}}
        ),
        world.start,
        {
            day: {code: es for code, es in by_member.items() if code in kept}
            for day, by_member in world.encounters.items()
        },
        {t: lister for t, lister in world.listed_by.items() if lister in kept},
        {code: entries for code, entries in world.watchlists.items() if code in kept},
        world.traveller_of,
    )


def _person(rng: np.random.Generator, index: int, start: dt.date, nationality: str) -> Person:
    age_days = int(rng.integers(18 * 365 + 10, 60 * 365))
    return Person(
        given_name=f"Synthetic{index:06d}",
        family_name=f"Traveller{int(rng.integers(0, 10**6)):06d}",
        sex=Sex.FEMALE if rng.random() < 0.4 else Sex.MALE,
        birth_date=start - dt.timedelta(days=age_days),
        nationality=nationality,
        document_number=f"SYN{index:08d}",
    )


def build_world(scenario: BiRegionalScenario, *, today: dt.date) -> World:
    """The world of ``scenario``; its first simulated day is ``today`` minus ``days``."""
    rng = np.random.default_rng(scenario.seed)
    model = TemplateModel()
    start = today - dt.timedelta(days=scenario.days)
    world = World(scenario, start)
    spec = scenario.world
    members = tuple(scenario.federation["members"])
    shares = np.array([route.share for route in spec.routes])
    weights = np.array(WEIGHTS) / sum(WEIGHTS)
    provenance = Provenance(True, GENERATOR, scenario.seed)
    by_day: dict[int, dict[str, list[Encounter]]] = defaultdict(lambda: defaultdict(list))
    watchlists: dict[str, list[WatchlistEntry]] = {code: [] for code in members}
    for index in range(spec.migrants):
        traveller = f"T{index:06d}"
        nationality = str(rng.choice(NATIONALITIES, p=weights))
        person = _person(rng, index, start, nationality)
        latent = model.latent(rng)
        route = spec.routes[int(rng.choice(len(spec.routes), p=shares / shares.sum()))]
        day = int(rng.integers(-spec.lead_days, scenario.days))
        for step, member in enumerate(route.path):
            if step:
                day += int(rng.integers(spec.hop_days[0], spec.hop_days[1] + 1))
            if not 0 <= day < scenario.days:
                continue
            if rng.random() >= spec.encounter_rate.get(member, spec.default_rate):
                continue
            when = dt.datetime.combine(
                start + dt.timedelta(days=day), dt.time(int(rng.integers(6, 20))), dt.UTC
            )
            encounter = Encounter(
                encounter_id=f"{member}-{traveller}-{step}",
                person=person,
                encountered_at=when,
                border_point=f"{member}-BORDER",
                template=model.capture(latent, rng),
                provenance=provenance,
            )
            by_day[day][member].append(encounter)
            world.traveller_of[encounter.encounter_id] = traveller
        if rng.random() < spec.listed_share:
            lister = str(rng.choice(members))
            world.listed_by[traveller] = lister
            watchlists[lister].append(_entry(rng, model, f"{lister}-W{traveller}", person, latent))
    for code in members:
        for filler in range(spec.fillers):
            person = _person(
                rng, 10_000_000 + filler, start, str(rng.choice(NATIONALITIES, p=weights))
            )
            watchlists[code].append(
                _entry(rng, model, f"{code}-F{filler:05d}", person, model.latent(rng))
            )
    world.encounters = {day: dict(members_) for day, members_ in by_day.items()}
    world.watchlists = watchlists
    return world


def _entry(
    rng: np.random.Generator, model: TemplateModel, entry_id: str, person: Person, latent: object
) -> WatchlistEntry:
    captured = model.captures(np.asarray([latent], dtype=np.float32), rng, max_noise_factor=1.0)
    return WatchlistEntry(
        entry_id=entry_id,
        category=CATEGORIES[int(rng.integers(0, len(CATEGORIES)))],
        person=person,
        template=validate_template(captured[0]),
        valid_until=None,
        provenance=Provenance(True, GENERATOR, None),
    )
