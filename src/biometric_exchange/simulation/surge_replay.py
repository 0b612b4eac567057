"""The surge monitor over a scenario's daily counts, day by day as the runner runs it.

At the end of each simulated day every node runs ``surge.monitor.surges_of`` on
what its store would hold: its own counts of the window (unsuppressed) and each
partner's counts as that partner shares them (``suppression.suppress``: 5 or
more), a partner's series starting at the first day it shared anything. The
surges of at least ``MIN_ALERT_IMPACT`` are those that raise or extend a
FLOW_SURGE alert, and their days stay flagged in later runs as the alerts'
evidence keeps them at a node (``monitor.raised_days``). No node, store or
transport: only the counts and the monitor's own statistics, so a hundred
seeds take seconds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from biometric_exchange.domain import DailyCount
from biometric_exchange.simulation.surge_counts import WorldCounts
from biometric_exchange.surge.impact import IMPACT_ORDER
from biometric_exchange.surge.monitor import MIN_ALERT_IMPACT, WINDOW_DAYS, Surge, surges_of
from biometric_exchange.surge.series import PartyCounts, SeriesKey
from biometric_exchange.surge.suppression import SUPPRESSION_THRESHOLD, suppress


@dataclass(frozen=True)
class Raised:
    """A surge a node's monitor raised on simulated day ``run_day``."""

    node: str
    run_day: int
    surge: Surge
    surge_day: int
    """The simulated day the surge flags (``run_day`` or one of the days before)."""

    @property
    def series(self) -> tuple[str, str, str]:
        return (self.surge.party, self.surge.nationality, self.surge.border_point)


def _first_day(days: Sequence[list[DailyCount]], today: int) -> int | None:
    return next((d for d in range(today + 1) if days[d]), None)


def _window(days: Sequence[list[DailyCount]], first: int, today: int) -> list[DailyCount]:
    return [c for d in range(first, today + 1) for c in days[d]]


def replay(counts: WorldCounts) -> list[Raised]:
    """Every surge each node's monitor raises over the run, oldest run first."""
    calendar = counts.calendar
    shared = {node: [suppress(day) for day in days] for node, days in counts.by_node.items()}
    raised: list[Raised] = []
    held: set[tuple[str, str, str]] = set()
    days: dict[str, dict[SeriesKey, set[dt.date]]] = {n: defaultdict(set) for n in counts.by_node}
    floor = IMPACT_ORDER.index(MIN_ALERT_IMPACT)
    for today in range(calendar.days):
        for node in counts.by_node:
            sources = _sources(counts, shared, node, today)
            for surge in surges_of(sources, calendar.date(today), raised=days[node]):
                key = (node, surge.subject_key, surge.evidence_key)
                if IMPACT_ORDER.index(surge.impact) >= floor and key not in held:
                    held.add(key)
                    days[node][(surge.party, surge.nationality, surge.border_point)].add(surge.day)
                    raised.append(Raised(node, today, surge, calendar.day_of(surge.day)))
    return raised


def _sources(
    counts: WorldCounts, shared: dict[str, list[list[DailyCount]]], node: str, today: int
) -> list[PartyCounts]:
    """What ``node``'s store holds at the end of ``today``, over one run's window."""
    calendar = counts.calendar
    sources = []
    for party, days, missing in [
        (node, counts.by_node[node], 0),
        *[(p, shared[p], SUPPRESSION_THRESHOLD - 1) for p in counts.by_node if p != node],
    ]:
        first = _first_day(days, today)
        if first is None:
            continue
        first = max(first, today - (WINDOW_DAYS - 1))
        start = calendar.date(first)
        sources.append(PartyCounts(party, _window(days, first, today), start, missing))
    return sources
