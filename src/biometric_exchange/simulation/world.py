"""The simulated world: who travels, where the nodes meet them, who is listed.

Drawn from the synthetic population's own parts (``synthetic.identities``,
``corridor``, ``templates``) as columns: travellers (fraud travellers, adults,
show an alias identity at later encounters, as ``corridor.node_encounters``
decides), the optional surge arrivals (``flow``), and each country's
watchlist (``listings``); Mexico's encounters and watchlist when Mexico is a
node. Faces are numbered travellers first, then surge arrivals, then
watchlist fillers (Mexico's last). Relatives and look-alikes among them are
drawn from their own stream (``resemblance``). The same scenario and seed give the same
world whatever the run's date: dates shift with the calendar, nothing else.
SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from biometric_exchange import __version__
from biometric_exchange.domain import (
    Encounter,
    LegalStatus,
    Person,
    Provenance,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
)
from biometric_exchange.simulation.draws import Calendar, Draw, concat_people
from biometric_exchange.simulation.flow import (
    Encounters,
    SurgeTruth,
    encounters_from,
    merge_columns,
    merge_encounters,
    mexico_flow,
)
from biometric_exchange.simulation.listings import MEXICO, Listings, draw_listings
from biometric_exchange.simulation.moving import draw_moving
from biometric_exchange.simulation.resemblance import NONE as NO_RESEMBLANCE
from biometric_exchange.simulation.resemblance import Resemblance, draw_resemblance
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.synthetic.identities import People
from biometric_exchange.synthetic.templates import Matrix

GENERATOR = f"biometric-exchange {__version__} simulation"


@dataclass(frozen=True)
class World:
    """Faces, encounters, watchlists and the ground truth of one run."""

    scenario: Scenario
    calendar: Calendar
    people: People
    """The primary identity of each face."""
    aliases: People
    """The alias identity of each fraud face, in ``fraud_faces`` order."""
    fraud_faces: NDArray[np.int64]
    travellers: int
    """Faces [0, travellers) travel the corridor."""
    surge_faces: NDArray[np.int64]
    encounters: Encounters
    listings: Listings
    surge: SurgeTruth | None
    latents: Matrix
    """Each face's noise-free template (the template model's identity)."""
    noise: NDArray[np.float64]
    """Each face's capture-noise multiplier."""
    resemblance: Resemblance = NO_RESEMBLANCE
    """Relatives and look-alikes: different faces made alike (``resemblance``)."""

    @cached_property
    def provenance(self) -> Provenance:
        return Provenance(synthetic=True, generator=GENERATOR, seed=self.scenario.seed)

    @cached_property
    def _alias_row(self) -> dict[int, int]:
        return {face: row for row, face in enumerate(self.fraud_faces.tolist())}

    @cached_property
    def _primary(self) -> _PeopleLists:
        return _PeopleLists.of(self.people)

    @cached_property
    def _alias(self) -> _PeopleLists:
        return _PeopleLists.of(self.aliases)

    @cached_property
    def _times(self) -> list[dt.datetime]:
        return [t.replace(tzinfo=dt.UTC) for t in self.encounters.time.astype(dt.datetime).tolist()]

    def person(self, face: int, *, alias: bool = False) -> Person:
        if alias:
            return self._alias.person(self._alias_row[face])
        return self._primary.person(face)

    def encounter(self, row: int) -> Encounter:
        e = self.encounters
        return Encounter(
            encounter_id=str(e.encounter_id[row]),
            person=self.person(int(e.face[row]), alias=bool(e.alias[row])),
            encountered_at=self._times[row],
            border_point=str(e.border_point[row]),
            template=e.template[row],
            provenance=self.provenance,
        )

    def rows_on(self, day: int, country: str) -> NDArray[np.int64]:
        """Encounter rows of ``country`` on simulated ``day``, in time order."""
        e = self.encounters
        rows: NDArray[np.int64] = np.flatnonzero((e.day == day) & (e.country == country))
        return rows

    def encounters_on(self, day: int, country: str) -> list[Encounter]:
        return [self.encounter(int(row)) for row in self.rows_on(day, country)]

    def watchlist(self, owner: str) -> list[WatchlistEntry]:
        listings = self.listings
        entries = []
        for row in np.flatnonzero(listings.owner == owner).tolist():
            until = listings.valid_until[row]
            entries.append(
                WatchlistEntry(
                    entry_id=str(listings.entry_id[row]),
                    category=WatchlistCategory(str(listings.category[row])),
                    person=self.person(int(listings.face[row])),
                    template=listings.template[row],
                    valid_until=None if np.isnat(until) else until.astype(dt.date),
                    provenance=self.provenance,
                )
            )
        return entries


def _unescape(name: str) -> str:
    """Names from the pools are JSON-escaped (for the population's writers)."""
    return str(json.loads(f'"{name}"')) if "\\" in name else name


@dataclass(frozen=True)
class _PeopleLists:
    """People columns as Python lists, for building many ``Person`` records quickly."""

    given_name: list[str]
    family_name: list[str]
    sex: list[str]
    birth_date: list[dt.date]
    nationality: list[str]
    document_number: list[str]
    legal_status: list[str]
    unaccompanied_minor: list[bool]

    @classmethod
    def of(cls, people: People) -> _PeopleLists:
        return cls(
            people.given_name.tolist(),
            people.family_name.tolist(),
            people.sex.tolist(),
            people.birth_date.astype("M8[D]").astype(dt.date).tolist(),
            people.nationality.tolist(),
            people.document_number.tolist(),
            people.legal_status.tolist(),
            people.unaccompanied_minor.tolist(),
        )

    def person(self, row: int) -> Person:
        return Person(
            given_name=_unescape(self.given_name[row]),
            family_name=_unescape(self.family_name[row]),
            sex=Sex(self.sex[row]),
            birth_date=self.birth_date[row],
            nationality=self.nationality[row],
            document_number=self.document_number[row],
            legal_status=LegalStatus(self.legal_status[row]),
            unaccompanied_minor=self.unaccompanied_minor[row],
        )


def draw_world(scenario: Scenario, calendar: Calendar) -> World:
    """Draw the scenario's world over ``calendar`` (deterministic for the seed).

    Mexico's parts (its encounters, their captures, its watchlist and fillers) come
    from Mexico's own streams and only when Mexico is a node: the rest of the world
    is the same with or without it."""
    draw = Draw(scenario.seed, calendar)
    rngs, model = draw.rngs, draw.model
    n = scenario.population.migrants
    drawn = draw_moving(scenario, draw)
    moving = drawn.moving
    countries = scenario.nodes.countries
    with_mexico = MEXICO in countries
    fillers_each = scenario.watchlist.fillers
    fillers = draw.people("fillers", fillers_each * (len(countries) - int(with_mexico)))
    filler_parts = [fillers]
    if with_mexico:
        filler_parts.append(draw.people(draw.mexico_rngs["fillers"], fillers_each))
    people = concat_people([moving, *filler_parts])
    identity, noise = model.multipliers(people.nationality, people.minor)
    split = len(moving)
    latent_parts = [
        model.latents(rngs["faces"], split, identity_multiplier=identity[:split]),
        model.latents(
            rngs["fillers"],
            len(fillers),
            identity_multiplier=identity[split : split + len(fillers)],
        ),
    ]
    if with_mexico:
        first = split + len(fillers)
        latent_parts.append(
            model.latents(
                draw.mexico_rngs["fillers"], fillers_each, identity_multiplier=identity[first:]
            )
        )
    latents = np.concatenate(latent_parts)
    population = scenario.population
    resemblance = draw_resemblance(
        rngs["resemblance"],
        people.nationality[: split + len(fillers)],
        split,
        relatives_share=population.relatives_share,
        twin_share=population.twin_share,
        lookalike_share=population.lookalike_share,
    )
    resemblance.apply(latents, model.centre_vector)
    encounters = encounters_from(draw, merge_columns(drawn.columns), latents, noise)
    if with_mexico:
        mexico = encounters_from(
            draw,
            mexico_flow(draw, drawn.journeys, drawn.fraud),
            latents,
            noise,
            captures=draw.mexico_rngs["captures"],
        )
        encounters = merge_encounters(encounters, mexico)
    return World(
        scenario=scenario,
        calendar=calendar,
        people=people,
        aliases=drawn.aliases,
        fraud_faces=drawn.fraud_faces,
        travellers=n,
        surge_faces=np.arange(n, split, dtype=np.int64),
        encounters=encounters,
        listings=draw_listings(
            draw,
            scenario.watchlist,
            countries,
            moving=moving,
            fraud_faces=drawn.fraud_faces,
            latents=latents,
            noise=noise,
        ),
        surge=drawn.surge,
        latents=latents,
        noise=noise,
        resemblance=resemblance,
    )
