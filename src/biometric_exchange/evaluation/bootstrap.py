"""Subject-level bootstrap: resample people, not comparisons; percentile intervals.

Every comparison of a resampled subject counts as often as the subject was
drawn (Bolle, Ratha and Pankanti, "Error analysis of pattern recognition
systems — the subsets bootstrap", Computer Vision and Image Understanding 93,
2004; ISO/IEC 19795-1:2006 §7 on the dependence of comparisons that share a
subject). A replicate draws n subjects with replacement (multinomial counts
``w``); a genuine pair or a search of subject ``a`` weighs ``w_a``, an
impostor pair of subjects ``a`` and ``b`` weighs ``w_a * w_b``. Each rate is
recomputed per replicate, thresholds included (a threshold set for a target
rate is re-estimated in every replicate), and the interval is the 2.5 and
97.5 percentiles of the replicates. A fixed seed makes intervals
reproducible; ``REPLICATES`` replicates unless the caller asks otherwise.

A rate with no error in the sample has a degenerate bootstrap interval
[0, 0]; ``upper_if_none`` gives the exact one-sided 95 % bound
(Clopper-Pearson, about 3/n: the "rule of three") to report instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.exceptions import InvalidInput

REPLICATES = 1000
CONFIDENCE = 0.95
BLOCK = 10
"""Replicates drawn at a time (bounds memory: BLOCK x subjects counts)."""
Counts = NDArray[np.float64]
"""(replicates, subjects) multinomial counts, as floats for weighted sums."""


def subject_counts(
    rng: np.random.Generator, subjects: int | Sequence[int], replicates: int, block: int = BLOCK
) -> Iterator[Counts]:
    """Blocks of per-replicate counts: how often each subject is drawn.

    ``subjects`` may list the sizes of independent sets (e.g. non-mated and
    mated searchers): each set is resampled on its own, columns side by side.
    """
    sets = [subjects] if isinstance(subjects, int) else list(subjects)
    if not sets or min(sets) < 1 or replicates < 1:
        raise InvalidInput("replicates: need at least one subject per set and one replicate")
    for start in range(0, replicates, block):
        rows = min(block, replicates - start)
        parts = []
        for n in sets:
            draws = rng.integers(0, n, size=(rows, n))
            offsets = (np.arange(rows) * n)[:, None]
            counts = np.bincount((draws + offsets).ravel(), minlength=rows * n)
            parts.append(counts.reshape(rows, n).astype(np.float64))
        yield np.concatenate(parts, axis=1)


def upper_if_none(trials: int, confidence: float = CONFIDENCE) -> float:
    """Exact one-sided bound on a rate when 0 of ``trials`` erred: 1 - (1 - conf.)^(1/n)."""
    if trials < 1:
        raise InvalidInput("trials: expected a positive count")
    return float(1 - (1 - confidence) ** (1 / trials))


Statistic = Callable[[Counts], dict[str, FloatArray]]
"""Maps a block of replicate weights (b, subjects) to named values, each (b,) or (b, m)."""


@dataclass(frozen=True, eq=False)
class Estimate:
    """A statistic's value on the sample and its bootstrap percentile interval."""

    value: FloatArray
    low: FloatArray
    high: FloatArray
    replicates: FloatArray
    """(R, ...) every replicate's value (for bands and pointwise intervals)."""


def bootstrap(
    statistic: Statistic,
    subjects: int | Sequence[int],
    rng: np.random.Generator,
    replicates: int = REPLICATES,
    confidence: float = CONFIDENCE,
) -> dict[str, Estimate]:
    """Evaluate ``statistic`` on the sample (all weights 1) and on ``replicates`` resamples."""
    point = statistic(np.ones((1, sum([subjects] if isinstance(subjects, int) else subjects))))
    blocks: dict[str, list[FloatArray]] = {name: [] for name in point}
    for counts in subject_counts(rng, subjects, replicates):
        for name, values in statistic(counts).items():
            blocks[name].append(np.asarray(values, dtype=np.float64))
    tail = (1 - confidence) / 2 * 100
    result = {}
    for name, value in point.items():
        samples = np.concatenate(blocks[name], axis=0)
        with warnings.catch_warnings():  # a stratum with no trials in a replicate: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanpercentile(samples, [tail, 100 - tail], axis=0)
        result[name] = Estimate(np.asarray(value, dtype=np.float64)[0], low, high, samples)
    return result


class Sample:
    """Distances of pairs (or searches) owned by subjects, for weighted rates.

    Weight of entry ``i``: ``w[first[i]]``, times ``w[second[i]]`` for an
    impostor pair. ``total(w)`` is the weight of all trials, which may exceed
    the stored entries' (an impostor sample keeps only its lower tail).
    """

    def __init__(
        self,
        distances: ArrayLike,
        first: ArrayLike,
        second: ArrayLike | None = None,
        total: Callable[[Counts], FloatArray] | None = None,
    ) -> None:
        values = np.asarray(distances, dtype=np.float64).ravel()
        order = np.argsort(values, kind="stable")
        self.values: FloatArray = values[order]
        self.first = np.asarray(first, dtype=np.intp).ravel()[order]
        self.second = None if second is None else np.asarray(second, dtype=np.intp).ravel()[order]
        self._total = total
        self._cached: tuple[Counts, Counts] | None = None

    def __len__(self) -> int:
        return int(self.values.size)

    def weights(self, counts: Counts) -> Counts:
        w = counts[:, self.first]
        return w if self.second is None else w * counts[:, self.second]

    def total(self, counts: Counts) -> FloatArray:
        if self._total is not None:
            return self._total(counts)
        result: FloatArray = self.cumulative(counts)[:, -1]
        return result

    def subset(
        self, keep: NDArray[np.bool_], total: Callable[[Counts], FloatArray] | None = None
    ) -> Sample:
        """The entries flagged in ``keep`` (sorted order), with their own total."""
        part = Sample.__new__(Sample)
        part.values = self.values[keep]
        part.first = self.first[keep]
        part.second = None if self.second is None else self.second[keep]
        part._total = total
        part._cached = None
        return part

    def cumulative(self, counts: Counts) -> Counts:
        """(b, n + 1): weight of the entries before each sorted position (kept per block)."""
        if self._cached is not None and self._cached[0] is counts:
            return self._cached[1]
        cum = np.zeros((counts.shape[0], self.values.size + 1))
        np.cumsum(self.weights(counts), axis=1, out=cum[:, 1:])
        self._cached = (counts, cum)
        return cum

    def rates(self, counts: Counts, thresholds: ArrayLike) -> Counts:
        """(b, T): weighted fraction strictly below each threshold (NaN if no weight)."""
        at = np.searchsorted(self.values, np.asarray(thresholds, dtype=np.float64), side="left")
        total = self.total(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: Counts = self.cumulative(counts)[:, at] / total[:, None]
        result[total == 0] = np.nan
        return result

    def rates_above(self, counts: Counts, thresholds: ArrayLike) -> Counts:
        """(b, T): weighted fraction at or above each threshold (NaN if no weight).

        Right for a sample that keeps only its upper tail (entries below the
        smallest threshold asked may be missing, ``total`` counts them).
        """
        at = np.searchsorted(self.values, np.asarray(thresholds, dtype=np.float64), side="left")
        cum = self.cumulative(counts)
        total = self.total(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: Counts = (cum[:, -1:] - cum[:, at]) / total[:, None]
        result[total == 0] = np.nan
        return result

    def rates_above_at(self, counts: Counts, thresholds: FloatArray) -> FloatArray:
        """(b,): ``rates_above`` at one threshold per replicate."""
        at = np.searchsorted(self.values, thresholds, side="left")
        cum = self.cumulative(counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = (cum[:, -1] - cum[np.arange(counts.shape[0]), at]) / self.total(
                counts
            )
        return result

    def rates_at(self, counts: Counts, thresholds: FloatArray) -> FloatArray:
        """(b,): weighted fraction below one threshold per replicate."""
        at = np.searchsorted(self.values, thresholds, side="left")
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = self.cumulative(counts)[
                np.arange(counts.shape[0]), at
            ] / self.total(counts)
        return result

    def threshold_for_rate(self, counts: Counts, rate: float) -> FloatArray:
        """(b,): per replicate, the largest t with weighted fraction below t <= ``rate``."""
        inclusive = self.cumulative(counts)[:, 1:]
        allowed = np.floor(rate * self.total(counts) * (1 + 1e-12))
        result = np.full(counts.shape[0], np.inf)
        for r in range(counts.shape[0]):
            j = int(np.searchsorted(inclusive[r], allowed[r], side="right"))
            if j < self.values.size:
                result[r] = self.values[j]
        return result
