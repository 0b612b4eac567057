"""What the matcher reports of each watchlist entry, kept as arrays (``matching.labels``).

An entry's kind is its category and the facts that make its subject a
protected person (nationality, legal status, unaccompanied minor); its last
day in force is a day number. Distinct kinds are few, so the protected
category (``agreement.policy.category_of``) is decided once per kind when
the labels are opened, never stored: a change of that rule applies to every
snapshot. Nothing here holds a Python object per entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.agreement.policy import category_of
from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.domain import LegalStatus, WatchlistCategory
from biometric_exchange.matching.labels import NO_END, EntryLabels, Kind, LabelError
from biometric_exchange.store.records import WatchlistLabel

Described = tuple[WatchlistCategory, ProtectedCategory | None]
Numbers = Callable[[Sequence[str]], NDArray[np.int64]]
"""Each id's number (its index in the labels), -1 for an id they do not hold."""


def kind_of(label: WatchlistLabel) -> Kind:
    return (
        label.category.value,
        label.nationality,
        label.legal_status.value,
        "1" if label.unaccompanied_minor else "0",
    )


def last_day(label: WatchlistLabel) -> int:
    """The label's last day in force as a proleptic ordinal (``NO_END``: none)."""
    return label.valid_until.toordinal() if label.valid_until is not None else NO_END


def _described(kind: Kind) -> Described:
    if len(kind) != 4 or kind[3] not in ("0", "1"):
        raise LabelError(f"kind {kind!r}: expected category, nationality, status, minor")
    try:
        category, status = WatchlistCategory(kind[0]), LegalStatus(kind[2])
    except ValueError as exc:
        raise LabelError(f"kind {kind!r}: {exc}") from exc
    protected = category_of(
        nationality_code=kind[1], legal_status=status, unaccompanied_minor=kind[3] == "1"
    )
    return category, protected


class WatchlistLabels:
    """Each entry's category and protected category, found by id; which are in force."""

    def __init__(self, labels: EntryLabels, numbers: Numbers) -> None:
        """LabelError if a kind is not one this release knows."""
        self.labels = labels
        self._numbers = numbers
        self._kinds = [_described(kind) for kind in labels.kinds]

    def in_force(self, day: dt.date) -> NDArray[np.bool_]:
        return self.labels.in_force(day.toordinal())

    def describe(self, ids: Sequence[str]) -> list[Described]:
        """The category and protected category of each of ``ids`` (all held here)."""
        numbers = self._numbers(ids)
        if bool(np.any(numbers < 0)):
            raise KeyError("an id the watchlist labels do not hold")
        kinds = self._kinds
        return [kinds[code] for code in self.labels.kind[numbers].tolist()]


def by_position(ids: Sequence[str]) -> Numbers:
    """Numbers of ids by their position in ``ids`` (a dict: for labels read from rows)."""
    position = {ident: number for number, ident in enumerate(ids)}

    def numbers(wanted: Sequence[str]) -> NDArray[np.int64]:
        return np.fromiter((position.get(i, -1) for i in wanted), np.int64, len(wanted))

    return numbers
