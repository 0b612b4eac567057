"""Error rates by demographic group, with Wilson intervals, and a flatness check.

Groups: region (regional / extra-regional, UN M49 019), age band (minor /
adult) and the most frequent nationalities of the evaluation design.

Flatness: a check (one metric at one operating point over one dimension's
groups) is flat when the groups' intervals share a common value. Many
intervals are compared at once, so the verdict uses simultaneous intervals:
each at confidence ``1 - (1 - family) / m`` over all ``m`` intervals of the
report (Bonferroni), so that with no real difference every check is flat
with probability at least ``family`` (95 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.dataset import AGE_LABELS, REGION_LABELS
from biometric_exchange.evaluation.metrics import intervals_agree, wilson_interval
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX

DIMENSIONS = ("region", "age_band", "nationality")
TOP_NATIONALITIES = 5
FAMILY_CONFIDENCE = 0.95


@dataclass(frozen=True)
class GroupRate:
    """One error rate of one demographic group at one threshold."""

    metric: str
    """"fmr", "fnmr", "fpir" or "fnir"."""
    threshold: float
    operating_point: str
    dimension: str
    group: str
    errors: int
    trials: int

    @property
    def rate(self) -> float:
        return self.errors / self.trials

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson score interval."""
        return wilson_interval(self.errors, self.trials, confidence)


@dataclass(frozen=True)
class Flatness:
    """Whether every group's interval overlaps a common value, for one metric/dimension."""

    metric: str
    operating_point: str
    dimension: str
    groups: int
    flat: bool
    interval_confidence: float
    """Confidence of each (simultaneous) interval compared."""


def design_groups(
    extra_regional_share: float, top: int = TOP_NATIONALITIES
) -> dict[str, tuple[str, ...]]:
    """Groups reported per dimension; nationalities by expected share in the design."""
    share: dict[str, float] = {}
    for mix, weight in (
        (REGIONAL_MIX, 1 - extra_regional_share),
        (EXTRA_REGIONAL_MIX, extra_regional_share),
    ):
        total = sum(mix.values())
        share.update({code: weight * value / total for code, value in mix.items()})
    ranked = sorted(share, key=lambda code: (-share[code], code))
    return {"region": REGION_LABELS, "age_band": AGE_LABELS, "nationality": tuple(ranked[:top])}


def rates_by_group(
    labels: NDArray[np.str_],
    errors: NDArray[np.bool_],
    groups: Sequence[str],
    *,
    dimension: str,
    metric: str,
    threshold: float,
    operating_point: str,
) -> list[GroupRate]:
    """One GroupRate per group with any trials: ``errors`` flags each labelled trial."""
    rows = []
    for group in groups:
        member = labels == group
        trials = int(np.count_nonzero(member))
        if trials:
            wrong = int(np.count_nonzero(errors & member))
            rows.append(
                GroupRate(metric, threshold, operating_point, dimension, group, wrong, trials)
            )
    return rows


def same_group_counts(
    below: NDArray[np.bool_],
    probe_labels: NDArray[np.str_],
    reference_labels: NDArray[np.str_],
    groups: Sequence[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(false matches, comparisons) per group over a cross-comparison block.

    Only comparisons whose probe and reference are both in the group count
    (same-group impostors, where demographic false-match effects show).
    """
    probe_hot = (probe_labels[:, None] == np.asarray(groups)[None, :]).astype(np.float64)
    reference_hot = (reference_labels[:, None] == np.asarray(groups)[None, :]).astype(np.float64)
    matches = np.einsum(
        "pg,pr,rg->g", probe_hot, below.astype(np.float64), reference_hot, optimize=True
    )
    trials = probe_hot.sum(axis=0) * reference_hot.sum(axis=0)
    return np.rint(matches).astype(np.int64), np.rint(trials).astype(np.int64)


def simultaneous_confidence(intervals: int, family: float = FAMILY_CONFIDENCE) -> float:
    """Bonferroni: the per-interval confidence giving ``family`` over ``intervals``."""
    return 1 - (1 - family) / max(1, intervals)


def flatness(rows: Sequence[GroupRate], family: float = FAMILY_CONFIDENCE) -> list[Flatness]:
    """Per (metric, operating point, dimension): do the simultaneous intervals overlap?"""
    confidence = simultaneous_confidence(len(rows), family)
    grouped: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for row in rows:
        key = (row.metric, row.operating_point, row.dimension)
        grouped.setdefault(key, []).append(row.interval(confidence))
    return [
        Flatness(metric, point, dimension, len(intervals), intervals_agree(intervals), confidence)
        for (metric, point, dimension), intervals in grouped.items()
    ]
