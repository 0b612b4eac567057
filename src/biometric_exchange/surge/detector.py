"""Surge detection on daily counts: a moving baseline and one-sided Poisson tests.

A series is the daily counts of one (party, nationality, border point), oldest
first; a day without a count is 0 in our own series, and the largest count
suppression can hide (4) in a partner's. Each day is tested over two
windows — the day alone, and the day with the day before — so a sudden jump
shows at once and a slower one within two days:

* baseline = mean of the ``BASELINE_DAYS`` (14) days before the window; at
  least ``MIN_HISTORY_DAYS`` (7) are needed, else the day is not assessed;
* expected λ = window length * max(baseline, ``MIN_EXPECTED``) (0.5), so a flow
  that was absent can still be tested;
* p = P(X ≥ x | λ) for X ~ Poisson(λ), x the window's count; the smaller of the
  two p-values, times 2 (Bonferroni), is the day's p, and ratio = x / λ of
  that window.

A day is a surge only when p < ``SIGNIFICANCE`` (1e-4): about one false alarm
per 10 000 days of a steady series, so a node watching a hundred series sees a
spurious alert every few months, not every day. Its impact, graded like
Frontex border sections by the size of the increase, is low (x ≥ 1.5λ), medium
(≥ 2λ), high (≥ 3λ) or critical (≥ 5λ and p < 1e-6). The ratio bounds keep
large, steady flows from alerting on statistically significant but
operationally small increases. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scipy.stats import poisson

BASELINE_DAYS = 14
MIN_HISTORY_DAYS = 7
MIN_EXPECTED = 0.5
"""The floor of λ: a baseline of 0 would make any arrival infinitely unlikely."""


class Impact(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


IMPACT_ORDER: tuple[Impact, ...] = (Impact.LOW, Impact.MEDIUM, Impact.HIGH, Impact.CRITICAL)
"""Lowest first."""


SIGNIFICANCE = 1e-4
"""A day is a surge only below this (Bonferroni-corrected) p-value."""
WINDOWS = (1, 2)
"""Window lengths in days, ending on the assessed day."""


@dataclass(frozen=True)
class ImpactLevel:
    impact: Impact
    max_p: float
    """p must be strictly below this."""
    min_ratio: float
    """x / λ must be at least this."""


IMPACT_LEVELS: tuple[ImpactLevel, ...] = (
    ImpactLevel(Impact.CRITICAL, 1e-6, 5.0),
    ImpactLevel(Impact.HIGH, SIGNIFICANCE, 3.0),
    ImpactLevel(Impact.MEDIUM, SIGNIFICANCE, 2.0),
    ImpactLevel(Impact.LOW, SIGNIFICANCE, 1.5),
)
"""Highest first: the first level whose bounds hold is the impact."""


@dataclass(frozen=True)
class Assessment:
    """One day against its baseline; ``impact`` is None when it is not a surge.

    ``count``, ``expected`` and ``ratio`` are those of the window that gave the
    smallest p-value (``window_days`` long); ``p_value`` is Bonferroni-corrected.
    """

    count: int
    baseline: float
    expected: float
    """λ = window_days * max(baseline, MIN_EXPECTED)."""
    p_value: float
    ratio: float
    """count / expected."""
    impact: Impact | None
    window_days: int = 1


def p_value(count: int, expected: float) -> float:
    """P(X ≥ count) for X ~ Poisson(expected)."""
    return float(poisson.sf(count - 1, expected))


def grade(count: int, expected: float, p: float) -> Impact | None:
    """The impact level of ``count`` against ``expected`` with p-value ``p``."""
    for level in IMPACT_LEVELS:
        if p < level.max_p and count >= level.min_ratio * expected:
            return level.impact
    return None


def _window(
    count: int, history: Sequence[int], days: int
) -> tuple[int, float, float, float] | None:
    """(x, baseline, λ, p) for the ``days``-long window ending with ``count``."""
    earlier = history[: len(history) - (days - 1)]
    window = earlier[-BASELINE_DAYS:]
    if len(window) < MIN_HISTORY_DAYS:
        return None
    total = count + sum(history[len(history) - (days - 1) :]) if days > 1 else count
    baseline = sum(window) / len(window)
    expected = days * max(baseline, MIN_EXPECTED)
    return total, baseline, expected, p_value(total, expected)


def assess(count: int, history: Sequence[int]) -> Assessment | None:
    """Test ``count`` against ``history`` (previous days, oldest first). None when
    fewer than ``MIN_HISTORY_DAYS`` days precede even the one-day window."""
    tested = {days: _window(count, history, days) for days in WINDOWS}
    available = {days: found for days, found in tested.items() if found is not None}
    if not available:
        return None
    days, (total, baseline, expected, p) = min(
        available.items(), key=lambda item: (item[1][3], item[0])
    )
    corrected = min(1.0, p * len(available))
    return Assessment(
        count=total,
        baseline=baseline,
        expected=expected,
        p_value=corrected,
        ratio=total / expected,
        impact=grade(total, expected, corrected),
        window_days=days,
    )


def scan(series: Sequence[int], *, start: int = 0) -> list[tuple[int, Assessment]]:
    """Assess each day of ``series`` from index ``start`` on against the days before it;
    return (index, assessment) for the days that are surges."""
    found = []
    for index in range(max(start, 0), len(series)):
        assessment = assess(series[index], series[:index])
        if assessment is not None and assessment.impact is not None:
            found.append((index, assessment))
    return found
