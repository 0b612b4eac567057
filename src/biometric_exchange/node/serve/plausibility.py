"""Which probes could be face templates: bands for the norm and for the distance to
the population mean, fitted on a gallery.

A probe scaled, shifted or made of random values falls outside them; a genuine
capture of the same generator essentially never does. The bands are robust
quantiles (0.1 % and 99.9 % by default) of the gallery, widened by a factor:
enrolment-quality watchlist photos are cleaner than border captures, and a
gallery may hold few children, whose templates lie nearer the mean. Nothing is
assumed about the scale, so a protected view (rotated, hashed to bits or
indices) is fitted the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput

LOW_QUANTILE = 0.001
HIGH_QUANTILE = 0.999
WIDENING = 0.5
"""The band is [low / (1 + WIDENING), high x (1 + WIDENING)] of the quantiles."""
MIN_GALLERY = 2
Values = NDArray[np.float64]


@dataclass(frozen=True)
class Band:
    """A plausible range of one statistic, ends included."""

    low: float
    high: float

    def outside(self, values: Values) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = (values < self.low) | (values > self.high)
        return result

    def describe(self) -> str:
        return f"{self.low:.2f}\N{EN DASH}{self.high:.2f}"


def _band(values: Values, widening: float) -> Band:
    low, high = np.quantile(values, [LOW_QUANTILE, HIGH_QUANTILE])
    return Band(float(low) / (1.0 + widening), float(high) * (1.0 + widening))


@dataclass(frozen=True, eq=False)
class PopulationModel:
    """The mean template of a gallery and the plausible bands of its templates."""

    mean: NDArray[np.float32]
    norm: Band
    distance_to_mean: Band

    @classmethod
    def fit(cls, gallery: NDArray[Any], *, widening: float = WIDENING) -> PopulationModel:
        """The model of ``gallery`` (one template per row, any finite values)."""
        rows = np.asarray(gallery, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[0] < MIN_GALLERY or rows.shape[1] < 1:
            raise InvalidInput(
                f"gallery: expected at least {MIN_GALLERY} templates as rows, "
                f"got shape {rows.shape}"
            )
        if not np.isfinite(rows).all():
            raise InvalidInput("gallery: non-finite values")
        if widening < 0:
            raise InvalidInput("widening: must not be negative")
        mean = rows.mean(axis=0)
        frozen = mean.astype(np.float32)
        frozen.flags.writeable = False
        return cls(
            mean=frozen,
            norm=_band(np.linalg.norm(rows, axis=1), widening),
            distance_to_mean=_band(np.linalg.norm(rows - mean, axis=1), widening),
        )

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def refusal(self, template: NDArray[Any]) -> str | None:
        """Why ``template`` is not a plausible face template, or None when it is."""
        return self.refusals(np.asarray(template).reshape(1, -1))[0]

    def refusals(self, templates: NDArray[Any]) -> list[str | None]:
        """``refusal`` of each row, computed at once."""
        rows = np.asarray(templates, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            shape = rows.shape[1:] if rows.ndim == 2 else rows.shape
            return [f"expected {self.dim} values per template, got {shape}"] * len(rows)
        finite = np.asarray(np.isfinite(rows).all(axis=1), dtype=np.bool_)
        rows = np.where(finite[:, None], rows, 0.0)
        norms = np.linalg.norm(rows, axis=1)
        distances = np.linalg.norm(rows - self.mean.astype(np.float64), axis=1)
        bad_norm = self.norm.outside(norms)
        bad_distance = self.distance_to_mean.outside(distances)
        reasons: list[str | None] = [None] * len(rows)
        for index in np.flatnonzero(~finite | bad_norm | bad_distance):
            if not finite[index]:
                reasons[index] = "non-finite values"
            elif bad_norm[index]:
                reasons[index] = (
                    f"norm {norms[index]:.2f} outside the plausible "
                    f"{self.norm.describe()} of face templates"
                )
            else:
                reasons[index] = (
                    f"distance {distances[index]:.2f} to the mean template outside the "
                    f"plausible {self.distance_to_mean.describe()} of face templates"
                )
        return reasons
