"""Who is on which country's watchlist, under which category, valid when.

Each country lists travellers with ``prevalence`` (minors as missing persons,
otherwise a category drawn by ``synthetic.watchlists.CATEGORY_WEIGHTS``),
fraud travellers with ``fraud_listed`` (fraudulent document, under the
primary identity), and ``fillers`` people who never travel. An entry never
expires (``no_expiry``), lapsed before the first simulated day (``lapsed``),
or stays valid past the last day: no entry changes status during a run, as
the nodes judge validity by their own clock. Travellers' entries and fillers
come from separate streams, so runs that differ only in ``fillers`` list the
same travellers; Mexico's watchlist, drawn alike, comes from Mexico's own
streams, so adding Mexico leaves Chile's and Panama's as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import WatchlistCategory
from biometric_exchange.simulation.draws import Calendar, Draw
from biometric_exchange.simulation.scenario import WatchlistSection
from biometric_exchange.synthetic.identities import People
from biometric_exchange.synthetic.templates import Matrix
from biometric_exchange.synthetic.watchlists import CATEGORY_WEIGHTS

LAPSED_DAYS = (1, 3 * 365)
"""A lapsed entry lapsed this many days before the first simulated day."""
VALID_DAYS = (365, 8 * 365)
"""An entry with an expiry date stays valid this many days past the last day."""
Part = tuple[str, NDArray[np.int64], NDArray[np.str_]]
"""(owner, faces, categories)."""
MEXICO = "MEX"


@dataclass(frozen=True)
class Listings:
    """Every watchlist entry of a run, as columns."""

    entry_id: NDArray[np.str_]
    owner: NDArray[np.str_]
    face: NDArray[np.int64]
    category: NDArray[np.str_]
    valid_until: NDArray[np.datetime64]
    """M8[D]; NaT where the entry never expires."""
    template: Matrix

    def __len__(self) -> int:
        return int(self.face.size)

    def in_force(self, calendar: Calendar) -> NDArray[np.bool_]:
        """Entries valid on every simulated day (none changes status during a run)."""
        first = np.datetime64(calendar.start, "D")
        valid: NDArray[np.bool_] = np.isnat(self.valid_until) | (self.valid_until >= first)
        return valid


def draw_listings(
    draw: Draw,
    spec: WatchlistSection,
    countries: tuple[str, ...],
    *,
    moving: People,
    fraud_faces: NDArray[np.int64],
    latents: Matrix,
    noise: NDArray[np.float64],
) -> Listings:
    """Each country's entries: listed travellers first, then its fillers (faces from
    ``len(moving)`` on, ``spec.fillers`` per country in ``countries`` order). Mexico's
    come from Mexico's own streams, after the others'."""
    n_moving = len(moving)
    fraud = np.zeros(n_moving, dtype=np.bool_)
    fraud[fraud_faces] = True
    owners = [c for c in countries if c != MEXICO]
    rng = draw.rngs["listings"]
    parts = [_listed(rng, owner, spec, moving, fraud) for owner in owners]
    columns = [_entries(draw, rng, parts=parts, spec=spec, latents=latents, noise=noise)]
    filler_rng = draw.rngs["fillers"]
    parts = [
        _fillers(filler_rng, owner, n_moving + number * spec.fillers, spec)
        for number, owner in enumerate(owners)
    ]
    columns.append(_entries(draw, filler_rng, parts=parts, spec=spec, latents=latents, noise=noise))
    if MEXICO in countries:
        streams = draw.mexico_rngs
        parts = [_listed(streams["listings"], MEXICO, spec, moving, fraud)]
        first_filler = n_moving + countries.index(MEXICO) * spec.fillers
        parts.append(_fillers(streams["fillers"], MEXICO, first_filler, spec))
        columns.append(
            _entries(
                draw, streams["listings"], parts=parts, spec=spec, latents=latents, noise=noise
            )
        )
    owner_column, face, category, valid_until, template = (
        np.concatenate([c[i] for c in columns]) for i in range(5)
    )
    ids = np.empty(owner_column.size, dtype="<U16")
    for code in countries:
        rows = np.flatnonzero(owner_column == code)
        ids[rows] = [f"{code}-WL-{k:07d}" for k in range(1, rows.size + 1)]
    template.flags.writeable = False
    return Listings(ids, owner_column, face.astype(np.int64), category, valid_until, template)


def _listed(
    rng: np.random.Generator,
    owner: str,
    spec: WatchlistSection,
    moving: People,
    fraud: NDArray[np.bool_],
) -> Part:
    """``owner``'s listed travellers: ``prevalence`` of them, and ``fraud_listed`` of the
    fraud travellers (fraudulent document); minors as missing persons."""
    n_moving = len(moving)
    listed_fraud = fraud & (rng.random(n_moving) < spec.fraud_listed)
    listed = (rng.random(n_moving) < spec.prevalence) | listed_fraud
    category = _categories(rng, n_moving)
    category[moving.minor] = WatchlistCategory.MISSING_PERSON.value
    category[listed_fraud] = WatchlistCategory.FRAUDULENT_DOCUMENT.value
    rows = np.flatnonzero(listed).astype(np.int64)
    return owner, rows, category[rows]


def _fillers(rng: np.random.Generator, owner: str, first_face: int, spec: WatchlistSection) -> Part:
    """``owner``'s entries on people who never travel: faces from ``first_face`` on."""
    faces = first_face + np.arange(spec.fillers, dtype=np.int64)
    return owner, faces, _categories(rng, spec.fillers)


def _categories(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    codes = np.asarray([c.value for c in CATEGORY_WEIGHTS], dtype="<U32")
    weights = np.asarray(list(CATEGORY_WEIGHTS.values()))
    picked: NDArray[np.str_] = codes[rng.choice(codes.size, n, p=weights / weights.sum())]
    return picked


def _entries(
    draw: Draw,
    rng: np.random.Generator,
    *,
    parts: list[Part],
    spec: WatchlistSection,
    latents: Matrix,
    noise: NDArray[np.float64],
) -> list[NDArray[np.generic]]:
    """[owner, face, category, valid_until, template] columns of ``parts``."""
    calendar = draw.calendar
    owner = np.concatenate([np.full(rows.size, code, dtype="<U3") for code, rows, _ in parts])
    face = np.concatenate([rows for _, rows, _ in parts]).astype(np.int64)
    category = np.concatenate([c for _, _, c in parts]).astype("<U32")
    count = face.size
    roll = rng.random(count)
    first = np.datetime64(calendar.start, "D")
    last = np.datetime64(calendar.end, "D")
    lapsed = first - rng.integers(*LAPSED_DAYS, count, endpoint=True).astype("m8[D]")
    valid = last + rng.integers(*VALID_DAYS, count, endpoint=True).astype("m8[D]")
    valid_until = np.where(roll < spec.lapsed, lapsed, valid).astype("M8[D]")
    valid_until[roll >= 1 - spec.no_expiry] = np.datetime64("NaT")
    template = draw.model.captures(
        latents[face], rng, noise_multiplier=noise[face], max_noise_factor=1.0
    )
    return [owner, face, category, valid_until, template]
