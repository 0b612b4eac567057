"""Unit tests for the template model's calibration against face_recognition/dlib."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.calibration import ALL, PERCENTILES, DistanceStats, calibrate
from biometric_exchange.synthetic.templates import (
    MINORS,
    MINORS_EFFECT,
    Group,
    GroupEffect,
    TemplateModel,
    paired_distances,
    parse_effect,
)

PAIRS = 20_000


def test_default_model_matches_dlib_at_the_tolerance() -> None:
    report = calibrate(pairs=PAIRS, seed=3, groups=[ALL]).group("all")
    assert 0.3 <= report.genuine.median <= 0.5
    assert 0.7 <= report.impostor.median <= 0.9
    assert 0.990 <= report.accuracy <= 0.998
    assert report.genuine.count == report.impostor.count == PAIRS
    points = [value for _, value in report.genuine.percentiles]
    assert points == sorted(points)
    assert [q for q, _ in report.impostor.percentiles] == list(PERCENTILES)


def test_minors_effect_widens_the_genuine_spread_and_tightens_impostors() -> None:
    plain = calibrate(pairs=PAIRS, seed=4, groups=[MINORS]).group("minors")
    model = TemplateModel(effects=(MINORS_EFFECT,))
    worse = calibrate(
        model, pairs=PAIRS, seed=4, groups=[MINORS, Group("adults", age_band="adult")]
    )
    minors, adults = worse.group("minors"), worse.group("adults")

    def spread(stats: DistanceStats) -> float:
        return stats.percentile(95) - stats.percentile(5)

    assert spread(minors.genuine) > 1.05 * spread(plain.genuine)
    assert minors.genuine.median > plain.genuine.median + 0.02
    assert minors.impostor.median < plain.impostor.median - 0.1
    assert minors.false_match_rate > plain.false_match_rate + 0.005
    assert minors.accuracy < plain.accuracy - 0.01
    assert adults.accuracy == pytest.approx(plain.accuracy, abs=0.003)  # adults unaffected


def test_calibration_is_deterministic_per_seed() -> None:
    first = calibrate(pairs=2000, seed=9, groups=[ALL])
    assert calibrate(pairs=2000, seed=9, groups=[ALL]) == first
    assert calibrate(pairs=2000, seed=10, groups=[ALL]) != first


def test_default_groups_include_each_effect_group() -> None:
    effect = parse_effect("horn:ERI,ETH,SOM:1.2:0.9")
    model = TemplateModel(effects=(effect,))
    report = calibrate(model, pairs=500, seed=1)
    names = [group.name for group in report.groups]
    assert names == ["all", "adults", "minors", "regional", "extra-regional", "horn"]
    with pytest.raises(KeyError):
        report.group("nobody")


def test_batch_methods_follow_the_single_template_model() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(0)
    latents = model.latents(rng, 4000)
    assert latents.dtype == np.float32 and latents.shape == (4000, 128)
    # Around the fitted centre, not the origin; each coordinate spreads by identity_scale.
    np.testing.assert_allclose(latents.mean(axis=0), model.centre, atol=0.004)
    assert float(latents.std(axis=0).mean()) == pytest.approx(model.identity_scale, rel=0.02)
    single_latents = np.array([model.latent(rng) for _ in range(2000)])
    np.testing.assert_allclose(single_latents.mean(axis=0), model.centre, atol=0.005)
    batch = paired_distances(model.captures(latents, rng), model.captures(latents, rng))
    single = np.array(
        [
            np.linalg.norm(model.capture(z, rng) - model.capture(z, rng))
            for z in (model.latent(rng) for _ in range(2000))
        ]
    )
    assert np.median(batch) == pytest.approx(np.median(single), abs=0.01)
    capped = model.captures(latents, rng, max_noise_factor=1.0) - latents
    free = model.captures(latents, rng) - latents
    assert np.linalg.norm(capped, axis=1).max() < np.linalg.norm(free, axis=1).max()


def test_multipliers_multiply_across_groups() -> None:
    model = TemplateModel(
        effects=(
            MINORS_EFFECT,
            GroupEffect(Group("chn", frozenset({"CHN"})), noise_multiplier=2.0),
        )
    )
    identity, noise = model.multipliers(
        np.asarray(["CHN", "CHN", "VEN"]), np.asarray([True, False, False])
    )
    assert identity.tolist() == pytest.approx([MINORS_EFFECT.identity_multiplier, 1.0, 1.0])
    assert noise.tolist() == pytest.approx([2.0 * MINORS_EFFECT.noise_multiplier, 2.0, 1.0])


@pytest.mark.parametrize(
    ("text", "codes", "band", "noise", "identity"),
    [
        ("kids:minor:1.2:0.8", None, "minor", 1.2, 0.8),
        ("horn:eri,ETH:1.1:1", frozenset({"ERI", "ETH"}), None, 1.1, 1.0),
        ("teens:CHN@minor:1:0.7", frozenset({"CHN"}), "minor", 1.0, 0.7),
    ],
)
def test_parse_effect(
    text: str, codes: frozenset[str] | None, band: str | None, noise: float, identity: float
) -> None:
    effect = parse_effect(text)
    assert effect.group.nationalities == codes
    assert effect.group.age_band == band
    assert (effect.noise_multiplier, effect.identity_multiplier) == (noise, identity)


@pytest.mark.parametrize(
    "text", ["x", "x:minor:1", ":minor:1:1", "x::1:1", "x:CHN@old:1:1", "x:CHN:a:1", "x:CHN:0:1"]
)
def test_parse_effect_rejects_bad_specs(text: str) -> None:
    with pytest.raises(InvalidInput, match="--effect"):
        parse_effect(text)


def test_calibrate_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="pairs"):
        calibrate(pairs=0)
    with pytest.raises(InvalidInput, match="seed"):
        calibrate(seed=-1)


def test_cli_calibrate_prints_the_figures() -> None:
    result = CliRunner().invoke(
        app, ["synth", "calibrate", "--pairs", "2000", "--seed", "2", "--minors-effect"]
    )
    assert result.exit_code == 0, result.output
    for text in ("all genuine", "minors impostor", "extra-regional", "pair accuracy", "99.38%"):
        assert text in result.output
