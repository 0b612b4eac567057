"""Who is on which country's watchlist, under which category, valid when.

Each country (owner) lists, independently (illustrative rates):

* a travelling adult with ``TRAVELLER_LISTED``, in a category drawn by
  ``CATEGORY_WEIGHTS``; a travelling minor only as a missing person, with
  ``TRAVELLER_LISTED`` (``UNACCOMPANIED_LISTED`` if unaccompanied);
* a fraud traveller (same face, two identities) for a fraudulent document
  with ``FRAUD_LISTED``, under the primary identity;
* every non-travelling subject (made only to fill the watchlists) exactly
  once, with a random owner.

Validity: from 30 days to 5 years before the population's start date; no
expiry with ``NO_EXPIRY``, else valid for 2 to 10 years, so some entries have
lapsed before the traveller is met (the ground truth says so).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import WatchlistCategory

OWNERS = ("CHL", "PAN")
CATEGORY_WEIGHTS: Mapping[WatchlistCategory, float] = MappingProxyType(
    {
        WatchlistCategory.ARREST_WARRANT: 0.2,
        WatchlistCategory.TRAFFICKING_SUSPECT: 0.1,
        WatchlistCategory.SMUGGLING_NETWORK: 0.15,
        WatchlistCategory.MISSING_PERSON: 0.1,
        WatchlistCategory.DEPORTATION_ORDER: 0.3,
        WatchlistCategory.FRAUDULENT_DOCUMENT: 0.15,
    }
)
TRAVELLER_LISTED = 0.003
UNACCOMPANIED_LISTED = 0.05
FRAUD_LISTED = 0.3
NO_EXPIRY = 0.25
LISTED_DAYS_BEFORE = (30, 5 * 365)
VALID_DAYS = (2 * 365, 10 * 365)


@dataclass(frozen=True)
class Listings:
    """Watchlist entries of one chunk, as columns (``face``: chunk face index)."""

    face: NDArray[np.int64]
    owner: NDArray[np.str_]
    category: NDArray[np.str_]
    valid_from: NDArray[np.datetime64]
    valid_until: NDArray[np.datetime64]
    """M8[D]; NaT where the entry never expires."""

    def __len__(self) -> int:
        return int(self.face.size)


def draw_listings(
    rng: np.random.Generator,
    *,
    travelling: NDArray[np.bool_],
    minor: NDArray[np.bool_],
    unaccompanied: NDArray[np.bool_],
    fraud: NDArray[np.bool_],
    start: dt.date,
) -> Listings:
    """Entries for a chunk's faces (flags per face), ordered by owner then face."""
    n = travelling.size
    categories = np.asarray([c.value for c in CATEGORY_WEIGHTS])
    weights = np.asarray(list(CATEGORY_WEIGHTS.values()))
    only_owner = rng.integers(0, len(OWNERS), n)
    faces: list[NDArray[np.int64]] = []
    owners: list[NDArray[np.str_]] = []
    chosen: list[NDArray[np.str_]] = []
    for number, owner in enumerate(OWNERS):
        rate = np.where(unaccompanied, UNACCOMPANIED_LISTED, TRAVELLER_LISTED)
        roll = rng.random(n)
        fraud_listed = travelling & fraud & (rng.random(n) < FRAUD_LISTED)
        listed = (
            (travelling & (roll < rate)) | fraud_listed | (~travelling & (only_owner == number))
        )
        category = categories[rng.choice(categories.size, size=n, p=weights / weights.sum())]
        category[minor] = WatchlistCategory.MISSING_PERSON.value
        category[fraud_listed] = WatchlistCategory.FRAUDULENT_DOCUMENT.value
        rows = np.flatnonzero(listed)
        faces.append(rows.astype(np.int64))
        owners.append(np.full(rows.size, owner, dtype="<U3"))
        chosen.append(category[rows])
    face = np.concatenate(faces)
    count = face.size
    anchor = np.datetime64(start, "D")
    valid_from = anchor - rng.integers(*LISTED_DAYS_BEFORE, count, endpoint=True).astype("m8[D]")
    valid_until = valid_from + rng.integers(*VALID_DAYS, count, endpoint=True).astype("m8[D]")
    valid_until[rng.random(count) < NO_EXPIRY] = np.datetime64("NaT")
    return Listings(
        face=face,
        owner=np.concatenate(owners),
        category=np.concatenate(chosen),
        valid_from=valid_from,
        valid_until=valid_until,
    )


def in_force(
    valid_from: NDArray[np.datetime64],
    valid_until: NDArray[np.datetime64],
    day: NDArray[np.datetime64],
) -> NDArray[np.bool_]:
    """Whether each entry is in force on ``day`` (NaT ``valid_until``: no expiry)."""
    result: NDArray[np.bool_] = (valid_from <= day) & (np.isnat(valid_until) | (day <= valid_until))
    return result
