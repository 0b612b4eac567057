"""Synthetic evaluation subjects: identity latents, captures and demographic labels.

Nationality (by the Darién mix) and age band are drawn first; templates then
come from ``TemplateModel``'s batch sampler with the subject's group-effect
multipliers. With no ``effects`` (the default) the multipliers are all 1, so
templates are independent of demographics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX
from biometric_exchange.synthetic.templates import TemplateModel

Matrix = NDArray[np.float32]
REGION_LABELS = ("regional", "extra_regional")
AGE_LABELS = ("adult", "minor")


@dataclass(frozen=True, eq=False)
class Cohort:
    """n synthetic subjects: latents (n, dim) and per-subject labels."""

    latents: Matrix
    nationality: NDArray[np.str_]
    extra_regional: NDArray[np.bool_]
    minor: NDArray[np.bool_]
    noise_multiplier: FloatArray
    """Per subject, from the model's group effects (1 when none applies)."""

    def captures(self, rng: np.random.Generator, model: TemplateModel) -> Matrix:
        """One fresh capture of every subject."""
        return model.captures(self.latents, rng, noise_multiplier=self.noise_multiplier)

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def labels(self, dimension: str) -> NDArray[np.str_]:
        """Group label of each subject for "region", "age_band" or "nationality"."""
        if dimension == "region":
            return np.asarray(REGION_LABELS)[self.extra_regional.astype(np.intp)]
        if dimension == "age_band":
            return np.asarray(AGE_LABELS)[self.minor.astype(np.intp)]
        if dimension == "nationality":
            return self.nationality
        raise InvalidInput(
            f"dimension: expected region, age_band or nationality, got {dimension!r}"
        )


def draw_cohort(
    rng: np.random.Generator,
    n: int,
    model: TemplateModel,
    *,
    extra_regional_share: float,
    minor_share: float,
) -> Cohort:
    """``n`` subjects: extra-regional with the given share, nationality by the Darién mix."""
    extra = rng.random(n) < extra_regional_share
    nationality = np.where(
        extra, _draw_codes(rng, n, EXTRA_REGIONAL_MIX), _draw_codes(rng, n, REGIONAL_MIX)
    )
    minor = rng.random(n) < minor_share
    identity, noise = model.multipliers(nationality, minor)
    latents = model.latents(rng, n, identity_multiplier=identity)
    return Cohort(latents, nationality, extra, minor, noise)


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
