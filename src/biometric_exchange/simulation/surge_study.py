"""``bx evaluate --surge``: how often the surge monitor raises a false surge, and how
soon it raises a real one.

Over ``runs`` seeds of one scenario, twice: without a surge (every FLOW_SURGE is
false) and with an injected one (``SurgeSection``: nationality, border point,
start day, extra arrivals a day). Each run's daily counts come from the
scenario's own generators (``surge_counts``) and go through the monitor's code
day by day (``surge_replay``); no node is started. Per run: whether any node
raised a false surge (a series other than the injected one, or a day before it
began), and per node the delay from the surge's first day to the monitor run
that first raised it (0: the same evening). Shares come with 95 % Wilson
intervals, the median delay with its order-statistic interval.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import comb
from typing import Any

from biometric_exchange.evaluation.metrics import wilson_interval
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.scenario import Scenario, SurgeSection
from biometric_exchange.simulation.surge_counts import daily_counts
from biometric_exchange.simulation.surge_replay import Raised, replay
from biometric_exchange.surge.impact import ALPHA

START = dt.date(2026, 1, 1)
"""The studied calendar's first day (a seed draws the same counts on any date)."""
DEFAULT_SURGE = ("NPL", "PAN-DARIEN-LAJAS-BLANCAS")
"""Where a surge is injected when the scenario has none (``surge.toml``'s)."""
DEFAULT_SIZE = 10.0
Progress = Callable[[str, int, int], None]


def _quiet(_what: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class RunOutcome:
    seed: int
    false_surges: int
    """Surge days raised that are not the injected surge's."""
    delays: dict[str, int]
    """Node → days from the surge's first day to the run that first raised it."""


def injected(scenario: Scenario, size: float | None, start: int | None) -> SurgeSection:
    """The surge to inject: the scenario's own, with ``size`` (extra arrivals a day)
    and ``start`` (day index) when given; NPL at Lajas Blancas when it has none."""
    base = scenario.surge
    nationality, point = (base.nationality, base.border_point) if base else DEFAULT_SURGE
    start_day = start if start is not None else base.start_day if base else scenario.days * 3 // 5
    if not 0 <= start_day < scenario.days:
        raise InvalidInput(f"--surge-start: a day from 0 to {scenario.days - 1}, got {start_day}")
    extra = size if size is not None else base.extra_per_day if base else DEFAULT_SIZE
    if extra <= 0:
        raise InvalidInput(f"--surge-size: extra arrivals a day above 0, got {extra}")
    return SurgeSection(
        nationality=nationality, border_point=point, start_day=start_day, extra_per_day=extra
    )


def is_injected(r: Raised, surge: SurgeSection) -> bool:
    """Whether ``r`` flags the injected surge's series on or after its first day."""
    series = (surge.border_point[:3], surge.nationality, surge.border_point)
    return r.series == series and r.surge_day >= surge.start_day


def outcome(seed: int, raised: Sequence[Raised], surge: SurgeSection | None) -> RunOutcome:
    """A run's false surges and, per node, the delay to the injected one."""
    delays: dict[str, int] = {}
    false = 0
    for r in raised:
        if surge is not None and is_injected(r, surge):
            delays.setdefault(r.node, r.run_day - surge.start_day)
        else:
            false += 1
    return RunOutcome(seed, false, delays)


def run_seeds(
    scenario: Scenario, seeds: Sequence[int], *, what: str, progress: Progress = _quiet
) -> list[RunOutcome]:
    calendar = Calendar(START, scenario.days)
    outcomes = []
    for done, seed in enumerate(seeds):
        progress(what, done, len(seeds))
        counts = daily_counts(scenario.with_seed(seed), calendar)
        outcomes.append(outcome(seed, replay(counts), scenario.surge))
    return outcomes


def share(hits: int, runs: int) -> dict[str, Any]:
    low, high = wilson_interval(hits, runs)
    return {"runs": hits, "of": runs, "rate": hits / runs, "ci95": [low, high]}


def median_interval(values: Sequence[int]) -> tuple[int, int] | None:
    """A distribution-free 95 % interval for the median: order statistics r and
    n + 1 - r with P(r <= Binomial(n, 1/2) < n + 1 - r) >= 0.95 (None when n < 6)."""
    n = len(values)
    ordered = sorted(values)
    rank = 0
    while rank + 1 <= n // 2 and sum(comb(n, k) for k in range(rank + 1)) / 2**n <= 0.025:
        rank += 1
    if rank == 0:
        return None
    return ordered[rank - 1], ordered[n - rank]


def delay_summary(outcomes: Sequence[RunOutcome], node: str) -> dict[str, Any]:
    delays = [o.delays[node] for o in outcomes if node in o.delays]
    detected = share(len(delays), len(outcomes))
    interval = median_interval(delays)
    return {
        "detected": detected,
        "median_delay_days": statistics.median(delays) if delays else None,
        "median_delay_ci95": list(interval) if interval else None,
        "max_delay_days": max(delays, default=None),
    }


def summarize(
    scenario: Scenario,
    seeds: Sequence[int],
    null: Sequence[RunOutcome],
    surged: Sequence[RunOutcome],
    surge: SurgeSection,
) -> dict[str, Any]:
    runs = len(seeds)
    nodes = list(scenario.nodes.countries)
    owner = surge.border_point[:3]
    either = [
        RunOutcome(o.seed, o.false_surges, {"any": min(o.delays.values())} if o.delays else {})
        for o in surged
    ]
    return {
        "scenario": scenario.name,
        "days": scenario.days,
        "seeds": [seeds[0], seeds[-1]],
        "alpha_per_node_day": ALPHA,
        "method": "counts from the scenario's generators; the monitor's own code day by day",
        "without_surge": {
            "false_surge_runs": share(sum(o.false_surges > 0 for o in null), runs),
            "false_surge_days": sum(o.false_surges for o in null),
        },
        "with_surge": {
            "injected": surge.model_dump(),
            "counted_by": owner,
            "by_node": {node: delay_summary(surged, node) for node in nodes},
            "any_node": delay_summary(either, "any"),
            "false_surge_runs": share(sum(o.false_surges > 0 for o in surged), runs),
        },
    }


def run_surge_study(
    scenario: Scenario,
    *,
    runs: int,
    first_seed: int,
    size: float | None = None,
    start: int | None = None,
    progress: Progress = _quiet,
) -> dict[str, Any]:
    """The study's figures (``summarize``) over seeds ``first_seed`` … + ``runs`` - 1."""
    if runs < 1:
        raise InvalidInput(f"--runs: at least 1, got {runs}")
    surge = injected(scenario, size, start)
    seeds = list(range(first_seed, first_seed + runs))
    started = time.perf_counter()
    without = scenario.model_copy(update={"surge": None})
    null = run_seeds(without, seeds, what="without a surge", progress=progress)
    with_surge = scenario.model_copy(update={"surge": surge})
    surged = run_seeds(with_surge, seeds, what="with a surge", progress=progress)
    summary = summarize(scenario, seeds, null, surged, surge)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    return summary
