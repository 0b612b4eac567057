"""Unit tests for the seeded synthetic data generator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest

from biometric_exchange import __version__, regions
from biometric_exchange.domain import (
    TEMPLATE_DIM,
    Encounter,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
    template_to_bytes,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic import (
    BORDER_POINTS,
    EXTRA_REGIONAL_MIX,
    NATIONALITY_MIX,
    REGIONAL_MIX,
    DemoDataset,
    FakerPool,
    TemplateModel,
    build_demo_dataset,
    distance,
    generate_person,
    window_start,
)

TOLERANCE = 0.6
SEEDS = (0, 1, 7, 2024, 99_999)


@pytest.fixture(scope="module")
def datasets() -> dict[int, DemoDataset]:
    return {seed: build_demo_dataset(seed) for seed in SEEDS}


def _records(ds: DemoDataset) -> Iterator[Encounter | WatchlistEntry]:
    for country in ("CHL", "PAN"):
        yield from ds.watchlists[country]
        yield from ds.encounters[country]


def _fingerprint(ds: DemoDataset) -> list[object]:
    """Every field of every record, templates as bytes (arrays have no ==)."""
    rows: list[object] = []
    for country in ("CHL", "PAN"):
        for e in ds.watchlists[country]:
            rows.append(
                (e.entry_id, e.category, e.person, e.valid_until, template_to_bytes(e.template))
            )
        for n in ds.encounters[country]:
            rows.append(
                (
                    n.encounter_id,
                    n.person,
                    n.encountered_at,
                    n.border_point,
                    template_to_bytes(n.template),
                )
            )
    return [*rows, *ds.ground_truth]


# --- template model -----------------------------------------------------------


def test_genuine_and_impostor_distances_separate_at_tolerance() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(12345)
    latents = [model.latent(rng) for _ in range(200)]
    genuine = np.array([distance(model.capture(z, rng), model.capture(z, rng)) for z in latents])
    captures = [model.capture(z, rng) for z in latents]
    impostor = np.array(
        [distance(captures[i], captures[j]) for i in range(200) for j in range(i + 1, 200)]
    )
    assert (genuine < TOLERANCE).mean() >= 0.97
    assert (impostor > TOLERANCE).mean() >= 0.99
    assert 0.3 <= float(np.median(genuine)) <= 0.5
    assert 0.8 <= float(np.median(impostor)) <= 1.0


def test_capture_noise_varies_so_some_genuine_pairs_are_harder() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(5)
    z = model.latent(rng)
    deviations = np.array([distance(model.capture(z, rng), z) for _ in range(2000)])
    fixed = TemplateModel(noise_log_sigma=0.0)
    fixed_dev = np.array([distance(fixed.capture(z, rng), z) for _ in range(2000)])
    # The lognormal factor widens the spread well beyond chi noise alone.
    assert deviations.std() > 2 * fixed_dev.std()


def test_templates_are_float32_read_only_and_128_d() -> None:
    model = TemplateModel()
    rng = np.random.default_rng(0)
    for template in (model.latent(rng), model.capture(model.latent(rng), rng)):
        assert template.dtype == np.float32
        assert template.shape == (TEMPLATE_DIM,)
        assert not template.flags.writeable


def test_template_model_uses_only_the_given_generator() -> None:
    model = TemplateModel()
    np.random.seed(0)  # the legacy global state must stay untouched
    expected = np.random.RandomState(0).random_sample()
    a = model.capture(model.latent(np.random.default_rng(3)), np.random.default_rng(4))
    b = model.capture(model.latent(np.random.default_rng(3)), np.random.default_rng(4))
    assert template_to_bytes(a) == template_to_bytes(b)
    assert np.random.random_sample() == expected


def test_template_model_rejects_bad_parameters_and_latents() -> None:
    with pytest.raises(InvalidInput, match="noise_scale"):
        TemplateModel(noise_scale=0.0)
    with pytest.raises(InvalidInput, match="latent"):
        TemplateModel().capture(np.zeros(64, dtype=np.float32), np.random.default_rng(0))


# --- people -------------------------------------------------------------------


def test_nationality_mix_splits_by_region() -> None:
    assert set(NATIONALITY_MIX) == set(REGIONAL_MIX) | set(EXTRA_REGIONAL_MIX)
    assert {"CHN", "IND", "NPL", "BGD", "AFG", "CMR", "SOM"} <= set(EXTRA_REGIONAL_MIX)
    for code in EXTRA_REGIONAL_MIX:
        assert regions.is_extra_regional(code), code
    for code in REGIONAL_MIX:
        assert not regions.is_extra_regional(code), code
    assert all(weight > 0 for weight in NATIONALITY_MIX.values())


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_generated_people_are_plausible_and_synthetic() -> None:
    rng = np.random.default_rng(42)
    pool = FakerPool()
    reference = dt.date(2024, 2, 29)
    codes = list(NATIONALITY_MIX)
    people = [
        generate_person(rng, pool, codes[i % len(codes)], reference_date=reference)
        for i in range(400)
    ]
    ages = [_age(p.birth_date, reference) for p in people]
    assert all(0 <= age <= 65 for age in ages)
    adults = sum(age >= 18 for age in ages)
    assert 0.7 * len(people) <= adults < len(people)  # mostly adults, some minors
    assert {p.sex for p in people} == {Sex.FEMALE, Sex.MALE}
    for person in people:
        assert regions.nationality(person.nationality).code == person.nationality
        assert person.document_number.startswith("SYN-")
        assert len(person.document_number) == 12
        assert person.document_number[4:].isalnum()
        assert person.given_name and person.family_name
    assert len({p.document_number for p in people}) == len(people)


def test_names_follow_the_nationality_locale() -> None:
    rng = np.random.default_rng(1)
    pool = FakerPool()
    chinese = generate_person(rng, pool, "CHN")
    chilean = generate_person(rng, pool, "CHL")
    assert all("\u4e00" <= ch <= "\u9fff" for ch in chinese.family_name)
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in chilean.family_name)


def test_people_are_deterministic_for_a_seed() -> None:
    first = generate_person(np.random.default_rng(8), FakerPool(), "NPL")
    again = generate_person(np.random.default_rng(8), FakerPool(), "NPL")
    other = generate_person(np.random.default_rng(9), FakerPool(), "NPL")
    assert first == again
    assert first != other


# --- dataset ------------------------------------------------------------------


def test_same_seed_gives_identical_dataset(datasets: dict[int, DemoDataset]) -> None:
    assert _fingerprint(build_demo_dataset(7)) == _fingerprint(datasets[7])


def test_different_seeds_give_different_datasets(datasets: dict[int, DemoDataset]) -> None:
    assert _fingerprint(datasets[0]) != _fingerprint(datasets[1])
    templates_0 = {template_to_bytes(r.template) for r in _records(datasets[0])}
    templates_1 = {template_to_bytes(r.template) for r in _records(datasets[1])}
    assert not templates_0 & templates_1


def test_shapes_ids_and_border_points(datasets: dict[int, DemoDataset]) -> None:
    ds = build_demo_dataset(3, encounters_per_country=6, watchlist_size=9)
    for country in ("CHL", "PAN"):
        assert [e.entry_id for e in ds.watchlists[country]] == [
            f"{country}-WL-{i:04d}" for i in range(1, 10)
        ]
        assert [n.encounter_id for n in ds.encounters[country]] == [
            f"{country}-ENC-{i:04d}" for i in range(1, 7)
        ]
    for seed_ds in datasets.values():
        for country in ("CHL", "PAN"):
            assert len(seed_ds.watchlists[country]) == 20
            assert len(seed_ds.encounters[country]) == 12
            for n in seed_ds.encounters[country]:
                assert n.border_point in BORDER_POINTS[country]
            for e in seed_ds.watchlists[country]:
                assert isinstance(e.category, WatchlistCategory)


def test_provenance_on_every_record(datasets: dict[int, DemoDataset]) -> None:
    for seed, ds in datasets.items():
        for record in _records(ds):
            assert record.provenance.synthetic is True
            assert record.provenance.generator == f"biometric-exchange {__version__}"
            assert record.provenance.seed == seed
            assert record.person.document_number.startswith("SYN-")
            regions.nationality(record.person.nationality)


def test_encounter_times_are_utc_in_a_window_fixed_by_the_seed(
    datasets: dict[int, DemoDataset],
) -> None:
    starts = set()
    for ds in datasets.values():
        times = [n.encountered_at for c in ("CHL", "PAN") for n in ds.encounters[c]]
        assert all(t.utcoffset() == dt.timedelta(0) for t in times)
        assert max(times) - min(times) <= dt.timedelta(days=14)
        assert all(dt.datetime(2025, 1, 1, tzinfo=dt.UTC) <= t for t in times)
        assert all(t < dt.datetime(2026, 1, 1, tzinfo=dt.UTC) for t in times)
        for country in ("CHL", "PAN"):
            country_times = [n.encountered_at for n in ds.encounters[country]]
            assert country_times == sorted(country_times)
        starts.add(min(times).date())
    assert len(starts) > 1


def test_ground_truth_matches_actual_distances(datasets: dict[int, DemoDataset]) -> None:
    for ds in datasets.values():
        entries = {e.entry_id: e for c in ("CHL", "PAN") for e in ds.watchlists[c]}
        encounters = {n.encounter_id: n for c in ("CHL", "PAN") for n in ds.encounters[c]}
        assert [g.encounter_id for g in ds.ground_truth] == list(encounters)
        for truth in ds.ground_truth:
            encounter = encounters[truth.encounter_id]
            assert truth.enrolling_country == truth.encounter_id[:3]
            assert truth.extra_regional == regions.is_extra_regional(encounter.person.nationality)
            matches = [
                entry_id
                for entry_id, entry in entries.items()
                if distance(encounter.template, entry.template) < TOLERANCE
            ]
            if truth.watchlist_entry_id is None:
                assert truth.holder_country is None
                assert matches == []
            else:
                entry = entries[truth.watchlist_entry_id]
                assert matches == [truth.watchlist_entry_id]
                assert truth.holder_country == truth.watchlist_entry_id[:3]
                assert entry.person == encounter.person


def test_planted_cases_are_present_for_every_seed(datasets: dict[int, DemoDataset]) -> None:
    for ds in datasets.values():
        cases = [
            (g.enrolling_country, g.holder_country, g.extra_regional)
            for g in ds.ground_truth
            if g.holder_country is not None
        ]
        assert cases.count(("PAN", "CHL", True)) >= 2
        assert cases.count(("PAN", "CHL", False)) >= 1
        assert cases.count(("PAN", "PAN", True)) >= 1
        assert cases.count(("CHL", "PAN", True)) >= 1
        for country in ("CHL", "PAN"):
            unrelated = [
                g
                for g in ds.ground_truth
                if g.enrolling_country == country and g.holder_country is None
            ]
            assert sum(g.extra_regional for g in unrelated) > len(unrelated) / 2


def test_only_missing_persons_on_watchlists_are_minors(datasets: dict[int, DemoDataset]) -> None:
    for seed, ds in datasets.items():
        reference = window_start(seed).date()
        for c in ("CHL", "PAN"):
            for e in ds.watchlists[c]:
                if _age(e.person.birth_date, reference) < 18:
                    assert e.category is WatchlistCategory.MISSING_PERSON


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1, "encounters_per_country": 3}, "encounters_per_country"),
        ({"seed": 1, "watchlist_size": 3}, "watchlist_size"),
    ],
)
def test_rejects_sizes_too_small_for_the_planted_cases(kwargs: dict[str, int], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        build_demo_dataset(**kwargs)
