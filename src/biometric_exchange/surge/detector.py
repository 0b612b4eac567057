"""One series on one day: its windows, its baseline, its exact p-value, its assessment.

A series is the daily counts of one (party, nationality, border point), oldest
first. Each day is a range [low, high]: equal where the count is known, and 0
to the largest count suppression can hide (4) where a partner left it out. Day
``d`` is tested over up to ``WINDOWS`` — the day alone, and the day with the day
before unless that day was flagged already, so an excess is evidence once:

* baseline: the ``BASELINE_DAYS`` (14) days before the window, less the days
  already flagged (a surge does not raise its own baseline); at least
  ``MIN_HISTORY_DAYS`` (7) must remain, else the window is not tested;
* p: the exact conditional test (``exact``) of the window's count, read at its
  low bounds, against the baseline's total, read at its high bounds — the
  largest p whatever suppression hid;
* the day's p is the smaller window p times the number of windows tested
  (Bonferroni); ``scan`` then corrects across the day's family (``family``).

The impact (``impact.grade``) weighs the window's count against
λ = window days * max(baseline mean, ``MIN_EXPECTED``). Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from biometric_exchange.surge.exact import conditional_p, smallest_p
from biometric_exchange.surge.impact import ALPHA, Impact, grade

BASELINE_DAYS = 14
MIN_HISTORY_DAYS = 7
MIN_EXPECTED = 0.5
"""The floor of the baseline rate in λ, for the ratio only (the test needs none)."""
WINDOWS = (1, 2)
"""Window lengths in days, ending on the tested day."""


@dataclass(frozen=True)
class Series:
    """Daily counts as [low, high] per day, oldest first."""

    low: tuple[int, ...]
    high: tuple[int, ...]

    @classmethod
    def of(cls, counts: Sequence[int]) -> Series:
        """A series of known counts."""
        return cls(tuple(counts), tuple(counts))

    def __len__(self) -> int:
        return len(self.low)

    @cached_property
    def _low_sums(self) -> tuple[int, ...]:
        return (0, *accumulate(self.low))

    @cached_property
    def _high_sums(self) -> tuple[int, ...]:
        return (0, *accumulate(self.high))

    def low_total(self, first: int, stop: int) -> int:
        """Sum of the low bounds of days [first, stop)."""
        return self._low_sums[stop] - self._low_sums[first]

    def high_total(self, first: int, stop: int) -> int:
        """Sum of the high bounds of days [first, stop)."""
        return self._high_sums[stop] - self._high_sums[first]


@dataclass(frozen=True)
class DayTest:
    """The tested window of one day (the one with the smaller p)."""

    count: int
    window_days: int
    baseline: float
    """Mean per baseline day (high bounds)."""
    baseline_days: int
    p_value: float
    """The smaller window p times the windows tested."""
    smallest: float
    """The smallest p this day's test could have given (Tarone's criterion)."""

    @property
    def expected(self) -> float:
        return self.window_days * max(self.baseline, MIN_EXPECTED)

    @property
    def ratio(self) -> float:
        return self.count / self.expected


@dataclass(frozen=True)
class Assessment:
    """One day of one series after the family-wise correction; ``impact`` None when
    it is not a surge. ``count`` and ``ratio`` are those of the tested window."""

    count: int
    baseline: float
    expected: float
    """λ = window_days * max(baseline, MIN_EXPECTED)."""
    p_value: float
    """Holm-adjusted over the day's family."""
    ratio: float
    impact: Impact | None
    window_days: int = 1
    raw_p: float = 1.0
    """Before the family correction (windows already counted)."""
    family: int = 1
    """Tests in the day's family."""
    baseline_days: int = BASELINE_DAYS

    @classmethod
    def of(cls, test: DayTest, adjusted: float, family: int, alpha: float = ALPHA) -> Assessment:
        return cls(
            count=test.count,
            baseline=test.baseline,
            expected=test.expected,
            p_value=adjusted,
            ratio=test.ratio,
            impact=grade(test.count, test.expected, adjusted, alpha),
            window_days=test.window_days,
            raw_p=test.p_value,
            family=family,
            baseline_days=test.baseline_days,
        )


@dataclass(frozen=True)
class Window:
    """One window of a day and its baseline."""

    count: int
    days: int
    baseline_total: int
    baseline_days: int
    first: int
    """The baseline's first day (index)."""


def _window(series: Series, index: int, days: int, flagged: Collection[int]) -> Window | None:
    """The ``days``-long window ending at ``index`` and its baseline; None when it
    joins a flagged day or its baseline is too short."""
    start = index - days + 1
    if start < 0 or any(start <= day < index for day in flagged):
        return None
    first = max(0, start - BASELINE_DAYS)
    left_out = [day for day in flagged if first <= day < start]
    baseline_days = start - first - len(left_out)
    if baseline_days < MIN_HISTORY_DAYS:
        return None
    total = series.high_total(first, start) - sum(series.high[day] for day in left_out)
    return Window(series.low_total(start, index + 1), days, total, baseline_days, first)


def assess_day(series: Series, index: int, flagged: Collection[int] = ()) -> DayTest | None:
    """Test day ``index`` of ``series`` (days in ``flagged`` raised a surge already).
    None when no window has ``MIN_HISTORY_DAYS`` of baseline."""
    windows = [w for days in WINDOWS if (w := _window(series, index, days, flagged))]
    if not windows:
        return None
    tested = [
        (conditional_p(w.count, w.days, w.baseline_total, w.baseline_days), w) for w in windows
    ]
    p, best = min(tested, key=lambda t: (t[0], t[1].days))
    # Every test of the day is exact given the total over all the days it uses: the
    # family's criterion is a function of that total alone (high bounds: cautious).
    first = min(w.first for w in windows)
    used = [d for d in range(first, index) if d not in flagged]
    total = sum(series.high[d] for d in used) + series.high[index]
    smallest = min(smallest_p(total, w.days, w.baseline_days) for w in windows)
    return DayTest(
        count=best.count,
        window_days=best.days,
        baseline=best.baseline_total / best.baseline_days,
        baseline_days=best.baseline_days,
        p_value=min(1.0, p * len(windows)),
        smallest=min(1.0, smallest * len(windows)),
    )
