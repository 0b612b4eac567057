"""D↔sys (Gomez-Barrero et al. 2018) on constructed score distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection import linkability
from biometric_exchange.protection.linkability import Method


def _exact_d_sys(shift: float, omega: float = 1.0) -> float:
    """D↔sys for mated N(shift, 1) against non-mated N(0, 1), by numerical integration."""

    def integrand(s: float) -> float:
        p_m, p_nm = float(stats.norm.pdf(s, shift)), float(stats.norm.pdf(s))
        return max(0.0, (omega * p_m - p_nm) / (omega * p_m + p_nm)) * p_m

    value, _ = integrate.quad(integrand, shift - 12, shift + 12, limit=200)
    return float(value)


def test_identical_distributions_are_unlinkable() -> None:
    rng = np.random.default_rng(1)
    mated, nonmated = rng.normal(0, 1, 2_000), rng.normal(0, 1, 200_000)
    assert linkability(mated, nonmated).d_sys < 0.03
    assert linkability(mated, nonmated, method="histogram").d_sys < 0.07


def test_disjoint_distributions_are_fully_linkable() -> None:
    rng = np.random.default_rng(2)
    mated, nonmated = rng.normal(0.4, 0.05, 2_000), rng.normal(0.9, 0.05, 200_000)
    methods: tuple[Method, ...] = ("kde", "histogram")
    for method in methods:
        result = linkability(mated, nonmated, method=method)
        assert result.d_sys > 0.99
        assert result.local.max() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("shift", [1.0, 2.0])
def test_partial_overlap_matches_the_integral(shift: float) -> None:
    rng = np.random.default_rng(3)
    mated, nonmated = rng.normal(shift, 1, 20_000), rng.normal(0, 1, 200_000)
    assert linkability(mated, nonmated).d_sys == pytest.approx(_exact_d_sys(shift), abs=0.02)


def test_a_higher_prior_ratio_reads_more_linkable() -> None:
    rng = np.random.default_rng(4)
    mated, nonmated = rng.normal(1, 1, 20_000), rng.normal(0, 1, 200_000)
    low, high = (linkability(mated, nonmated, omega=w).d_sys for w in (0.5, 2.0))
    assert low < high
    assert high == pytest.approx(_exact_d_sys(1.0, omega=2.0), abs=0.02)


def test_discrete_scores_do_not_read_as_linkable() -> None:
    """Hamming fractions on a 1/128 lattice, the same distribution for both classes."""
    rng = np.random.default_rng(5)
    mated = rng.binomial(128, 0.5, 2_000) / 128
    nonmated = rng.binomial(128, 0.5, 1_000_000) / 128
    assert linkability(mated, nonmated).d_sys < 0.03


def test_bad_scores_are_refused() -> None:
    with pytest.raises(InvalidInput, match="mated: expected at least 2"):
        linkability([0.5], [0.1, 0.2])
    with pytest.raises(InvalidInput, match="nonmated: scores must be finite"):
        linkability([0.5, 0.6], [0.1, np.nan])
    with pytest.raises(InvalidInput, match="omega"):
        linkability([0.5, 0.6], [0.1, 0.2], omega=0)
    with pytest.raises(InvalidInput, match="method"):
        linkability([0.5, 0.6], [0.1, 0.2], method="bins")  # type: ignore[arg-type]
