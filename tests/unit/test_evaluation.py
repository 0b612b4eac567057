"""Evaluation metrics against hand computations and known distributions; report output."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
import typer
from scipy import special
from typer.testing import CliRunner

from biometric_exchange.cli.evaluate import evaluate, parse_sizes
from biometric_exchange.evaluation import EvaluationConfig, run_evaluation
from biometric_exchange.evaluation.dataset import (
    Design,
    cross_distances,
    draw_cohort,
)
from biometric_exchange.evaluation.demographics import design_groups
from biometric_exchange.evaluation.extrapolation import (
    ImpostorTail,
    fit_impostor_tail,
    modelled_fnir,
    modelled_fpir,
    modelled_threshold,
)
from biometric_exchange.evaluation.metrics import (
    SortedScores,
    cmc,
    equal_error_rate,
    error_curve,
    fmr_for_fpir,
    fpir_from_fmr,
    intervals_agree,
    mate_ranks,
    rank1_mate_distances,
    wilson_interval,
)
from biometric_exchange.evaluation.report import build_report, write_report
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import Gallery
from biometric_exchange.synthetic.templates import (
    MINORS_EFFECT,
    TemplateModel,
    distance,
    paired_distances,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GENUINE = [0.1, 0.2, 0.3, 0.4, 0.5]
IMPOSTOR = [0.45, 0.6, 0.7, 0.8]


# -- verification rates ----------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "fmr", "fnmr"),
    [
        (0.05, 0 / 4, 5 / 5),
        (0.3, 0 / 4, 3 / 5),  # 0.3 itself does not match: distance < threshold
        (0.45, 0 / 4, 1 / 5),
        (0.46, 1 / 4, 1 / 5),
        (0.5, 1 / 4, 1 / 5),
        (0.51, 1 / 4, 0 / 5),
        (0.75, 3 / 4, 0 / 5),
        (0.9, 4 / 4, 0 / 5),
    ],
)
def test_fmr_fnmr_by_hand(threshold: float, fmr: float, fnmr: float) -> None:
    genuine, impostor = SortedScores.of(GENUINE), SortedScores.of(IMPOSTOR)
    assert impostor.fraction_below([threshold])[0] == pytest.approx(fmr)
    assert genuine.fraction_at_or_above([threshold])[0] == pytest.approx(fnmr)


def test_error_curve_matches_direct_count() -> None:
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(0.4, 0.1, 500), rng.normal(0.9, 0.1, 700)
    grid = np.linspace(0.0, 1.5, 61)
    curve = error_curve(SortedScores.of(genuine), SortedScores.of(impostor), grid)
    direct_fmr = [(impostor < t).mean() for t in grid]
    direct_fnmr = [(genuine >= t).mean() for t in grid]
    np.testing.assert_allclose(curve.fmr, direct_fmr)
    np.testing.assert_allclose(curve.fnmr, direct_fnmr)


def test_eer_by_hand() -> None:
    # For t in (0.35, 0.4]: FMR = 1/4 (0.35 < t) and FNMR = 1/4 (0.4 >= t).
    curve = error_curve(
        SortedScores.of([0.1, 0.2, 0.3, 0.4]),
        SortedScores.of([0.35, 0.5, 0.6, 0.7]),
        np.linspace(0, 1, 101),
    )
    eer, threshold = equal_error_rate(curve)
    assert eer == pytest.approx(0.25)
    assert 0.35 < threshold <= 0.4


def test_eer_of_two_normals_matches_the_analytic_value() -> None:
    # Genuine N(0, 1), impostor N(2, 1.5): FNMR(t) = 1 - Φ(t), FMR(t) = Φ((t - 2) / 1.5),
    # equal at t = 2 / 2.5 = 0.8, where EER = Φ(-0.8).
    rng = np.random.default_rng(7)
    genuine, impostor = rng.normal(0.0, 1.0, 200_000), rng.normal(2.0, 1.5, 200_000)
    curve = error_curve(
        SortedScores.of(genuine), SortedScores.of(impostor), np.arange(-6, 10, 0.001)
    )
    eer, threshold = equal_error_rate(curve)
    assert eer == pytest.approx(NormalDist().cdf(-0.8), abs=0.003)
    assert threshold == pytest.approx(0.8, abs=0.02)


def test_threshold_for_rate_is_the_largest_allowed() -> None:
    scores = SortedScores.of(np.arange(1, 11) / 10)
    assert scores.threshold_for_rate(0.2) == pytest.approx(0.3)
    assert scores.fraction_below([0.3])[0] == pytest.approx(0.2)
    assert scores.fraction_below([np.nextafter(0.3, 1)])[0] > 0.2
    assert scores.threshold_for_rate(0.0) == pytest.approx(0.1)
    assert scores.threshold_for_rate(1.0) == math.inf
    with pytest.raises(InvalidInput):
        scores.threshold_for_rate(1.5)


def test_wilson_interval_known_values() -> None:
    z2 = NormalDist().inv_cdf(0.975) ** 2
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(z2 / (10 + z2))
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert intervals_agree([(0.1, 0.3), (0.2, 0.4), (0.25, 0.5)])
    assert not intervals_agree([(0.1, 0.2), (0.3, 0.4)])


# -- identification rates --------------------------------------------------


@pytest.mark.parametrize("gallery_size", [1, 10, 100])
def test_fpir_of_uniform_minima_matches_formula(gallery_size: int) -> None:
    """N iid U(0,1) impostor scores: P(min < t) = 1 - (1 - t)^N."""
    searches = 20_000
    rng = np.random.default_rng(gallery_size)
    minima = SortedScores.of(rng.random((searches, gallery_size)).min(axis=1))
    thresholds = np.array([0.001, 0.01, 0.05, 0.2])
    expected = 1 - (1 - thresholds) ** gallery_size
    np.testing.assert_allclose(fpir_from_fmr(thresholds, gallery_size), expected, rtol=1e-12)
    tolerance = 4 * np.sqrt(expected * (1 - expected) / searches) + 1e-4
    assert np.all(np.abs(minima.fraction_below(thresholds) - expected) <= tolerance)


def test_threshold_for_target_fpir_tightens_with_gallery_size() -> None:
    rng = np.random.default_rng(3)
    target = 0.01
    measured = []
    for n in (10, 100, 1000):
        minima = SortedScores.of(rng.random((10_000, n)).min(axis=1))
        measured.append(minima.threshold_for_rate(target))
        # Uniform scores: FMR(t) = t, so the exact threshold is fmr_for_fpir(target, N).
        assert measured[-1] == pytest.approx(fmr_for_fpir(target, n), rel=0.25)
    assert measured == sorted(measured, reverse=True)
    tail = ImpostorTail(128, math.log(0.00625), 0.05)
    modelled = [modelled_threshold(tail, n, 0.003) for n in (10**3, 10**4, 10**5, 10**6)]
    assert np.all(np.diff(modelled) < 0)
    for n, t in zip((10**3, 10**4, 10**5, 10**6), modelled, strict=True):
        assert modelled_fpir(tail, n, [t])[0] == pytest.approx(0.003, rel=1e-6)


def test_fmr_for_fpir_inverts_fpir_from_fmr() -> None:
    fmr = fmr_for_fpir(0.003, 1_000_000)
    assert fmr == pytest.approx(0.003 / 1_000_000, rel=0.01)
    assert fpir_from_fmr([fmr], 1_000_000)[0] == pytest.approx(0.003)


def test_cmc_and_fnir_on_a_tiny_gallery() -> None:
    gallery = Gallery(dim=2)
    gallery.add(["A", "B", "C", "D"], [[0, 0], [1, 0], [0, 1], [5, 5]])
    probes = [[0.1, 0.0], [0.6, 0.0], [4.0, 4.0]]
    mates = ["A", "A", "C"]
    # Distances: probe 1 -> A 0.1 (rank 1); probe 2 -> B 0.4, A 0.6 (rank 2);
    # probe 3 -> D 1.41, C 5.0, B 5.0 (C ties B, ranked by id: B then C, so rank 3).
    found = gallery.search(probes, k=2)
    ranks = mate_ranks(found.ids, mates)
    assert ranks.tolist() == [1, 2, 0]
    np.testing.assert_allclose(cmc(ranks, 3), [1 / 3, 2 / 3, 2 / 3])
    rank1 = rank1_mate_distances(ranks, found.distances[:, 0])
    assert rank1[0] == pytest.approx(0.1, abs=1e-6)
    assert np.isinf(rank1[1:]).all()
    fnir = SortedScores.of(rank1).fraction_at_or_above([0.05, 0.2])
    np.testing.assert_allclose(fnir, [1.0, 2 / 3])


# -- the fitted impostor tail ---------------------------------------------


def test_impostor_tail_fit_recovers_a_chi_square_scale_mixture() -> None:
    rng = np.random.default_rng(11)
    mean, sd, dof = math.log(0.006), 0.06, 128
    scales = np.exp(rng.normal(mean, sd, 2_000_000))
    distances = np.sqrt(scales * rng.chisquare(dof, scales.size))
    tail = fit_impostor_tail(SortedScores.of(distances), dof)
    assert tail.log_scale_mean == pytest.approx(mean, abs=0.02)
    assert tail.log_scale_sd == pytest.approx(sd, abs=0.02)
    assert tail.max_abs_log10_error < 0.25  # 10-error points carry Poisson noise
    truth = ImpostorTail(dof, mean, sd)
    deep = truth.quantile(1e-9)  # far below the 5e-6 the sample resolves
    assert tail.cdf([deep])[0] == pytest.approx(1e-9, rel=0.5)
    assert tail.quantile(1e-9) == pytest.approx(deep, abs=0.005)


def test_impostor_tail_of_a_plain_chi_square() -> None:
    """With no scale spread the model is sigma^2 * chi2(dof): check against gammainc."""
    tail = ImpostorTail(128, math.log(0.006), 0.0)
    t = np.array([0.6, 0.7, 0.8])
    np.testing.assert_allclose(tail.cdf(t), special.gammainc(64, t**2 / (2 * 0.006)), rtol=1e-9)
    assert tail.quantile(float(tail.cdf([0.7])[0])) == pytest.approx(0.7, abs=1e-8)


def test_modelled_fnir_for_one_entry_is_fnmr() -> None:
    rng = np.random.default_rng(5)
    genuine = SortedScores.of(rng.normal(0.4, 0.05, 10_000))
    tail = ImpostorTail(128, math.log(0.00625), 0.05)
    grid = np.linspace(0.2, 0.8, 13)
    np.testing.assert_allclose(
        modelled_fnir(tail, genuine, 1, grid), genuine.fraction_at_or_above(grid)
    )
    assert np.all(np.diff(modelled_fnir(tail, genuine, 10**6, grid)) <= 1e-12)


# -- synthetic data --------------------------------------------------------


def test_vectorised_sampler_matches_template_model() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(2)
    cohort = draw_cohort(rng, 2000, model, Design(age_shares=(0.1, 0.1, 0.2, 0.2, 0.2, 0.2)))
    first, second = (cohort.captures(rng, model) for _ in range(2))
    genuine = paired_distances(first, second)
    impostor = cross_distances(first[:1000], second[1000:])
    reference_rng = np.random.default_rng(3)
    latents = [model.latent(reference_rng) for _ in range(400)]
    reference_genuine = [
        distance(model.capture(z, reference_rng), model.capture(z, reference_rng)) for z in latents
    ]
    reference_impostor = [
        distance(model.capture(a, reference_rng), model.capture(b, reference_rng))
        for a, b in zip(latents[::2], latents[1::2], strict=True)
    ]
    assert genuine.mean() == pytest.approx(np.mean(reference_genuine), rel=0.03)
    assert impostor.mean() == pytest.approx(np.mean(reference_impostor), rel=0.03)
    assert set(np.unique(cohort.labels("region"))) == {"regional", "extra_regional"}
    assert 0.15 < cohort.minor.mean() < 0.25


def test_design_groups() -> None:
    groups = design_groups(0.5)
    assert groups["region"] == ("regional", "extra_regional")
    assert groups["age_band"] == ("0-11", "12-17", "18-29", "30-49", "50-64", "65+")
    assert groups["sex"] == ("female", "male")
    assert groups["quality"] == ("good", "fair", "poor")
    assert groups["nationality"][:2] == ("VEN", "CHN")


# -- the whole run and its report -----------------------------------------

SMALL = EvaluationConfig(
    seed=5,
    sizes=(100, 1_000, 1_000_000),
    max_searched=1_000,
    genuine_pairs=5_000,
    impostor_pairs=1_000_000,
    mated_searches=300,
    nonmated_searches=2_000,
    replicates=50,
)


@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("evaluation")
    return out, write_report(run_evaluation(SMALL), out)


def test_report_json_structure(small_report: tuple[Path, dict[str, Any]]) -> None:
    out, report = small_report
    assert json.loads((out / "report.json").read_text()) == report
    assert report["synthetic"] is True
    assert report["seed"] == 5
    assert report["generator"]["version"]
    assert report["generator"]["template_model"]["dim"] == 128
    assert 0 < report["verification"]["eer"] < 0.01
    galleries = report["identification"]["galleries"]
    assert [(g["size"], g["method"]) for g in galleries] == [
        (100, "search"),
        (1_000, "search"),
        (1_000_000, "model"),
    ]
    for g in galleries:
        assert {"threshold_at_target_fpir", "fnir_at_target_fpir", "rank1", "rank10"} <= set(g)
    thresholds = [g["threshold_at_target_fpir"] for g in galleries]
    assert thresholds == sorted(thresholds, reverse=True)
    demographics = report["demographics"]
    assert demographics["demographic_effect_modelled"] is False
    assert {row["dimension"] for row in demographics["rates"]} == {
        "sex",
        "age_band",
        "region",
        "quality",
        "nationality",
    }
    assert all(row["ci_low"] <= row["ci_high"] for row in demographics["rates"])
    assert all(g["method"] == "search" for g in galleries[:2])
    assert "model_error" in galleries[0]
    assert report["peak_rss_mb"] > 0


def test_report_is_reproducible(small_report: tuple[Path, dict[str, Any]]) -> None:
    _, report = small_report
    again = build_report(run_evaluation(SMALL))
    for key in ("dataset", "verification", "identification", "demographics"):
        assert again[key] == report[key]


def test_figures_are_pngs(small_report: tuple[Path, dict[str, Any]]) -> None:
    out, report = small_report
    for name in (
        "det.png",
        "fpir_fnir.png",
        "threshold_vs_gallery.png",
        "fpir_vs_size.png",
        "strata.png",
    ):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 10_000
        assert name in report["outputs"]


def test_config_and_sizes_are_validated() -> None:
    assert parse_sizes("10000, 1000,1_000") == (1_000, 10_000)
    for bad in ("", "1000,x", "1"):
        with pytest.raises(InvalidInput):
            parse_sizes(bad)
    with pytest.raises(InvalidInput):
        EvaluationConfig(sizes=(1000, 100))
    with pytest.raises(InvalidInput):
        EvaluationConfig(target_fpir=0.0)


def test_cli_reports_a_bad_size(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(evaluate)
    result = CliRunner().invoke(app, ["--output", str(tmp_path), "--sizes", "1000,abc"])
    assert result.exit_code == 2
    assert not (tmp_path / "report.json").exists()


def test_cli_quick_run_writes_the_report(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(evaluate)
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app,
        [
            "--output",
            str(out),
            "--quick",
            "--seed",
            "3",
            "--sizes",
            "100,1000,100000",
            "--replicates",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "open-set identification" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["quick"] is True
    assert report["intervals"]["replicates"] == 30
    assert [g["method"] for g in report["identification"]["galleries"]] == [
        "search",
        "search",
        "model",
    ]


def test_breakdown_detects_a_modelled_group_effect() -> None:
    """With the minors effect switched on, the age-band breakdown is no longer flat."""
    config = replace(
        SMALL,
        sizes=(100,),
        max_searched=100,
        template_model=TemplateModel(effects=(MINORS_EFFECT,)),
    )
    report = build_report(run_evaluation(config))
    demographics = report["demographics"]
    assert demographics["demographic_effect_modelled"] is True
    assert demographics["effects"][0]["age_band"] == "minor"
    uneven = {(c["metric"], c["dimension"]) for c in demographics["flatness"] if not c["flat"]}
    assert ("fmr", "age_band") in uneven
    assert not demographics["flat"]
