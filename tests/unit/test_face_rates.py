"""Drawn faces through the real face_recognition model: the match-rate command's figures
on a small sample (benchmarks/face_rates.py runs the full 200 identities)."""

from __future__ import annotations

import numpy as np
import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.faces import encode_image
from biometric_exchange.synthetic.face_rates import PairRate, drawn_face_rates


def test_rates_on_twelve_identities() -> None:
    rates = drawn_face_rates(encode_image, identities=12, captures=3, seed=2017)
    assert rates.genuine.pairs == 12 * 3
    assert rates.impostor.pairs == (36 * 35) // 2 - 36
    assert rates.genuine.rate >= 0.9, rates.genuine.describe()
    assert rates.genuine.median_distance + 0.15 < rates.impostor.median_distance
    low, high = rates.impostor.interval()
    assert low <= rates.impostor.rate <= high


def test_pair_rate_and_arguments() -> None:
    rate = PairRate(pairs=200, matches=10, median_distance=0.5)
    assert rate.rate == 0.05
    assert rate.interval() == pytest.approx((0.0274, 0.0899), abs=1e-3)
    assert "10 of 200 match (5.0%" in rate.describe()
    with pytest.raises(InvalidInput, match="identities"):
        drawn_face_rates(lambda image: np.zeros(128, np.float32), identities=1)
