"""Statistical disclosure control: counts under the threshold never leave the node."""

from __future__ import annotations

from collections.abc import Iterable

from biometric_exchange.domain import DailyCount

SUPPRESSION_THRESHOLD = 5
"""Counts under this never leave the node."""


def suppress(
    counts: Iterable[DailyCount], threshold: int = SUPPRESSION_THRESHOLD
) -> list[DailyCount]:
    """``counts`` without those under ``threshold``."""
    return [c for c in counts if c.count >= threshold]
