"""The world's first part: who moves through the nodes and where they are met.

Travellers (fraud travellers among them), their journeys and encounters at
Chile's and Panama's nodes, and the surge's arrivals, each from its own
stream of ``Draw``. ``world.draw_world`` goes on from here (faces, captures,
watchlists, Mexico); the surge study (``surge_study``) needs only this part.
SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.simulation.draws import Draw, concat_people
from biometric_exchange.simulation.flow import (
    Columns,
    SurgeTruth,
    corridor_flow,
    corridor_journeys,
    surge_arrivals,
)
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.synthetic.corridor import Journeys
from biometric_exchange.synthetic.identities import People


@dataclass(frozen=True)
class Moving:
    """Who moves through the nodes and where they are met: the world's first part."""

    fraud_faces: NDArray[np.int64]
    fraud: NDArray[np.bool_]
    """Per traveller."""
    aliases: People
    journeys: Journeys
    moving: People
    """Travellers, then surge arrivals (one row per face)."""
    columns: list[Columns]
    """The encounters at Chile's and Panama's nodes, then the surge's."""
    surge: SurgeTruth | None


def draw_moving(scenario: Scenario, draw: Draw) -> Moving:
    """Travellers, their journeys and encounters, and the surge's arrivals, from
    ``draw``'s streams in the world's order (``draw_world`` goes on from here)."""
    rngs = draw.rngs
    n = scenario.population.migrants
    fraud_faces = np.sort(
        rngs["people"].choice(n, round(n * scenario.population.fraud_share), replace=False)
    ).astype(np.int64)
    fraud = np.zeros(n, dtype=np.bool_)
    fraud[fraud_faces] = True
    travellers = draw.people("people", n, adult=fraud)
    aliases = draw.people(
        "people",
        fraud_faces.size,
        sex=travellers.sex[fraud_faces],
        adult=np.ones(fraud_faces.size, dtype=np.bool_),
    )
    lead_days = scenario.population.lead_days
    journeys = corridor_journeys(draw, travellers, fraud, lead_days=lead_days)
    columns = [corridor_flow(draw, journeys, fraud)]
    moving_parts = [travellers]
    surge = None
    if scenario.surge is not None:
        arrivals, surge_columns, surge = surge_arrivals(draw, scenario.surge, first_face=n)
        moving_parts.append(arrivals)
        columns.append(surge_columns)
    moving = concat_people(moving_parts)
    return Moving(fraud_faces, fraud, aliases, journeys, moving, columns, surge)
