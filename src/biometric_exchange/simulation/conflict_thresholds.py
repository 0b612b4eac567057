"""``IDENTITY_CONFLICT`` thresholds per gallery size, from the evaluation's calibration.

A node checks each encounter against all its past encounters: a 1:N search
whose N grows through the run (to about 48,000 at Panama in
``darien_corridor``). At a fixed 0.6 the false conflicts grow with N. As
``bx evaluate`` does for watchlists, the template model's impostor distances
are sampled (``PAIRS`` pairs, seeded), their lower tail is fitted
(``evaluation.extrapolation``) and the threshold giving the target FPIR is
read at each size of ``SIZES``; the node interpolates between them
(``node.send.conflicts.threshold_for_size``). Relatives and look-alikes are
not in the calibration: a deployment calibrates on unrelated people, and the
simulation's resemblance model (``resemblance``) is what it then gets wrong.
"""

from __future__ import annotations

import functools

import numpy as np

from biometric_exchange.evaluation.extrapolation import (
    ImpostorTail,
    fit_impostor_tail,
    modelled_threshold,
)
from biometric_exchange.evaluation.metrics import SortedScores
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances

SIZES = (100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
PAIRS = 1_000_000
"""Impostor pairs sampled for the fit (a few seconds)."""
SEED = 2017
BLOCK = 250_000


def impostor_distances(model: TemplateModel, pairs: int, seed: int) -> SortedScores:
    """``pairs`` impostor distances (one capture each of two people), sorted."""
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, pairs, BLOCK):
        n = min(BLOCK, pairs - start)
        captures = model.captures(model.latents(rng, 2 * n), rng)
        parts.append(paired_distances(captures[0::2], captures[1::2]))
    return SortedScores.of(np.concatenate(parts))


@functools.cache
def impostor_tail(pairs: int = PAIRS, seed: int = SEED) -> ImpostorTail:
    """The fitted lower tail of the template model's impostor distances (once a process)."""
    model = TemplateModel()
    return fit_impostor_tail(impostor_distances(model, pairs, seed), model.dim)


def conflict_thresholds(fpir: float) -> dict[int, float]:
    """Gallery size → the threshold whose modelled FPIR there is ``fpir`` (4 decimals)."""
    if not 0 < fpir < 1:
        raise InvalidInput(f"conflicts.fpir: expected a rate strictly between 0 and 1, got {fpir}")
    tail = impostor_tail()
    return {size: round(modelled_threshold(tail, size, fpir), 4) for size in SIZES}
