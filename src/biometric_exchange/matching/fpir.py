"""Thresholds for a target false-positive identification rate (1:N identify).

In an identify (1:N) call, as MOSIP's ABIS interface and OSIA's ``identify``
define it, a probe whose person is not enrolled still gets a candidate
whenever any of the N gallery entries scores below the threshold. With
impostor comparisons independent and each matching falsely with probability
``FMR(t)`` (the share of impostor distances strictly below ``t``):

    FPIR(t) ~= 1 - (1 - FMR(t)) ** N

so a target FPIR at gallery size N needs ``FMR = 1 - (1 - FPIR) ** (1 / N)``
(about FPIR / N), and the threshold is the FMR-quantile of the impostor
distances:

* ``normal`` (default): a normal fit of the impostor distances, so that
  quantiles far below the sample (FMR ~ 1e-8 at N = 1M) can be reached. For
  templates like dlib's, whose impostor distances are a scaled chi with many
  degrees of freedom, the lower tail is lighter than the normal's, so the
  threshold errs on the safe (lower) side.
* ``empirical``: the order statistic itself; needs at least ``1 / FMR``
  impostor distances and raises otherwise.

The approximation ignores correlation between comparisons of one probe
(a probe that looks like many people) and duplicate enrolments; validate the
chosen threshold on held-out non-mated searches at the real gallery size.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from biometric_exchange.exceptions import InvalidInput

Method = Literal["normal", "empirical"]


def fmr_for_fpir(fpir: float, gallery_size: int) -> float:
    """Per-comparison FMR giving ``fpir`` over ``gallery_size`` independent comparisons."""
    _check_rate(fpir, "fpir")
    size = _check_size(gallery_size)
    return -math.expm1(math.log1p(-fpir) / size)


def fpir_for_fmr(fmr: float, gallery_size: int) -> float:
    """FPIR over ``gallery_size`` independent comparisons at per-comparison ``fmr``."""
    _check_rate(fmr, "fmr")
    size = _check_size(gallery_size)
    return -math.expm1(size * math.log1p(-fmr))


def false_match_rate(threshold: float, impostor_distances: ArrayLike) -> float:
    """Share of impostor distances strictly below ``threshold``."""
    values = _impostors(impostor_distances)
    return float(np.count_nonzero(values < threshold)) / values.size


def threshold_for_fpir(
    target_fpir: float,
    gallery_size: int,
    impostor_distances: ArrayLike,
    *,
    method: Method = "normal",
) -> float:
    """The distance threshold whose FPIR at ``gallery_size`` is about ``target_fpir``.

    Use it as ``Gallery.search(..., threshold=t)`` (hits are strictly below t).
    """
    fmr = fmr_for_fpir(target_fpir, gallery_size)
    values = _impostors(impostor_distances)
    if method == "normal":
        mean, spread = float(values.mean()), float(values.std(ddof=1))
        if not spread > 0:
            raise InvalidInput("impostor_distances: need distances that are not all equal")
        return max(0.0, NormalDist(mean, spread).inv_cdf(fmr))
    if method == "empirical":
        allowed = math.floor(fmr * values.size)
        if allowed < 1:
            needed = math.ceil(1.0 / fmr)
            raise InvalidInput(
                f"impostor_distances: FMR {fmr:.3g} needs at least {needed} impostor distances "
                f"for an empirical threshold, got {values.size}; use method='normal'"
            )
        # ``allowed`` distances lie strictly below the (allowed + 1)-th smallest.
        return float(np.partition(values, allowed)[allowed])
    raise InvalidInput(f"method: expected 'normal' or 'empirical', got {method!r}")


def _impostors(values: ArrayLike) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size < 2 or not np.all(np.isfinite(array)):
        raise InvalidInput("impostor_distances: expected at least 2 finite distances")
    return array


def _check_rate(rate: float, name: str) -> None:
    if not 0.0 < rate < 1.0:
        raise InvalidInput(f"{name}: expected a rate in (0, 1), got {rate!r}")


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInput(f"gallery_size: expected an integer >= 1, got {size!r}")
    return size
