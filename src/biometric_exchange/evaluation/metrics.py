"""Empirical error rates in ISO/IEC 19795-1 terms; pure numpy, no I/O.

Scores are Euclidean distances. A comparison *matches* at threshold ``t`` when
its distance is strictly below ``t``, as ``Gallery.search`` decides. Hence:

* FMR(t): fraction of impostor distances ``< t``;
* FNMR(t): fraction of genuine distances ``>= t``;
* FPIR(t): fraction of non-mated searches whose nearest candidate is ``< t``;
* FNIR(t): fraction of mated searches whose mate is not returned at rank 1
  with a distance ``< t`` (record a search whose rank 1 is not the mate as
  distance ``+inf``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidInput

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SortedScores:
    """Distances sorted ascending (float64), for fast rate queries at many thresholds."""

    values: FloatArray

    @classmethod
    def of(cls, scores: ArrayLike) -> SortedScores:
        """Sort ``scores`` (any shape; NaN is refused)."""
        values = np.sort(np.asarray(scores, dtype=np.float64).ravel())
        if values.size and np.isnan(values[-1]):
            raise InvalidInput("scores: NaN is not a distance")
        return cls(values)

    def __len__(self) -> int:
        return int(self.values.size)

    def count_below(self, thresholds: ArrayLike) -> IntArray:
        """Per threshold ``t``: how many scores are strictly below ``t``."""
        t = np.asarray(thresholds, dtype=np.float64)
        counts: IntArray = np.searchsorted(self.values, t, side="left").astype(np.int64)
        return counts

    def fraction_below(self, thresholds: ArrayLike) -> FloatArray:
        """Per threshold ``t``: the fraction of scores strictly below ``t`` (FMR, FPIR)."""
        return self.count_below(thresholds) / _nonempty(len(self))

    def fraction_at_or_above(self, thresholds: ArrayLike) -> FloatArray:
        """Per threshold ``t``: the fraction of scores at or above ``t`` (FNMR, FNIR)."""
        return 1.0 - self.fraction_below(thresholds)

    def threshold_for_rate(self, rate: float) -> float:
        """The largest ``t`` with ``fraction_below(t) <= rate`` (+inf if every ``t`` is).

        With ``a = floor(rate * n)`` errors allowed, that is the (a+1)-th smallest score.
        """
        if not 0.0 <= rate <= 1.0:
            raise InvalidInput(f"rate: expected a value in [0, 1], got {rate!r}")
        allowed = math.floor(rate * _nonempty(len(self)) * (1 + 1e-12))
        return math.inf if allowed >= len(self) else float(self.values[allowed])


@dataclass(frozen=True, eq=False)
class ErrorCurve:
    """FMR and FNMR at each threshold of an ascending grid."""

    thresholds: FloatArray
    fmr: FloatArray
    fnmr: FloatArray


def error_curve(genuine: SortedScores, impostor: SortedScores, thresholds: ArrayLike) -> ErrorCurve:
    """FMR(t) and FNMR(t) over ``thresholds`` (ascending)."""
    grid = np.asarray(thresholds, dtype=np.float64)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise InvalidInput("thresholds: expected at least two ascending values")
    return ErrorCurve(grid, impostor.fraction_below(grid), genuine.fraction_at_or_above(grid))


def equal_error_rate(curve: ErrorCurve) -> tuple[float, float]:
    """(EER, threshold) where FMR and FNMR cross, interpolated linearly on the grid."""
    gap = curve.fmr - curve.fnmr
    above = np.flatnonzero(gap >= 0)
    if above.size == 0 or gap[0] > 0:
        raise InvalidInput("thresholds: the grid does not bracket the FMR/FNMR crossing")
    i = int(above[0])
    if gap[i] == 0 or i == 0:
        return float((curve.fmr[i] + curve.fnmr[i]) / 2), float(curve.thresholds[i])
    w = float(-gap[i - 1] / (gap[i] - gap[i - 1]))
    rate = curve.fmr[i - 1] + w * (curve.fmr[i] - curve.fmr[i - 1])
    threshold = curve.thresholds[i - 1] + w * (curve.thresholds[i] - curve.thresholds[i - 1])
    return float(rate), float(threshold)


def fpir_from_fmr(fmr: ArrayLike, gallery_size: int) -> FloatArray:
    """FPIR = 1 - (1 - FMR)^N for N independent impostor comparisons (≈ N·FMR)."""
    p = np.asarray(fmr, dtype=np.float64)
    with np.errstate(divide="ignore"):  # FMR = 1 gives log1p(-1) = -inf, hence FPIR = 1
        result: FloatArray = -np.expm1(gallery_size * np.log1p(-p))
    return result


def fmr_for_fpir(fpir: float, gallery_size: int) -> float:
    """The per-comparison FMR giving ``fpir`` over N comparisons (≈ FPIR / N)."""
    return float(-math.expm1(math.log1p(-fpir) / gallery_size))


def mate_ranks(candidate_ids: ArrayLike, mate_ids: Sequence[str]) -> IntArray:
    """Rank (1-based) of each search's mate among its candidates; 0 when not returned."""
    ids = np.asarray(candidate_ids, dtype=object)
    mates = np.asarray(list(mate_ids), dtype=object)
    if ids.ndim != 2 or ids.shape[0] != mates.size:
        raise InvalidInput("candidate_ids: expected one row of ids per mate id")
    hit = ids == mates[:, None]
    ranks: IntArray = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)
    return ranks


def rank1_mate_distances(ranks: ArrayLike, rank1_distances: ArrayLike) -> FloatArray:
    """Rank-1 distance where the mate is at rank 1, else +inf (FNIR counts it missed)."""
    r = np.asarray(ranks)
    d = np.asarray(rank1_distances, dtype=np.float64)
    result: FloatArray = np.where(r == 1, d, np.inf)
    return result


def cmc(ranks: ArrayLike, max_rank: int) -> FloatArray:
    """Cumulative match characteristic: identification rate at ranks 1..max_rank."""
    r = np.asarray(ranks, dtype=np.int64)
    found = r[r > 0]
    counts = np.bincount(found, minlength=max_rank + 1)[1 : max_rank + 1]
    result: FloatArray = np.cumsum(counts) / _nonempty(r.size)
    return result


def wilson_interval(errors: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound near 0, unlike Wald)."""
    if trials <= 0 or not 0 <= errors <= trials:
        raise InvalidInput(
            f"errors/trials: need 0 <= errors <= trials, trials > 0 ({errors}/{trials})"
        )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = errors / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if errors == 0 else max(0.0, centre - half)
    high = 1.0 if errors == trials else min(1.0, centre + half)
    return low, high


def intervals_agree(intervals: Sequence[tuple[float, float]]) -> bool:
    """True when all intervals share a common point (max of lows <= min of highs)."""
    if not intervals:
        return True
    return max(low for low, _ in intervals) <= min(high for _, high in intervals)


def _nonempty(n: int) -> int:
    if n <= 0:
        raise InvalidInput("scores: need at least one score")
    return n
