"""A family of series, day by day: test each series, correct across the day, flag.

The family of a day is every series tested that day — at a node, its own and
each partner's, every nationality and border point with enough history — whose
exact test can reach ``ALPHA`` (``family.can_reach``). Holm's procedure over it
bounds the chance of any false surge that day at ``ALPHA``. A day graded a
surge is flagged, as is a day that raised one in an earlier run (``Placed.flagged``,
from the alerts' evidence): later days leave it out of their baselines and do
not join it into a two-day window, so one excess raises one surge.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from biometric_exchange.surge.detector import (
    MIN_HISTORY_DAYS,
    Assessment,
    DayTest,
    Series,
    assess_day,
)
from biometric_exchange.surge.family import can_reach, holm
from biometric_exchange.surge.impact import ALPHA

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Placed:
    """A series on the family's day axis: its first day is family day ``offset``."""

    offset: int
    series: Series
    flagged: frozenset[int] = frozenset()
    """Days of the series (indices) that raised a surge before this scan."""


def scan(
    family: Mapping[K, Placed], days: int, *, alpha: float = ALPHA
) -> list[tuple[K, int, Assessment]]:
    """The surges of family days 0 to ``days - 1``: (key, family day, assessment),
    oldest day first; ``alpha`` is the family-wise error rate of each day."""
    flagged: dict[K, set[int]] = {key: set(placed.flagged) for key, placed in family.items()}
    found: list[tuple[K, int, Assessment]] = []
    for day in range(days):
        tests: dict[K, DayTest] = {}
        for key, placed in family.items():
            index = day - placed.offset
            if not MIN_HISTORY_DAYS <= index < len(placed.series):
                continue
            test = assess_day(placed.series, index, flagged[key])
            if test is not None and can_reach(test.smallest, alpha):
                tests[key] = test
        keys = list(tests)
        adjusted = holm([tests[key].p_value for key in keys])
        for key, p in zip(keys, adjusted, strict=True):
            if p >= alpha:
                continue
            assessment = Assessment.of(tests[key], p, len(keys), alpha)
            if assessment.impact is not None:
                flagged[key].add(day - family[key].offset)
                found.append((key, day, assessment))
    return found


def scan_one(counts: Sequence[int], *, alpha: float = ALPHA) -> list[tuple[int, Assessment]]:
    """The surges of one series tested alone (a family of one): (day, assessment)."""
    placed = {0: Placed(0, Series.of(counts))}
    found = scan(placed, len(counts), alpha=alpha)
    return [(day, assessment) for _, day, assessment in found]
