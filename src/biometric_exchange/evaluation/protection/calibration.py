"""Calibration of a protection scheme's threshold at a target FMR over random keys."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.evaluation.protection.report import report_number
from biometric_exchange.evaluation.protection.setup import (
    PROBE_CHUNK,
    ProtectionConfig,
    draw_subjects,
)
from biometric_exchange.protection import ProtectionScheme
from biometric_exchange.synthetic.templates import TemplateModel


def calibrate_threshold(
    factory: Callable[[bytes], ProtectionScheme],
    *,
    seed: int,
    identities: int,
    keys: int,
    target_fmr: float,
    model: TemplateModel | None = None,
) -> dict[str, Any]:
    """The threshold at ``target_fmr`` over impostor pairs pooled across ``keys`` random keys.

    Every first capture is compared with every other subject's second capture
    (identities x (identities - 1) impostor pairs per key), in blocks that keep
    only their lowest scores. The threshold lies halfway between the score that
    reaches the target and the next lower score seen, so discrete scores
    (Hamming fractions) never sit on the boundary.
    """
    config = ProtectionConfig(seed=seed, identities=identities, gallery_size=identities)
    subjects = draw_subjects(replace(config, template_model=model or TemplateModel()))
    pairs_per_key = identities * (identities - 1)
    allowed = math.floor(target_fmr * pairs_per_key * keys)
    rng = np.random.default_rng(seed)
    genuine: list[FloatArray] = []
    tails: list[FloatArray] = []
    for _ in range(keys):
        scheme = factory(rng.bytes(32))
        first, second = scheme.protect(subjects.first), scheme.protect(subjects.second)
        lowest = []
        for lo in range(0, identities, PROBE_CHUNK):
            scores = scheme.compare(first[lo : lo + PROBE_CHUNK], second).ravel()
            mates = np.arange(min(PROBE_CHUNK, identities - lo)) * (identities + 1) + lo
            genuine.append(scores[mates].copy())
            scores[mates] = np.inf
            keep = min(allowed + 2, scores.size)
            lowest.append(np.partition(scores, keep - 1)[:keep])
        tails.append(np.concatenate(lowest))
    pooled = np.sort(np.concatenate(tails))
    reached = float(pooled[allowed])
    lower = pooled[pooled < reached]
    threshold = (reached + float(lower[-1])) / 2 if lower.size else reached
    return {
        "target_fmr": target_fmr,
        "threshold": threshold,
        "impostor_pairs_per_key": pairs_per_key,
        "keys": keys,
        "fmr": report_number(np.count_nonzero(pooled < threshold) / (pairs_per_key * keys)),
        "fmr_per_key": [
            report_number(np.count_nonzero(t < threshold) / pairs_per_key) for t in tails
        ],
        "fnmr": report_number(np.mean(np.concatenate(genuine) >= threshold)),
    }
