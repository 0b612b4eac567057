"""A scenario's daily counts per node, from the world's own generators, without faces.

The same streams as ``world.draw_world`` (``moving.draw_moving``, and Mexico's
encounters when Mexico is a node), so a seed gives the counts a full run of it
would store, per UTC day, nationality and border point; no templates,
watchlists or node folders are made. Names come from one fixed set of pools
(``Draw.names_seed``): they change no count and are built once. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from biometric_exchange.domain import DailyCount
from biometric_exchange.simulation.draws import Calendar, Draw
from biometric_exchange.simulation.flow import SurgeTruth, merge_columns, mexico_flow
from biometric_exchange.simulation.listings import MEXICO
from biometric_exchange.simulation.moving import draw_moving
from biometric_exchange.simulation.scenario import Scenario

NAMES_SEED = 0
"""The one set of name pools every study run draws from."""


@dataclass(frozen=True)
class WorldCounts:
    """Each node's encounters per day (index into the calendar), and the surge's truth."""

    calendar: Calendar
    by_node: dict[str, list[list[DailyCount]]]
    """Country → one list per simulated day."""
    surge: SurgeTruth | None


def daily_counts(scenario: Scenario, calendar: Calendar) -> WorldCounts:
    """The daily counts a run of ``scenario`` over ``calendar`` enrols at each node."""
    draw = Draw(scenario.seed, calendar, names_seed=NAMES_SEED)
    drawn = draw_moving(scenario, draw)
    parts = list(drawn.columns)
    if MEXICO in scenario.nodes.countries:
        parts.append(mexico_flow(draw, drawn.journeys, drawn.fraud))
    columns = merge_columns(parts)
    day = (columns["time"].astype("M8[D]") - np.datetime64(calendar.start, "D")).astype(np.int64)
    nationality = drawn.moving.nationality[columns["face"]]
    cells = Counter(
        zip(
            columns["country"].tolist(),
            day.tolist(),
            nationality.tolist(),
            columns["point"].tolist(),
            strict=True,
        )
    )
    by_node: dict[str, list[list[DailyCount]]] = {
        country: [[] for _ in range(calendar.days)] for country in scenario.nodes.countries
    }
    for (country, index, code, point), count in sorted(cells.items()):
        if country in by_node:
            by_node[country][index].append(DailyCount(calendar.date(index), code, point, count))
    return WorldCounts(calendar, by_node, drawn.surge)
