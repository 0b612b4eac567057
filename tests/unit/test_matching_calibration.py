"""Calibrated scores (distance -> P(mated)) and FPIR thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.evaluation.calibration import (
    DEFAULT_BASE_RATE,
    Calibrator,
    sample_pair_distances,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import (
    Candidate,
    Gallery,
    false_match_rate,
    fmr_for_fpir,
    fpir_for_fmr,
    threshold_for_fpir,
)
from biometric_exchange.synthetic.templates import TemplateModel

PAIRS = 1500


@pytest.fixture(scope="module")
def pairs() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return sample_pair_distances(TemplateModel(), PAIRS, seed=7)


@pytest.fixture(scope="module", params=["isotonic", "logistic"])
def calibrator(
    request: pytest.FixtureRequest, pairs: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> Calibrator:
    genuine, impostor = pairs
    return Calibrator.fit(genuine, impostor, method=request.param)


def test_synthetic_pairs_are_seeded_and_look_like_dlib(
    pairs: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> None:
    genuine, impostor = pairs
    again = sample_pair_distances(TemplateModel(), 20, seed=7)
    np.testing.assert_array_equal(again[0], genuine[:20])
    assert 0.35 < np.median(genuine) < 0.47
    assert 0.8 < np.median(impostor) < 0.95


def test_scores_are_monotone_non_increasing(calibrator: Calibrator) -> None:
    grid = np.linspace(0.0, 1.5, 3001)
    scores = calibrator.score(grid)
    assert np.all(np.diff(scores) <= 0)
    assert np.all((scores > 0) & (scores < 1))


def test_default_base_rate_gives_sensible_values(
    calibrator: Calibrator, pairs: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> None:
    genuine, impostor = pairs
    assert calibrator.base_rate == DEFAULT_BASE_RATE == 0.5
    high, low = calibrator.score([np.median(genuine), np.median(impostor)])
    assert high > 0.9
    assert low < 0.01


def test_base_rate_is_adjustable_and_moves_scores_down(calibrator: Calibrator) -> None:
    rare = calibrator.with_base_rate(1e-3)
    distances = [0.4, 0.6, 0.7]
    assert rare.base_rate == 1e-3
    assert np.all(rare.score(distances) < calibrator.score(distances))
    np.testing.assert_allclose(
        rare.likelihood_ratio(distances), calibrator.likelihood_ratio(distances)
    )


def test_fit_is_deterministic_on_seeded_data(
    calibrator: Calibrator, pairs: tuple[NDArray[np.float64], NDArray[np.float64]]
) -> None:
    again = Calibrator.fit(*pairs, method=calibrator.method)
    grid = np.linspace(0.2, 1.0, 50)
    np.testing.assert_array_equal(again.score(grid), calibrator.score(grid))


def test_fit_synthetic_and_attach_scores_to_candidates() -> None:
    calibrator = Calibrator.fit_synthetic(pairs=300, seed=3)
    gallery = Gallery()
    model = TemplateModel()
    rng = np.random.default_rng(3)
    latent = model.latent(rng)
    gallery.add(["mate", "other"], np.stack([model.capture(latent, rng), model.latent(rng)]))

    result = gallery.search(model.capture(latent, rng), k=2)
    scored = result.candidates(0, calibrator)

    assert [c.id for c in scored] == ["mate", "other"]
    assert scored[0].score is not None and scored[0].score > 0.9
    assert scored[1].score is not None and scored[1].score < 0.01
    assert calibrator.attach(result.candidates(0)) == scored
    assert calibrator.attach([]) == []
    assert isinstance(scored[0], Candidate)


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, float("nan")])
def test_base_rate_must_be_a_probability(calibrator: Calibrator, rate: float) -> None:
    with pytest.raises(InvalidInput, match="base_rate"):
        calibrator.with_base_rate(rate)


def test_fit_rejects_bad_inputs() -> None:
    with pytest.raises(InvalidInput, match="genuine"):
        Calibrator.fit([0.4], [0.9, 0.8])
    with pytest.raises(InvalidInput, match="impostor"):
        Calibrator.fit([0.4, 0.5], [0.9, np.nan])
    with pytest.raises(InvalidInput, match="unknown method"):
        Calibrator.fit([0.4, 0.5], [0.9, 0.8], method="magic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not decreasing"):
        Calibrator.fit([0.9, 0.8], [0.4, 0.5], method="logistic")


# -- FPIR ------------------------------------------------------------------


def test_fmr_and_fpir_are_inverse() -> None:
    fmr = fmr_for_fpir(0.01, 1_000_000)
    assert fmr == pytest.approx(1.005e-8, rel=1e-3)
    assert fpir_for_fmr(fmr, 1_000_000) == pytest.approx(0.01, rel=1e-9)
    assert fmr_for_fpir(0.2, 1) == pytest.approx(0.2)


def test_empirical_threshold_hits_the_target_fmr() -> None:
    impostor = np.arange(1, 10_001) / 10_000
    threshold = threshold_for_fpir(0.01, 1, impostor, method="empirical")
    assert false_match_rate(threshold, impostor) == pytest.approx(0.01)
    larger = threshold_for_fpir(0.01, 10, impostor, method="empirical")
    assert larger < threshold
    with pytest.raises(InvalidInput, match="needs at least"):
        threshold_for_fpir(0.01, 1_000_000, impostor, method="empirical")


def test_normal_threshold_falls_with_gallery_size(
    pairs: tuple[NDArray[np.float64], NDArray[np.float64]],
) -> None:
    genuine, impostor = pairs
    sizes = [1_000, 100_000, 1_000_000]
    thresholds = [threshold_for_fpir(0.01, n, impostor) for n in sizes]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[-1] < 0.6
    assert false_match_rate(thresholds[0], impostor) == 0.0
    assert np.mean(genuine < thresholds[-1]) > 0.8


@pytest.mark.parametrize(
    ("fpir", "size", "match"),
    [(0.0, 10, "fpir"), (1.0, 10, "fpir"), (0.1, 0, "gallery_size"), (0.1, True, "gallery_size")],
)
def test_fpir_inputs_are_checked(fpir: float, size: int, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        threshold_for_fpir(fpir, size, [0.8, 0.9])
