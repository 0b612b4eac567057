"""The exact test for sparse counts: today's count against its baseline's, conditionally.

Przyborowski & Wilenski (1940): if a window of ``w`` days has count X ~ Poisson(w·r₁)
and the baseline's ``b`` days have total Y ~ Poisson(b·r₀), then given X + Y = n,
X ~ Binomial(n, w·r₁ / (w·r₁ + b·r₀)). Under equal rates (r₁ = r₀) the share is
w / (w + b), known from the exposures alone; the nuisance rate is gone, so the
p-value P(X ≥ x | n) is exact however sparse the counts. A plug-in test that
treats the baseline mean as the known rate (X ~ Poisson(w·Y/b)) ignores the
baseline's own noise and is too small on sparse series.
"""

from __future__ import annotations

from scipy.special import bdtrc


def binomial_tail(x: int, n: int, share: float) -> float:
    """P(X ≥ x) for X ~ Binomial(n, share)."""
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    return float(bdtrc(x - 1, n, share))


def conditional_p(count: int, days: int, baseline_total: int, baseline_days: int) -> float:
    """One-sided p that ``count`` over ``days`` days exceeds the rate of
    ``baseline_total`` over ``baseline_days`` days (1.0 when both are 0)."""
    share = days / (days + baseline_days)
    return binomial_tail(count, count + baseline_total, share)


def smallest_p(total: int, days: int, baseline_days: int) -> float:
    """The smallest p the test could give if ``total`` arrivals were all in the window.
    A test that cannot reach the level is left out of the family (Tarone 1990)."""
    share = days / (days + baseline_days)
    return float(share**total)
