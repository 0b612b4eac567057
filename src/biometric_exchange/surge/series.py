"""Daily counts → the series a monitor run tests, on one day axis.

One series per (party, nationality, border point), from the party's first day
of data (earlier days are not zeros) to today. A day without a count is [0, 0]
in our own series and [0, ``missing``] in a partner's: a partner leaves out
counts under the suppression threshold, so a missing day hid 0 to 4.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from biometric_exchange.domain import DailyCount
from biometric_exchange.surge.detector import Series
from biometric_exchange.surge.scan import Placed

SeriesKey = tuple[str, str, str]
"""(party, nationality, border point)."""


@dataclass(frozen=True)
class PartyCounts:
    """One party's counts, where its series start, and what a missing day may hide."""

    party: str
    counts: Sequence[DailyCount]
    first_day: dt.date
    missing: int = 0
    """The largest count a missing day may hide: 0 for ours, 4 for a partner's."""


def party_series(source: PartyCounts, today: dt.date) -> dict[SeriesKey, Series]:
    """``source``'s series over [first_day, today]; counts outside are ignored."""
    span = (today - source.first_day).days + 1
    if span <= 0:
        return {}
    known: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for c in source.counts:
        if source.first_day <= c.day <= today:
            days = known[(c.nationality, c.border_point)]
            index = (c.day - source.first_day).days
            days[index] = days.get(index, 0) + c.count
    series = {}
    for (nationality, border_point), days in known.items():
        low = tuple(days.get(i, 0) for i in range(span))
        high = tuple(days.get(i, source.missing) for i in range(span))
        series[(source.party, nationality, border_point)] = Series(low, high)
    return series


def build_family(
    sources: Iterable[PartyCounts],
    today: dt.date,
    raised: Mapping[SeriesKey, Collection[dt.date]] | None = None,
) -> tuple[dt.date, dict[SeriesKey, Placed]]:
    """(day 0, every series placed on the axis from day 0 to ``today``), each with the
    days in ``raised`` (days that raised a surge already) as flagged."""
    sources = [s for s in sources if s.first_day <= today]
    start = min((s.first_day for s in sources), default=today)
    family: dict[SeriesKey, Placed] = {}
    for source in sources:
        offset = (source.first_day - start).days
        for key, series in party_series(source, today).items():
            days = (raised or {}).get(key, ())
            flagged = frozenset((day - source.first_day).days for day in days)
            family[key] = Placed(offset, series, frozenset(i for i in flagged if i >= 0))
    return start, family
