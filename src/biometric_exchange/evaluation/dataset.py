"""Synthetic evaluation subjects: identity latents, captures and demographic labels.

Region, nationality (by the Darién mix), sex and age band are drawn first;
templates then come from ``TemplateModel``'s batch sampler with the
subject's multipliers from the model's group effects and the scenario's
differentials. With neither (the default) the multipliers are all 1, so
templates are independent of demographics and every stratum is alike by
construction. Image quality is a property of each capture, not of the
subject (``capture_quality``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.evaluation.scenario import Differential, subject_multipliers
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX
from biometric_exchange.synthetic.templates import TemplateModel

Matrix = NDArray[np.float32]
REGION_LABELS = ("regional", "extra_regional")
SEX_LABELS = ("female", "male")
AGE_BANDS = ("0-11", "12-17", "18-29", "30-49", "50-64", "65+")
MINOR_BANDS = 2
"""The first two age bands are minors."""
QUALITY_LABELS = ("good", "fair", "poor")
QUALITY_EDGES = (1.0, 1.25)
"""Capture noise, relative to the model's median, at the good/fair and fair/poor edges."""
QUALITY_ROWS = 16_384
DIMENSIONS = ("sex", "age_band", "region", "quality", "nationality")
SUBJECT_DIMENSIONS = ("sex", "age_band", "region")


@dataclass(frozen=True, eq=False)
class Cohort:
    """n synthetic subjects: latents (n, dim) and per-subject labels."""

    latents: Matrix
    nationality: NDArray[np.str_]
    extra_regional: NDArray[np.bool_]
    age_band: NDArray[np.intp]
    """Index into ``AGE_BANDS``."""
    female: NDArray[np.bool_]
    noise_multiplier: FloatArray
    """Per subject, from the model's group effects and the scenario (1 when none applies)."""

    @property
    def minor(self) -> NDArray[np.bool_]:
        return self.age_band < MINOR_BANDS

    def captures(self, rng: np.random.Generator, model: TemplateModel) -> Matrix:
        """One fresh capture of every subject."""
        return model.captures(self.latents, rng, noise_multiplier=self.noise_multiplier)

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def labels(self, dimension: str) -> NDArray[np.str_]:
        """Each subject's label for "sex", "age_band", "region" or "nationality"."""
        if dimension == "region":
            return np.asarray(REGION_LABELS)[self.extra_regional.astype(np.intp)]
        if dimension == "age_band":
            return np.asarray(AGE_BANDS)[self.age_band]
        if dimension == "sex":
            return np.asarray(SEX_LABELS)[(~self.female).astype(np.intp)]
        if dimension == "nationality":
            return self.nationality
        raise InvalidInput(
            f"dimension: expected sex, age_band, region or nationality, got {dimension!r}"
        )


@dataclass(frozen=True)
class Design:
    """Shares of the evaluation cohort, balanced so that every stratum is large."""

    extra_regional_share: float = 0.5
    female_share: float = 0.5
    age_shares: tuple[float, ...] = (1 / 6,) * 6
    scenario: tuple[Differential, ...] = ()

    def __post_init__(self) -> None:
        if len(self.age_shares) != len(AGE_BANDS) or any(s < 0 for s in self.age_shares):
            raise InvalidInput(f"age_shares: expected {len(AGE_BANDS)} non-negative shares")
        if not math.isclose(sum(self.age_shares), 1.0, abs_tol=1e-9):
            raise InvalidInput("age_shares: expected shares summing to 1")


def draw_cohort(rng: np.random.Generator, n: int, model: TemplateModel, design: Design) -> Cohort:
    """``n`` subjects: region, nationality (Darién mix), sex and age band by ``design``."""
    extra = rng.random(n) < design.extra_regional_share
    nationality = np.where(
        extra, _draw_codes(rng, n, EXTRA_REGIONAL_MIX), _draw_codes(rng, n, REGIONAL_MIX)
    )
    female = rng.random(n) < design.female_share
    band = rng.choice(len(AGE_BANDS), size=n, p=np.asarray(design.age_shares)).astype(np.intp)
    identity, noise = model.multipliers(nationality, band < MINOR_BANDS)
    if design.scenario:
        unlabelled = Cohort(model.latents(rng, 0), nationality, extra, band, female, noise)
        labels = {d: unlabelled.labels(d) for d in SUBJECT_DIMENSIONS}
        extra_identity, extra_noise = subject_multipliers(model, design.scenario, labels)
        identity, noise = identity * extra_identity, noise * extra_noise
    latents = model.latents(rng, n, identity_multiplier=identity)
    return Cohort(latents, nationality, extra, band, female, noise)


def capture_quality(latents: Matrix, captures: Matrix, model: TemplateModel) -> NDArray[np.str_]:
    """Quality band of each capture from its noise: |capture - latent| over the model's median.

    A stand-in for a quality score (ISO/IEC 29794-5): known here because the
    latent is known; "poor" captures are the noisiest.
    """
    noise = np.empty(latents.shape[0])
    for start in range(0, noise.size, QUALITY_ROWS):  # bounded temporaries
        rows = slice(start, start + QUALITY_ROWS)
        noise[rows] = np.linalg.norm((captures[rows] - latents[rows]).astype(np.float64), axis=1)
    relative = noise / (model.noise_scale * math.sqrt(model.dim))
    bands: NDArray[np.str_] = np.asarray(QUALITY_LABELS)[np.searchsorted(QUALITY_EDGES, relative)]
    return bands


def worse_quality(a: NDArray[np.str_], b: NDArray[np.str_]) -> NDArray[np.str_]:
    """The worse of two captures' quality bands (a pair is as good as its worse image)."""
    rank = {label: i for i, label in enumerate(QUALITY_LABELS)}
    ra = np.vectorize(rank.__getitem__, otypes=[np.intp])(a)
    rb = np.vectorize(rank.__getitem__, otypes=[np.intp])(b)
    return np.asarray(QUALITY_LABELS)[np.maximum(ra, rb)]


def cross_distances(a: Matrix, b: Matrix) -> FloatArray:
    """All Euclidean distances between rows of ``a`` and rows of ``b`` (float64)."""
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    squared = np.einsum("ij,ij->i", wide_a, wide_a)[:, None] - 2.0 * (wide_a @ wide_b.T)
    squared += np.einsum("ij,ij->i", wide_b, wide_b)[None, :]
    result: FloatArray = np.sqrt(np.maximum(squared, 0.0))
    return result


def _draw_codes(rng: np.random.Generator, n: int, mix: Mapping[str, float]) -> NDArray[np.str_]:
    codes = np.asarray(list(mix))
    weights = np.asarray(list(mix.values()), dtype=np.float64)
    return codes[rng.choice(codes.size, size=n, p=weights / weights.sum())]
