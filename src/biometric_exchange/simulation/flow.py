"""Where the nodes meet travellers during the simulated days, and the surge.

Journeys start over ``lead_days + days`` (corridor routes and dwell times), so
the flow through the nodes is steady from the first simulated day; the
encounters kept are those that fall in the simulated days. Mexico's
encounters, when Mexico is a node, come from the same journeys and streams of
Mexico's own. Each encounter
carries one capture of the traveller's face. A surge adds
Poisson(``extra_per_day``) arrivals a day of one nationality at one border
point from ``start_day``, each a new face.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.simulation.draws import Draw
from biometric_exchange.simulation.scenario import SurgeSection
from biometric_exchange.synthetic.corridor import (
    Journeys,
    NodeEncounters,
    choose_routes,
    draw_journeys,
    mexico_encounters,
    node_encounters,
)
from biometric_exchange.synthetic.identities import People
from biometric_exchange.synthetic.mix import extra_regional, locale_for
from biometric_exchange.synthetic.templates import Matrix

DAY_SECONDS = 86_400
Columns = dict[str, NDArray[np.generic]]
"""face, country, point, time (M8[s]), alias: one row per encounter."""


@dataclass(frozen=True)
class Encounters:
    """The node encounters of a run, as columns in time order."""

    encounter_id: NDArray[np.str_]
    country: NDArray[np.str_]
    border_point: NDArray[np.str_]
    time: NDArray[np.datetime64]
    """M8[s], UTC."""
    day: NDArray[np.int64]
    """Simulated day index (0 = the first day)."""
    face: NDArray[np.int64]
    alias: NDArray[np.bool_]
    """The traveller presented their alias identity."""
    template: Matrix

    def __len__(self) -> int:
        return int(self.face.size)


@dataclass(frozen=True)
class SurgeTruth:
    """When and where the injected surge began, and how many it added."""

    party: str
    nationality: str
    border_point: str
    start_day: int
    arrivals: int


def corridor_journeys(
    draw: Draw, travellers: People, fraud: NDArray[np.bool_], *, lead_days: int
) -> Journeys:
    """Each traveller's journey (face = row), starting over ``lead_days + days``."""
    rngs, calendar = draw.rngs, draw.calendar
    n = len(travellers)
    return draw_journeys(
        rngs["routes"],
        np.arange(n, dtype=np.int64),
        choose_routes(rngs["routes"], travellers.nationality, travellers.extra_regional),
        calendar.start - dt.timedelta(days=lead_days),
        window_days=lead_days + calendar.days,
        must_reach_panama=fraud,
    )


def corridor_flow(draw: Draw, journeys: Journeys, fraud: NDArray[np.bool_]) -> Columns:
    """The travellers' encounters at Chile's and Panama's nodes during the simulated days."""
    return in_days(draw, node_encounters(draw.rngs["meet"], journeys, fraud))


def mexico_flow(draw: Draw, journeys: Journeys, fraud: NDArray[np.bool_]) -> Columns:
    """The travellers' encounters at Mexico's node during the simulated days (Mexico's
    own stream)."""
    return in_days(draw, mexico_encounters(draw.mexico_rngs["meet"], journeys, fraud))


def in_days(draw: Draw, met: NodeEncounters) -> Columns:
    """The encounters that fall in the simulated days, as columns."""
    calendar = draw.calendar
    first = np.datetime64(calendar.start, "s")
    last = np.datetime64(calendar.end, "s")
    kept = np.flatnonzero((met.time >= first) & (met.time < last))
    return {
        "face": met.face[kept],
        "country": met.country[kept].astype("<U3"),
        "point": met.border_point[kept].astype("<U32"),
        "time": met.time[kept],
        "alias": met.alias[kept],
    }


def surge_arrivals(
    draw: Draw, spec: SurgeSection, *, first_face: int
) -> tuple[People, Columns, SurgeTruth]:
    """Extra arrivals of ``spec.nationality`` at ``spec.border_point``, new faces each."""
    rng, calendar = draw.rngs["surge"], draw.calendar
    per_day = rng.poisson(spec.extra_per_day, calendar.days - spec.start_day)
    days = np.repeat(np.arange(spec.start_day, calendar.days), per_day)
    m = int(days.size)
    people = draw.people("surge", m)
    nationality = np.full(m, spec.nationality, dtype=people.nationality.dtype)
    given, family = draw.pools.draw(rng, locale_for(spec.nationality), people.sex)
    people = dataclasses.replace(
        people,
        nationality=nationality,
        given_name=given,
        family_name=family,
        extra_regional=extra_regional(nationality),
    )
    seconds = rng.integers(0, DAY_SECONDS, m)
    start = np.datetime64(calendar.start, "s")
    columns: Columns = {
        "face": first_face + np.arange(m, dtype=np.int64),
        "country": np.full(m, spec.border_point[:3], dtype="<U3"),
        "point": np.full(m, spec.border_point, dtype="<U32"),
        "time": start + (days * DAY_SECONDS + seconds).astype("m8[s]"),
        "alias": np.zeros(m, dtype=np.bool_),
    }
    party = spec.border_point[:3]
    return (
        people,
        columns,
        SurgeTruth(party, spec.nationality, spec.border_point, spec.start_day, m),
    )


def merge_columns(parts: list[Columns]) -> Columns:
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def encounters_from(
    draw: Draw,
    columns: Columns,
    latents: Matrix,
    noise: NDArray[np.float64],
    *,
    captures: np.random.Generator | None = None,
) -> Encounters:
    """Sort by time (then face), number per country in that order, capture each face once
    (from ``captures``, by default the world's captures stream)."""
    order = np.lexsort((columns["face"], columns["time"]))
    face = columns["face"][order].astype(np.int64)
    country = columns["country"][order].astype("<U3")
    time = columns["time"][order].astype("M8[s]")
    ids = np.empty(face.size, dtype="<U16")
    for code in np.unique(country).tolist():
        rows = np.flatnonzero(country == code)
        ids[rows] = [f"{code}-ENC-{k:08d}" for k in range(1, rows.size + 1)]
    day = (time.astype("M8[D]") - np.datetime64(draw.calendar.start, "D")).astype(np.int64)
    template = draw.model.captures(
        latents[face],
        draw.rngs["captures"] if captures is None else captures,
        noise_multiplier=noise[face],
    )
    template.flags.writeable = False
    return Encounters(
        encounter_id=ids,
        country=country,
        border_point=columns["point"][order].astype("<U32"),
        time=time,
        day=day,
        face=face,
        alias=columns["alias"][order].astype(np.bool_),
        template=template,
    )


def merge_encounters(first: Encounters, second: Encounters) -> Encounters:
    """Both sets of encounters in time (then face) order; each keeps its ids and captures."""
    order = np.lexsort(
        (np.concatenate([first.face, second.face]), np.concatenate([first.time, second.time]))
    )

    def both(a: NDArray[Any], b: NDArray[Any]) -> NDArray[Any]:
        merged: NDArray[Any] = np.concatenate([a, b])[order]
        return merged

    template = both(first.template, second.template)
    template.flags.writeable = False
    return Encounters(
        encounter_id=both(first.encounter_id, second.encounter_id),
        country=both(first.country, second.country),
        border_point=both(first.border_point, second.border_point),
        time=both(first.time, second.time),
        day=both(first.day, second.day),
        face=both(first.face, second.face),
        alias=both(first.alias, second.alias),
        template=template,
    )
