"""1:N rates for galleries too large to search: a fitted impostor-distance tail.

A non-mated search of a gallery of N false a match when the least of its N
impostor distances is below ``t``, so FPIR_N(t) = 1 - (1 - FMR(t))^N ≈ N·FMR(t).
At N = 10^6 and FPIR = 0.003 that needs FMR near 3e-9, far below what sampled
impostor pairs reach, so the lower tail is modelled and extrapolated.

Model: the squared distance of two isotropic Gaussian d-dimensional templates
is σ²·χ²_d, where σ² (per-coordinate variance of their difference) varies
from pair to pair with capture quality. The model takes ln σ² ~ N(μ, τ²), so

    FMR(t) = E_z[ P(χ²_d < t² / σ²(z)) ],  σ²(z) = exp(μ + τ z),  z ~ N(0, 1)

(Gauss-Hermite quadrature), with d the template dimension and (μ, τ) fitted
by weighted least squares on log FMR over the sampled lower tail (FMR 1e-6 to
1e-2, points with at least 10 impostor pairs below). The report compares it
with real searches of the galleries small enough to search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from biometric_exchange.evaluation.metrics import (
    FloatArray,
    SortedScores,
    fmr_for_fpir,
    fpir_from_fmr,
)
from biometric_exchange.exceptions import InvalidInput

FIT_RANGE = (1e-6, 1e-2)
"""FMR range of the sampled lower tail used for the fit."""
MIN_ERRORS = 10
"""A fit point needs at least this many impostor distances below it."""
FIT_POINTS = 40
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True)
class ImpostorTail:
    """Impostor distance model: d² = σ²·χ²_dof with ln σ² ~ N(log_scale_mean, log_scale_sd²)."""

    dof: int
    log_scale_mean: float
    log_scale_sd: float
    fit_range: tuple[float, float] = FIT_RANGE
    fit_points: int = 0
    max_abs_log10_error: float = 0.0
    """Largest |log10(model FMR / sampled FMR)| over the fit points."""

    def cdf(self, thresholds: ArrayLike) -> FloatArray:
        """Modelled FMR(t) = P(d < t)."""
        t = np.asarray(thresholds, dtype=np.float64)
        scales = np.exp(self.log_scale_mean + self.log_scale_sd * _NODES)
        chi = special.gammainc(self.dof / 2, np.square(t)[..., None] / (2 * scales))
        return _floats(chi @ _WEIGHTS)

    def quantile(self, fmr: float) -> float:
        """The threshold ``t`` with modelled FMR(t) = ``fmr`` (0 < fmr < 1)."""
        if not 0 < fmr < 1:
            raise InvalidInput(f"fmr: expected a value strictly between 0 and 1, got {fmr!r}")
        target = math.log(fmr)
        high = 2.0 * math.sqrt(self.dof * math.exp(self.log_scale_mean + 8 * self.log_scale_sd))

        def gap(t: float) -> float:
            return math.log(max(float(self.cdf([t])[0]), 1e-300)) - target

        return float(optimize.brentq(gap, 1e-9, high, xtol=1e-10))


def fit_impostor_tail(
    impostor: SortedScores,
    dof: int,
    fit_range: tuple[float, float] = FIT_RANGE,
    points: int = FIT_POINTS,
) -> ImpostorTail:
    """Fit the lower tail of ``impostor`` distances (see the module docstring)."""
    n = len(impostor)
    low = max(fit_range[0], MIN_ERRORS / n)
    if low >= fit_range[1]:
        raise InvalidInput(f"impostor: {n} distances are too few to fit the tail")
    targets = np.geomspace(low, fit_range[1], points)
    thresholds = impostor.values[np.ceil(targets * n).astype(np.int64)]
    counts = impostor.count_below(thresholds).astype(np.float64)
    keep = counts >= MIN_ERRORS
    if np.count_nonzero(keep) < 2:
        raise InvalidInput(f"impostor: {n} distances are too few to fit the tail")
    t, observed = thresholds[keep], np.log(counts[keep] / n)
    weights = np.sqrt(counts[keep])
    weights /= weights.max()

    def model(params: FloatArray) -> ImpostorTail:
        return ImpostorTail(dof, float(params[0]), float(np.exp(params[1])))

    def residuals(params: FloatArray) -> FloatArray:
        fmr = np.maximum(model(params).cdf(t), 1e-300)
        return _floats((np.log(fmr) - observed) * weights)

    mean_square = float(np.mean(np.square(impostor.values)))
    start = np.array([math.log(mean_square / dof), math.log(0.1)])
    solution = optimize.least_squares(residuals, start, method="lm")
    fitted = model(solution.x)
    error = np.abs(np.log10(np.maximum(fitted.cdf(t), 1e-300)) - observed / math.log(10))
    return ImpostorTail(
        dof,
        fitted.log_scale_mean,
        fitted.log_scale_sd,
        (low, fit_range[1]),
        int(t.size),
        float(error.max()),
    )


def modelled_fpir(model: ImpostorTail, gallery_size: int, thresholds: ArrayLike) -> FloatArray:
    """FPIR_N(t) = 1 - (1 - FMR(t))^N with the modelled FMR."""
    return fpir_from_fmr(model.cdf(thresholds), gallery_size)


def modelled_threshold(model: ImpostorTail, gallery_size: int, fpir: float) -> float:
    """The threshold giving ``fpir`` on a gallery of ``gallery_size``."""
    return model.quantile(fmr_for_fpir(fpir, gallery_size))


def modelled_fnir(
    model: ImpostorTail,
    genuine: SortedScores,
    gallery_size: int,
    thresholds: ArrayLike,
    *,
    genuine_fmr: FloatArray | None = None,
) -> FloatArray:
    """FNIR_N(t) = 1 - E[1{g < t} (1 - FMR(g))^(N-1)] over genuine distances g.

    The mate is found at rank 1 under ``t`` when it is below ``t`` and none of
    the N - 1 other gallery entries is nearer. ``genuine_fmr``: ``model.cdf``
    of the genuine distances, if already computed.
    """
    fmr = model.cdf(genuine.values) if genuine_fmr is None else genuine_fmr
    with np.errstate(divide="ignore"):  # modelled FMR of 1 far out: the mate never wins
        survive = np.exp((gallery_size - 1) * np.log1p(-fmr))
    cumulative = np.concatenate([[0.0], np.cumsum(survive)])
    found = cumulative[genuine.count_below(thresholds)] / len(genuine)
    return _floats(1.0 - found)


def modelled_cmc(
    model: ImpostorTail,
    genuine: SortedScores,
    gallery_size: int,
    max_rank: int,
    *,
    genuine_fmr: FloatArray | None = None,
) -> FloatArray:
    """Rank-r identification rate: P(fewer than r of N - 1 non-mates beat the mate)."""
    fmr = model.cdf(genuine.values) if genuine_fmr is None else genuine_fmr
    ranks = np.arange(1, max_rank + 1)
    beaten = stats.binom.cdf(ranks[None, :] - 1, gallery_size - 1, fmr[:, None])
    return _floats(np.asarray(beaten, dtype=np.float64).mean(axis=0))


def _floats(values: object) -> FloatArray:
    return cast(FloatArray, np.asarray(values, dtype=np.float64))
