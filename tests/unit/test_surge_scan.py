"""The day-by-day scan: one excess is evidence once, the family's error is bounded,
a real surge stands out, a partner's hidden counts only make the test cautious."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from biometric_exchange.domain import DailyCount
from biometric_exchange.node.runtime import Node
from biometric_exchange.surge.detector import Series, assess_day
from biometric_exchange.surge.exact import conditional_p
from biometric_exchange.surge.impact import ALPHA, Impact
from biometric_exchange.surge.monitor import Surge, raised_days, surge_alert, surges_of
from biometric_exchange.surge.scan import Placed, scan, scan_one
from biometric_exchange.surge.series import PartyCounts

LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"
STEADY = [6, 5, 7, 6, 6, 8, 5, 6, 7, 6, 5, 6, 7, 6, 6, 5, 7, 6, 6, 6]
"""Twenty days around 6 a day."""


def test_a_single_spike_raises_once() -> None:
    series = [*STEADY, 40, *STEADY[:9]]
    assert [day for day, _ in scan_one(series)] == [20]
    # Unflagged, the next day's two-day window would carry the spike again.
    again = assess_day(Series.of(series), 21)
    assert again is not None and again.window_days == 2 and again.p_value < ALPHA
    # Flagged, the next day stands alone against a baseline without the spike.
    after = assess_day(Series.of(series), 21, flagged={20})
    assert after is not None and after.window_days == 1 and after.p_value > 0.1


def test_a_flagged_day_leaves_the_baseline() -> None:
    series = [*STEADY, 40, 6, 6, 6, 6, 20]
    kept = [d for d in range(25 - 14, 25) if d != 20]
    found = dict(scan_one(series))
    assert sorted(found) == [20, 25]
    assert found[25].baseline == pytest.approx(sum(series[d] for d in kept) / 13)
    assert found[25].baseline_days == 13
    # With the spike in its baseline the later rise would look smaller (and less sure).
    blind = assess_day(Series.of(series), 25)
    assert blind is not None and blind.baseline > found[25].baseline
    assert blind.p_value > found[25].raw_p


def test_a_lasting_surge_is_measured_against_the_days_before_it() -> None:
    series = [*STEADY, 30, 31, 29, 30, 32]
    found = scan_one(series)
    assert [day for day, _ in found] == [20, 21, 22, 23, 24]
    assert all(a.window_days == 1 for _, a in found), "each day's own excess, once"
    assert all(a.baseline < 7 for _, a in found), "the surge does not raise its baseline"


RATES = (0.3, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0) * 2
"""Steady flows from rare to busy: a family of 14 series."""


def null_family(rng: np.random.Generator, days: int) -> dict[int, Placed]:
    return {
        i: Placed(0, Series.of(rng.poisson(rate, days).tolist())) for i, rate in enumerate(RATES)
    }


def test_the_family_wise_error_of_a_day_is_bounded() -> None:
    """60 families of 14 steady series over 24 days, at alpha 0.05 so that errors show:
    Holm over each day's family keeps the days with any false surge under 5 %, while the
    same series tested one by one raise one on many days."""
    rng = np.random.default_rng(1979)
    days, families, alpha = 24, 60, 0.05
    tested = families * (days - 7)
    with_holm = alone = 0
    for _ in range(families):
        family = null_family(rng, days)
        with_holm += len({day for _, day, _ in scan(family, days, alpha=alpha)})
        one_by_one: set[int] = set()
        for placed in family.values():
            one_by_one |= {day for day, _ in scan_one(placed.series.low, alpha=alpha)}
        alone += len(one_by_one)
    assert with_holm / tested <= alpha
    assert alone / tested > 3 * alpha


def test_an_injected_surge_is_found_among_steady_series() -> None:
    rng = np.random.default_rng(2024)
    days = 30
    family = null_family(rng, days)
    surging = [*rng.poisson(1.0, 20).tolist(), *(rng.poisson(1.0, 10) + 15).tolist()]
    family[99] = Placed(0, Series.of(surging))
    found = scan(family, days)
    assert {key for key, _, _ in found} == {99}
    _, first_day, first = found[0]
    assert first_day == 20
    assert first.impact is Impact.CRITICAL
    assert first.family <= len(family)


def test_the_family_is_the_series_that_can_reach_alpha() -> None:
    """Empty series and one that saw 2 arrivals in 15 days can never be significant:
    they do not dilute the correction of the series that can."""
    jump = Placed(0, Series.of([6] * 14 + [30]))
    family = {"jump": jump, "rare": Placed(0, Series.of([0] * 13 + [1, 1]))}
    family |= {f"empty-{i}": Placed(0, Series.of([0] * 15)) for i in range(20)}
    ((key, day, found),) = scan(family, 15)
    assert (key, day, found.family) == ("jump", 14, 1)
    assert found.p_value == found.raw_p


def test_series_start_on_their_own_day() -> None:
    """A partner whose counts begin later is tested from its own seventh day on."""
    late = Placed(5, Series.of([6] * 7 + [30]))
    early = Placed(0, Series.of([6] * 13))
    found = scan({"late": late, "early": early}, 13)
    assert [(key, day) for key, day, _ in found] == [("late", 12)]


def test_hidden_counts_give_the_largest_p_they_could() -> None:
    """Days a partner suppressed are [0, 4]: the window reads 0, the baseline 4, so the
    p-value is the largest over every value the hidden cells could hold."""
    low = (3, 0, 5, 0, 6, 5, 0, 9)
    high = (3, 4, 5, 4, 6, 5, 4, 9)
    hidden = [1, 3, 6]
    test = assess_day(Series(low, high), 7)
    assert test is not None and test.window_days == 1  # too early for a two-day window
    worst = 0.0
    for values in itertools.product(range(5), repeat=len(hidden)):
        filled = list(low)
        for day, value in zip(hidden, values, strict=True):
            filled[day] = value
        worst = max(worst, conditional_p(9, 1, sum(filled[:7]), 7))
    assert test.p_value == pytest.approx(worst)
    # A hidden window day counts 0: it cannot make a surge.
    assert assess_day(Series((*low[:7], 0), (*high[:7], 4)), 7).p_value == 1.0  # type: ignore[union-attr]


def test_days_raised_in_earlier_runs_stay_out_of_the_baseline() -> None:
    """A run sees 17 days; a spike raised 13 days ago lies before the scan's first
    tested day, yet later days must not count it: the alerts' evidence flags it."""
    today = dt.date(2026, 3, 17)
    first = today - dt.timedelta(days=16)
    values = [6, 5, 7, 40, 6, 5, 7, 6, 6, 8, 5, 6, 7, 6, 6, 5, 30]
    counts = [
        DailyCount(first + dt.timedelta(days=d), "NPL", LAJAS, n) for d, n in enumerate(values)
    ]
    source = PartyCounts("PAN", counts, first)
    spike = first + dt.timedelta(days=3)
    (blind,) = surges_of([source], today)
    (seen,) = surges_of([source], today, raised={("PAN", "NPL", LAJAS): {spike}})
    assert blind.day == seen.day == today
    assert (blind.assessment.baseline_days, seen.assessment.baseline_days) == (14, 13)
    assert seen.assessment.baseline < blind.assessment.baseline


def test_raised_days_are_read_from_the_alerts_evidence(nodes: dict[str, Node]) -> None:
    pan = nodes["PAN"]
    day = dt.date(2026, 3, 10)
    assessment = scan_one([*STEADY, 40])[0][1]
    surge = Surge("PAN", "NPL", LAJAS, day, assessment, Impact.CRITICAL)
    pan.alerts.raise_alert(
        surge_alert(surge, created_at=dt.datetime(2026, 3, 10, tzinfo=dt.UTC), partner=None)
    )
    assert raised_days(pan.alerts) == {("PAN", "NPL", LAJAS): {day}}
