"""Subject bootstrap, chunked search, strata and the NIST-derived scenario."""

from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest

from biometric_exchange.evaluation import EvaluationConfig, run_evaluation
from biometric_exchange.evaluation.bootstrap import (
    Counts,
    Sample,
    bootstrap,
    subject_counts,
    upper_if_none,
)
from biometric_exchange.evaluation.dataset import Design, capture_quality, draw_cohort
from biometric_exchange.evaluation.identification import _TopK
from biometric_exchange.evaluation.metrics import SortedScores, wilson_interval
from biometric_exchange.evaluation.report import build_report
from biometric_exchange.evaluation.scenario import (
    NIST_SCENARIO,
    Differential,
    impostor_fmr,
    multipliers,
    parse_scenario,
    reference_threshold,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import PAD_ID, CompactGallery, Gallery
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances

# -- the subject bootstrap ------------------------------------------------------------


def test_counts_resample_each_set_on_its_own() -> None:
    rng = np.random.default_rng(1)
    for counts in subject_counts(rng, (30, 7), replicates=60, block=25):
        assert counts.shape[1] == 37
        np.testing.assert_array_equal(counts[:, :30].sum(axis=1), 30)
        np.testing.assert_array_equal(counts[:, 30:].sum(axis=1), 7)
    with pytest.raises(InvalidInput):
        next(subject_counts(rng, 0, 10))


def test_bootstrap_of_one_outcome_per_subject_matches_the_binomial() -> None:
    n, p = 4000, 0.1
    outcomes = np.zeros(n)
    outcomes[: int(n * p)] = 1.0

    def rate(w: Counts) -> dict[str, Any]:
        return {"rate": (w @ outcomes) / w.sum(axis=1)}

    found = bootstrap(rate, n, np.random.default_rng(2), replicates=1000)["rate"]
    half = NormalDist().inv_cdf(0.975) * np.sqrt(p * (1 - p) / n)
    assert float(found.value) == pytest.approx(p)
    assert float(found.low) == pytest.approx(p - half, abs=0.003)
    assert float(found.high) == pytest.approx(p + half, abs=0.003)


def test_impostor_errors_of_one_subject_are_not_thousands_of_independent_trials() -> None:
    """All false matches involve subject 0: pairs look certain, people do not."""
    n = 100
    a, b = np.nonzero(~np.eye(n, dtype=bool))
    distances = np.where((a == 0) | (b == 0), 0.1, 1.0)
    pairs = Sample(distances, a, b)
    assert pairs.rates(np.ones((1, n)), [0.5])[0, 0] == pytest.approx(2 / n)

    def fmr(w: Counts) -> dict[str, Any]:
        return {"fmr": pairs.rates(w, [0.5])[:, 0]}

    interval = bootstrap(fmr, n, np.random.default_rng(3), replicates=400)["fmr"]
    wilson = wilson_interval(2 * (n - 1), n * (n - 1))
    assert float(interval.low) == 0.0  # subject 0 is left out of about 37 % of replicates
    assert wilson[0] > 0.015
    assert float(interval.high) > wilson[1]


def test_weighted_sample_with_unit_weights_is_the_plain_rate() -> None:
    rng = np.random.default_rng(4)
    values = rng.random(500)
    sample, plain = Sample(values, np.arange(500)), SortedScores.of(values)
    ones = np.ones((1, 500))
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(sample.rates(ones, grid)[0], plain.fraction_below(grid))
    for rate in (0.0, 0.003, 0.1, 0.5):
        assert sample.threshold_for_rate(ones, rate)[0] == plain.threshold_for_rate(rate)
    doubled = np.zeros((1, 500))
    doubled[0, :250] = 2.0  # half the subjects drawn twice, the rest never
    expected = SortedScores.of(values[:250]).fraction_below(grid)
    np.testing.assert_allclose(sample.rates(doubled, grid)[0], expected)
    assert upper_if_none(3000) == pytest.approx(1 - 0.05 ** (1 / 3000))


# -- the chunked 1:N search -----------------------------------------------------------


def test_merged_chunk_searches_equal_one_search_of_the_whole_gallery() -> None:
    rng = np.random.default_rng(5)
    rows = rng.normal(0, 0.05, (3000, 16)).astype(np.float32)
    rows[2500] = rows[10]  # the same template in two chunks: a tie ranked by id
    rows[1700] = rows[10]
    probes = np.concatenate([rows[[10, 11]] + 0.001, rng.normal(0, 0.05, (40, 16))])
    probes = probes.astype(np.float32)
    ids = [f"{i:09d}" for i in range(3000)]
    whole = Gallery(16)
    whole.add(ids, rows)
    expected = whole.search(probes, k=5)
    merged = _TopK(probes.shape[0], 5)
    for start in range(0, 3000, 700):  # int8 chunks, as the evaluation searches them
        with CompactGallery(16) as chunk:
            chunk.add(ids[start : start + 700], rows[start : start + 700])
            found = chunk.search(probes, k=5)
        merged.merge(slice(0, probes.shape[0]), found.ids, found.distances)
    np.testing.assert_array_equal(merged.distances, expected.distances)
    expected_rows = np.vectorize(lambda i: -1 if i == PAD_ID else int(i))(expected.ids)
    np.testing.assert_array_equal(merged.rows, expected_rows)
    assert merged.rows[0, :3].tolist() == [10, 1700, 2500]
    nearest = _TopK(probes.shape[0], 5)  # rank 1 only, as for the non-mated probes
    for start in range(0, 3000, 1000):
        with CompactGallery(16) as chunk:
            chunk.add(ids[start : start + 1000], rows[start : start + 1000])
            found = chunk.search(probes, k=1)
        nearest.merge(slice(0, probes.shape[0]), found.ids, found.distances)
    np.testing.assert_array_equal(nearest.distances[:, 0], expected.distances[:, 0])


# -- strata and quality ---------------------------------------------------------------


def test_quality_bands_follow_capture_noise() -> None:
    model = TemplateModel(noise_log_sigma=0.0)
    rng = np.random.default_rng(6)
    latents = model.latents(rng, 200)
    # |noise| / sqrt(dim) varies by about 6 % around the multiplier at 128 dimensions
    for multiplier, band, share in ((0.8, "good", 1.0), (1.12, "fair", 0.9), (1.6, "poor", 1.0)):
        captures = model.captures(latents, rng, noise_multiplier=multiplier)
        assert np.mean(capture_quality(latents, captures, model) == band) >= share


def test_cohort_draws_every_stratum_by_design() -> None:
    cohort = draw_cohort(np.random.default_rng(7), 6000, TemplateModel(), Design())
    assert set(cohort.labels("sex")) == {"female", "male"}
    bands, counts = np.unique(cohort.labels("age_band"), return_counts=True)
    assert len(bands) == 6
    assert counts.min() > 850
    assert cohort.minor.mean() == pytest.approx(1 / 3, abs=0.03)
    with pytest.raises(InvalidInput, match="age_shares"):
        Design(age_shares=(0.5, 0.5))


# -- the NIST-derived scenario ----------------------------------------------------------


def test_scenario_multipliers_give_the_stated_ratio() -> None:
    model = TemplateModel()
    t = reference_threshold(model)
    assert impostor_fmr(model, t) == pytest.approx(1e-4, rel=1e-6)
    for differential in NIST_SCENARIO:
        found = multipliers(model, differential)
        fmr = impostor_fmr(model, t, found.identity)
        assert fmr / 1e-4 == pytest.approx(differential.fmr_ratio, rel=1e-3)
        assert found.identity <= 1.0
        assert found.noise >= 1.0
        assert "NISTIR 8280" in differential.source
    with pytest.raises(InvalidInput, match="--scenario"):
        parse_scenario("frvt")
    with pytest.raises(InvalidInput, match="fmr_ratio"):
        Differential("sex", "female", fmr_ratio=0.0)


def test_modelled_impostor_rate_matches_sampled_pairs() -> None:
    """The closed form the scenario solves agrees with the template sampler."""
    model, rng = TemplateModel(), np.random.default_rng(8)
    n, identity = 100_000, 0.9
    a = model.captures(model.latents(rng, n, identity_multiplier=identity), rng)
    b = model.captures(model.latents(rng, n, identity_multiplier=identity), rng)
    distances = paired_distances(a, b)
    t = float(np.quantile(distances, 0.02))
    assert impostor_fmr(model, t, identity) == pytest.approx(0.02, rel=0.08)


SMALL = EvaluationConfig(
    seed=9,
    sizes=(1_000,),
    max_searched=1_000,
    genuine_pairs=5_000,
    impostor_pairs=1_000_000,
    mated_searches=400,
    nonmated_searches=2_000,
    replicates=40,
)


def _strata(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['dimension']}={r['group']}": r for r in report["demographics"]["thresholds"]}


def test_nist_scenario_shows_its_differential_and_per_stratum_thresholds() -> None:
    flat = build_report(run_evaluation(SMALL))
    assert flat["demographics"]["flat"] is True
    report = build_report(run_evaluation(replace(SMALL, scenario=NIST_SCENARIO)))
    demographics = report["demographics"]
    assert demographics["demographic_effect_modelled"] is True
    assert not demographics["flat"]
    strata = _strata(report)
    extra = strata["region=extra_regional"]["verification"]
    regional = strata["region=regional"]["verification"]
    assert (
        extra["fmr_at_population_threshold"]["ci"][0]
        > regional["fmr_at_population_threshold"]["ci"][1]
    )
    assert extra["threshold"]["ci"][1] < regional["threshold"]["ci"][0]
    # flat by construction without the scenario: the same strata overlap
    plain = _strata(flat)
    low = plain["region=extra_regional"]["verification"]["fmr_at_population_threshold"]["ci"]
    high = plain["region=regional"]["verification"]["fmr_at_population_threshold"]["ci"]
    assert low[0] <= high[1] and high[0] <= low[1]


def test_every_searched_rate_has_an_interval_around_it() -> None:
    report = build_report(run_evaluation(replace(SMALL, sizes=(100, 1_000))))
    for gallery in report["identification"]["galleries"]:
        assert gallery["method"] == "search"
        for key in ("fpir_at_operational_threshold", "fnir_at_operational_threshold", "rank1"):
            low, high = gallery[f"{key}_ci"]
            assert low <= gallery[key] <= high
        assert set(gallery["model_error"]) >= {"threshold_at_target_fpir", "rank1"}
    low, high = report["verification"]["eer_ci"]
    assert low < report["verification"]["eer"] < high
    assert report["intervals"]["replicates"] == 40
