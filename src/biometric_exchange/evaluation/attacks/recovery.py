"""When a template counts as recovered, and each victim's figures.

A hit is not enough: the starting probe already hits. The estimate ``v̂``
counts as recovered when it is the victim's nearest neighbour in the holder's
watchlist (rank 1, whatever the threshold) AND ``‖v̂ - v‖ ≤ 0.1 x t`` (0.06
at the default threshold 0.6), far closer than any second capture of the same
face (about 0.4 from the enrolled one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometric_exchange.evaluation.attacks.attack import Vector
from biometric_exchange.matching import Gallery

RECOVERED_WITHIN = 0.1
"""The most ``‖v̂ - v‖`` may be, as a share of the holder's threshold."""


@dataclass(frozen=True)
class Outcome:
    """One victim: where the attack started, what it spent, how close it came."""

    victim: str
    start_distance: float
    """``‖p - v‖``: the starting probe (a second capture) from the enrolled template."""
    probes: int
    error: float | None
    """``‖v̂ - v‖``, or None when the attack has no estimate."""
    rank_one: bool
    recovered: bool
    note: str = ""
    """Why there is no estimate, when there is none."""


def judge(
    estimate: Vector | None,
    *,
    victim: str,
    enrolled: Vector,
    start: Vector,
    gallery: Gallery,
    threshold: float,
    probes: int,
    note: str = "",
) -> Outcome:
    """The victim's outcome under the definition above."""
    start_distance = float(np.linalg.norm(np.asarray(start, np.float64) - enrolled))
    if estimate is None or not np.all(np.isfinite(estimate)):
        return Outcome(victim, start_distance, probes, None, False, False, note or "no estimate")
    error = float(np.linalg.norm(estimate - enrolled))
    nearest = gallery.search(estimate.astype(np.float32), k=1).candidates(0)
    rank_one = bool(nearest) and nearest[0].id == victim
    recovered = rank_one and error <= RECOVERED_WITHIN * threshold
    return Outcome(victim, start_distance, probes, error, rank_one, recovered, note)
