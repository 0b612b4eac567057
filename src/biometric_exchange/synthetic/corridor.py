"""Journeys north along the corridor, and where the two nodes meet travellers.

The corridor: (Chile →) Peru / Ecuador / Colombia → Necoclí → the Darién gap
→ a Panamanian reception station (Lajas Blancas or San Vicente) → Paso
Canoas → Costa Rica, Nicaragua, Honduras, Guatemala, Mexico → the United
States. A route is the southern part of a journey; every route joins the
common part at Necoclí. A stop is a border point or hub with the date of
arrival there; its country is the point's first three letters.

Who starts where (illustrative, not statistics): a share of each nationality
leaves from Chile (``CHILE_START``: all Chilean nationals, who are mostly
children of Haitian parents, half the Haitians, a quarter of the
Venezuelans, few others); the rest start at home or fly in (Ecuador's
visa-free entry drew many Asian travellers; Brazil's humanitarian visas drew
Haitians and Afghans). ``TURNED_BACK`` of journeys end before the Darién;
``COMPLETE_SHARE`` reach the United States, the others end at a random later
stop.

Node encounters: Chile records a departing traveller with
``CHL_RECORDED``; Panama registers arrivals at the reception station with
``PAN_RECORDED`` and checks again at Paso Canoas with ``PAN_EXIT_CHECKED``.
Each encounter has 1 to 3 captures (1 + Binomial(2, ``EXTRA_CAPTURE``)).
Mexico, when a third node joins the corridor, records a journey that reaches
Tapachula with ``MEX_RECORDED`` (``mexico_encounters``, drawn from its own
stream so that the Chile and Panama encounters stay as they are).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

DARIEN_RECEPTION = "PAN-DARIEN"
"""Placeholder in routes for the reception station, chosen per traveller."""
RECEPTION_STATIONS = ("PAN-DARIEN-LAJAS-BLANCAS", "PAN-DARIEN-SAN-VICENTE")
RECEPTION_WEIGHTS = (0.6, 0.4)
PAN_EXIT = "PAN-PASO-CANOAS"
NECOCLI = "COL-NECOCLI"

COMMON: tuple[str, ...] = (
    NECOCLI,
    "COL-CAPURGANA",
    DARIEN_RECEPTION,
    PAN_EXIT,
    "CRI-PENAS-BLANCAS",
    "NIC-LAS-MANOS",
    "HND-TROJES",
    "GTM-AGUA-CALIENTE",
    "MEX-TAPACHULA",
    "USA-EL-PASO",
)
ROUTES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "chile-land": (
            "CHL-CHACALLUTA",
            "PER-TACNA",
            "PER-TUMBES",
            "ECU-HUAQUILLAS",
            "ECU-RUMICHACA",
            "COL-IPIALES",
        ),
        "chile-altiplano": (
            "CHL-COLCHANE",
            "BOL-PISIGA",
            "PER-DESAGUADERO",
            "PER-TUMBES",
            "ECU-HUAQUILLAS",
            "ECU-RUMICHACA",
            "COL-IPIALES",
        ),
        "chile-air": ("CHL-SANTIAGO-AIRPORT", "COL-BOGOTA-AIRPORT"),
        "brazil": (
            "BRA-ASSIS-BRASIL",
            "PER-INAPARI",
            "PER-TUMBES",
            "ECU-HUAQUILLAS",
            "ECU-RUMICHACA",
            "COL-IPIALES",
        ),
        "peru": ("PER-TUMBES", "ECU-HUAQUILLAS", "ECU-RUMICHACA", "COL-IPIALES"),
        "ecuador-land": ("ECU-RUMICHACA", "COL-IPIALES"),
        "ecuador-air": ("ECU-QUITO-AIRPORT", "ECU-RUMICHACA", "COL-IPIALES"),
        "venezuela": ("VEN-SAN-ANTONIO", "COL-CUCUTA"),
        "colombia": (),
        "colombia-air": ("COL-BOGOTA-AIRPORT",),
    }
)
"""Southern part of each route, up to (not including) Necoclí."""

DWELL_DAYS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "CHL-SANTIAGO-AIRPORT": (0, 1),
        "COL-BOGOTA-AIRPORT": (1, 4),
        "ECU-QUITO-AIRPORT": (1, 5),
        NECOCLI: (2, 10),
        "COL-CAPURGANA": (3, 8),
        DARIEN_RECEPTION: (1, 4),
    }
)
"""Days from arriving at a point to arriving at the next, uniform in [lo, hi]."""
DEFAULT_DWELL = (1, 4)

CHILE_START: Mapping[str, float] = MappingProxyType({"CHL": 1.0, "HTI": 0.5, "VEN": 0.25})
CHILE_START_REGIONAL = 0.1
CHILE_START_EXTRA_REGIONAL = 0.05
CHILE_ROUTES: Mapping[str, float] = MappingProxyType(
    {"chile-land": 0.7, "chile-altiplano": 0.1, "chile-air": 0.2}
)
HOME_ROUTES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "VEN": {"venezuela": 1.0},
        "ECU": {"ecuador-land": 1.0},
        "COL": {"colombia": 1.0},
        "PER": {"peru": 1.0},
        "HTI": {"brazil": 1.0},
        "BRA": {"brazil": 1.0},
        "DOM": {"colombia-air": 1.0},
        "CUB": {"colombia-air": 1.0},
    }
)
EXTRA_REGIONAL_ROUTES: Mapping[str, float] = MappingProxyType({"ecuador-air": 0.7, "brazil": 0.3})
REGIONAL_ROUTES: Mapping[str, float] = MappingProxyType({"colombia-air": 1.0})

TURNED_BACK = 0.02
COMPLETE_SHARE = 0.8
CHL_RECORDED = 0.85
PAN_RECORDED = 0.97
PAN_EXIT_CHECKED = 0.1
EXTRA_CAPTURE = 0.2
MEX_POINT = "MEX-TAPACHULA"
"""Where Mexico's node meets travellers (the first stop in Mexico)."""
MEX_RECORDED = 0.7
"""Share of the journeys reaching Tapachula that Mexico's node records (illustrative)."""


@dataclass(frozen=True)
class Journeys:
    """One journey per traveller (a chunk's travelling faces), as columns."""

    face: NDArray[np.int64]
    route: NDArray[np.str_]
    points: list[tuple[str, ...]]
    """The stops reached, in order (reception station filled in)."""
    dates: NDArray[np.datetime64]
    """Arrival date per stop, padded to the longest journey (M8[D], n rows)."""


@dataclass(frozen=True)
class NodeEncounters:
    """Encounters at the two nodes, as columns."""

    face: NDArray[np.int64]
    journey: NDArray[np.int64]
    country: NDArray[np.str_]
    border_point: NDArray[np.str_]
    time: NDArray[np.datetime64]
    """M8[s], UTC."""
    alias: NDArray[np.bool_]
    """True where the traveller presented their second (fraudulent) identity."""
    captures: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.face.size)


def _pick(rng: np.random.Generator, options: Mapping[str, float], n: int) -> NDArray[np.str_]:
    names = np.asarray(list(options))
    weights = np.asarray(list(options.values()), dtype=np.float64)
    picked: NDArray[np.str_] = names[rng.choice(names.size, size=n, p=weights / weights.sum())]
    return picked


def choose_routes(
    rng: np.random.Generator, nationality: NDArray[np.str_], extra: NDArray[np.bool_]
) -> NDArray[np.str_]:
    """A route per traveller: from Chile with the nationality's share, else from home."""
    n = nationality.size
    chile_share = np.where(extra, CHILE_START_EXTRA_REGIONAL, CHILE_START_REGIONAL)
    for code, share in CHILE_START.items():
        chile_share[nationality == code] = share
    from_chile = rng.random(n) < chile_share
    routes = np.empty(n, dtype="<U16")
    routes[from_chile] = _pick(rng, CHILE_ROUTES, int(from_chile.sum()))
    for code in np.unique(nationality[~from_chile]):
        rows = np.flatnonzero(~from_chile & (nationality == code))
        fallback = EXTRA_REGIONAL_ROUTES if extra[rows[0]] else REGIONAL_ROUTES
        routes[rows] = _pick(rng, HOME_ROUTES.get(str(code), fallback), rows.size)
    return routes


def draw_journeys(
    rng: np.random.Generator,
    face: NDArray[np.int64],
    routes: NDArray[np.str_],
    start: dt.date,
    *,
    window_days: int,
    must_reach_panama: NDArray[np.bool_],
) -> Journeys:
    """Dates and stops of each traveller's journey, starting within the window."""
    n = face.size
    width = max(len(ROUTES[r]) for r in ROUTES) + len(COMMON)
    dates = np.full((n, width), np.datetime64("NaT"), dtype="M8[D]")
    points: list[tuple[str, ...]] = [()] * n
    first_day = np.datetime64(start, "D") + rng.integers(0, window_days, n).astype("m8[D]")
    station = rng.choice(len(RECEPTION_STATIONS), size=n, p=RECEPTION_WEIGHTS)
    turned = (rng.random(n) < TURNED_BACK) & ~must_reach_panama
    complete = rng.random(n) < COMPLETE_SHARE
    cut = rng.random(n)
    for route in np.unique(routes):
        rows = np.flatnonzero(routes == route)
        stops = ROUTES[str(route)] + COMMON
        gaps = np.stack(
            [rng.integers(lo, hi + 1, rows.size) for lo, hi in map(_dwell, stops[:-1])], axis=1
        )
        days = np.concatenate([np.zeros((rows.size, 1), np.int64), np.cumsum(gaps, axis=1)], 1)
        dates[rows, : len(stops)] = first_day[rows, None] + days.astype("m8[D]")
        reception = stops.index(DARIEN_RECEPTION)
        variants = [
            tuple(station_name if p == DARIEN_RECEPTION else p for p in stops)
            for station_name in RECEPTION_STATIONS
        ]
        for row in rows:
            if turned[row]:
                length = stops.index(NECOCLI) + 1
            elif complete[row]:
                length = len(stops)
            else:  # ends somewhere after the reception station
                length = reception + 1 + int(cut[row] * (len(stops) - reception - 1))
            if must_reach_panama[row]:  # to Paso Canoas at least
                length = max(length, reception + 2)
            points[row] = variants[station[row]][:length]
    return Journeys(face=face, route=routes, points=points, dates=dates)


def _dwell(point: str) -> tuple[int, int]:
    return DWELL_DAYS.get(point, DEFAULT_DWELL)


def node_encounters(
    rng: np.random.Generator, journeys: Journeys, fraud: NDArray[np.bool_]
) -> NodeEncounters:
    """Encounters at CHL and PAN; a fraud traveller shows each identity at least once.

    A fraud traveller (``fraud`` per journey) is always recorded at the first
    node and checked again later: the first encounter under the primary
    identity, later ones (CHL then PAN, or PAN reception then Paso Canoas)
    under the alias.
    """
    n = len(journeys.points)
    chl_roll, pan_roll, exit_roll = rng.random((3, n))
    rows: list[tuple[int, str, str, int, bool]] = []
    for row, stops in enumerate(journeys.points):
        visits: list[tuple[str, str, int]] = []
        if stops[0].startswith("CHL-") and (fraud[row] or chl_roll[row] < CHL_RECORDED):
            visits.append(("CHL", stops[0], 0))
        reception = _reception_index(stops)
        if reception is not None:
            if fraud[row] or pan_roll[row] < PAN_RECORDED:
                visits.append(("PAN", stops[reception], reception))
            checked = exit_roll[row] < PAN_EXIT_CHECKED or (fraud[row] and len(visits) < 2)
            if checked and len(stops) > reception + 1:
                visits.append(("PAN", PAN_EXIT, reception + 1))
        for number, (country, point, at) in enumerate(visits):
            rows.append((row, country, point, at, bool(fraud[row]) and number >= 1))
    count = len(rows)
    journey = np.asarray([r[0] for r in rows], dtype=np.int64)
    stop = np.asarray([r[3] for r in rows], dtype=np.int64)
    seconds = rng.integers(0, 86_400, count).astype("m8[s]")
    day = journeys.dates[journey, stop]
    return NodeEncounters(
        face=journeys.face[journey],
        journey=journey,
        country=np.asarray([r[1] for r in rows], dtype="<U3"),
        border_point=np.asarray([r[2] for r in rows], dtype="<U32"),
        time=day.astype("M8[s]") + seconds,
        alias=np.asarray([r[4] for r in rows], dtype=np.bool_),
        captures=1 + rng.binomial(2, EXTRA_CAPTURE, count),
    )


def _reception_index(stops: tuple[str, ...]) -> int | None:
    for index, point in enumerate(stops):
        if point in RECEPTION_STATIONS:
            return index
    return None


def mexico_encounters(
    rng: np.random.Generator, journeys: Journeys, fraud: NDArray[np.bool_]
) -> NodeEncounters:
    """Encounters at Mexico's node: a journey reaching ``MEX_POINT`` is recorded with
    ``MEX_RECORDED``. A fraud traveller was met twice before (``node_encounters``), so
    Mexico sees their alias. Draws only from ``rng``."""
    n = len(journeys.points)
    roll = rng.random(n)
    journey = np.asarray(
        [
            row
            for row, stops in enumerate(journeys.points)
            if MEX_POINT in stops and roll[row] < MEX_RECORDED
        ],
        dtype=np.int64,
    )
    stop = np.asarray(
        [journeys.points[row].index(MEX_POINT) for row in journey.tolist()], dtype=np.int64
    )
    count = int(journey.size)
    seconds = rng.integers(0, 86_400, count).astype("m8[s]")
    day = journeys.dates[journey, stop]
    return NodeEncounters(
        face=journeys.face[journey],
        journey=journey,
        country=np.full(count, "MEX", dtype="<U3"),
        border_point=np.full(count, MEX_POINT, dtype="<U32"),
        time=day.astype("M8[s]") + seconds,
        alias=fraud[journey].astype(np.bool_),
        captures=1 + rng.binomial(2, EXTRA_CAPTURE, count),
    )
