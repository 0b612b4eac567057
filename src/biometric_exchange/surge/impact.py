"""Impact levels of a surge day, graded like Frontex border sections by the size of
the rise: low (x ≥ 1.5λ), medium (≥ 2λ), high (≥ 3λ), critical (≥ 5λ and an
adjusted p under ``ALPHA`` / 100). Only a day significant at ``ALPHA`` gets one;
the ratio bounds keep a large, steady flow from alerting on a significant but
operationally small rise.
"""

from __future__ import annotations

from enum import StrEnum

ALPHA = 1e-4
"""Family-wise error rate per node and day: the chance that a day of steady flows
raises any FLOW_SURGE at a node is at most this (Holm over the day's series)."""


class Impact(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


IMPACT_ORDER: tuple[Impact, ...] = (Impact.LOW, Impact.MEDIUM, Impact.HIGH, Impact.CRITICAL)
"""Lowest first."""


IMPACT_RATIOS: tuple[tuple[Impact, float], ...] = (
    (Impact.CRITICAL, 5.0),
    (Impact.HIGH, 3.0),
    (Impact.MEDIUM, 2.0),
    (Impact.LOW, 1.5),
)
"""Highest first: the least x / λ of each impact."""
CRITICAL_FACTOR = 100
"""Critical also needs the adjusted p below alpha / this."""


def grade(count: int, expected: float, p: float, alpha: float = ALPHA) -> Impact | None:
    """The impact of ``count`` against ``expected`` with family-adjusted p-value ``p``
    (None unless p < ``alpha``)."""
    if p >= alpha:
        return None
    for impact, ratio in IMPACT_RATIOS:
        if count >= ratio * expected and (
            impact is not Impact.CRITICAL or p < alpha / CRITICAL_FACTOR
        ):
            return impact
    return None
