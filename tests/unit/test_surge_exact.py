"""The surge monitor's statistics: the exact conditional test and Holm's correction,
against SciPy and against values worked by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binomtest, poisson

from biometric_exchange.surge.exact import binomial_tail, conditional_p, smallest_p
from biometric_exchange.surge.family import can_reach, holm


@pytest.mark.parametrize(
    ("x", "n", "share"),
    [
        (1, 1, 1 / 15),
        (2, 3, 1 / 3),
        (6, 13, 1 / 15),
        (20, 104, 1 / 15),
        (48, 134, 1 / 15),  # the monitor test's surge: a far tail
        (60, 60, 1 / 15),  # every arrival in the window: share**n
        (30, 114, 2 / 16),
        (5, 200, 0.001),
        (150, 400, 0.4),
    ],
)
def test_binomial_tail_matches_scipy(x: int, n: int, share: float) -> None:
    expected = binomtest(x, n, share, alternative="greater").pvalue
    assert binomial_tail(x, n, share) == pytest.approx(expected, rel=1e-9)


def test_binomial_tail_edges() -> None:
    assert binomial_tail(0, 0, 0.5) == 1.0
    assert binomial_tail(0, 10, 0.1) == 1.0
    assert binomial_tail(11, 10, 0.1) == 0.0


def test_conditional_p_worked_by_hand() -> None:
    # 2 today, 1 over the 2 baseline days: X | n=3 ~ Binomial(3, 1/3); P(X >= 2) = 7/27.
    assert conditional_p(2, 1, 1, 2) == pytest.approx(7 / 27, rel=1e-12)
    # 6 today after 14 empty days: all 6 in the window, (1/15)^6.
    assert conditional_p(6, 1, 0, 14) == pytest.approx(15.0**-6, rel=1e-12)
    # Two days against 14: the window's share is 2/16.
    assert conditional_p(3, 2, 0, 14) == pytest.approx((2 / 16) ** 3, rel=1e-12)
    # Nothing today, or nothing at all: no evidence.
    assert conditional_p(0, 1, 5, 14) == 1.0
    assert conditional_p(0, 1, 0, 14) == 1.0


def test_a_plug_in_poisson_p_is_too_small_on_a_sparse_baseline() -> None:
    """7 arrivals over 14 days, then 6 today: the plug-in test (Poisson with the baseline
    mean as a known rate) says 1.4e-5; the exact test, which knows the baseline is itself
    a count, says 1.0e-4 — seven times larger."""
    plug_in = float(poisson.sf(5, 7 / 14))
    exact = conditional_p(6, 1, 7, 14)
    assert plug_in == pytest.approx(1.416e-5, rel=1e-3)
    assert exact == pytest.approx(binomtest(6, 13, 1 / 15, alternative="greater").pvalue)
    assert exact == pytest.approx(9.995e-5, rel=1e-3)
    assert exact > 7 * plug_in


@pytest.mark.parametrize("rate", [0.2, 1.0, 6.0])
def test_the_exact_test_holds_its_level_under_equal_rates(rate: float) -> None:
    """Steady flows (the window and 14 baseline days at one rate): P(p <= u) <= u."""
    rng = np.random.default_rng(1940)
    window = rng.poisson(rate, 20_000)
    baseline = rng.poisson(14 * rate, 20_000)
    pairs = zip(window.tolist(), baseline.tolist(), strict=True)
    p = np.array([conditional_p(x, 1, y, 14) for x, y in pairs])
    for level in (0.001, 0.01, 0.05, 0.1):
        assert (p <= level).mean() <= level + 2 * np.sqrt(level / 20_000)


def test_smallest_p_is_all_the_total_in_the_window() -> None:
    assert smallest_p(2, 1, 14) == pytest.approx(15.0**-2)
    assert smallest_p(3, 2, 14) == pytest.approx(8.0**-3)
    assert smallest_p(0, 1, 14) == 1.0
    assert not can_reach(15.0**-2, 1e-4)
    assert can_reach(15.0**-4, 1e-4)


def test_holm_worked_by_hand() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max.
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([]) == []
    assert holm([0.5]) == [0.5]
    assert holm([0.6, 0.7]) == [1.0, 1.0]


def test_holm_rejects_at_least_what_bonferroni_does() -> None:
    rng = np.random.default_rng(1979)
    p = (rng.random(50) ** 4).tolist()
    adjusted = holm(p)
    assert all(a <= min(1.0, 50 * q) for a, q in zip(adjusted, p, strict=True))
    assert all(a >= q for a, q in zip(adjusted, p, strict=True))
    # Step-down monotone: a smaller p never gets a larger adjusted p.
    pairs = sorted(zip(p, adjusted, strict=True))
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(pairs))
