"""Error rates by stratum and a flatness check.

Strata: sex, age band (0-11, 12-17, 18-29, 30-49, 50-64, 65+), region
(regional / extra-regional, UN M49 019), capture quality (good / fair /
poor) and the most frequent nationalities of the evaluation design. Each
rate carries its subject-level bootstrap interval (``intervals``).

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

from biometric_exchange.evaluation.dataset import (
    AGE_BANDS,
    QUALITY_LABELS,
    REGION_LABELS,
    SEX_LABELS,
)
from biometric_exchange.evaluation.metrics import intervals_agree, wilson_interval
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX

TOP_NATIONALITIES = 5
FAMILY_CONFIDENCE = 0.95


@dataclass(frozen=True)
class GroupRate:
    """One error rate of one stratum at one threshold, with its bootstrap interval."""

    metric: str
    """"fmr", "fnmr", "fpir" or "fnir"."""
    threshold: float
    operating_point: str
    dimension: str
    group: str
    errors: int
    trials: int
    ci_low: float
    ci_high: float
    """Subject-level bootstrap 95 % interval."""

    @property
    def rate(self) -> float:
        return self.errors / self.trials

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson score interval (for the simultaneous flatness check)."""
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
    return {
        "sex": SEX_LABELS,
        "age_band": AGE_BANDS,
        "region": REGION_LABELS,
        "quality": QUALITY_LABELS,
        "nationality": tuple(ranked[:top]),
    }


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
