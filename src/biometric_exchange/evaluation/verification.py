"""1:1 verification: genuine and impostor distances, DET curve, EER, tail fit, breakdown.

Genuine pairs: two captures of each subject. Impostor pairs: cross-comparison
blocks (ISO/IEC 19795-1 allows them): block j compares first captures of
subjects [j·m, (j+1)·m) with second captures of subjects [(j+1)·m, (j+2)·m),
so every pair is of two different people and each template serves m times.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from biometric_exchange.evaluation.dataset import (
    Cohort,
    Matrix,
    cross_distances,
    draw_cohort,
)
from biometric_exchange.evaluation.demographics import (
    DIMENSIONS,
    GroupRate,
    rates_by_group,
    same_group_counts,
)
from biometric_exchange.evaluation.extrapolation import ImpostorTail, fit_impostor_tail
from biometric_exchange.evaluation.metrics import (
    ErrorCurve,
    FloatArray,
    SortedScores,
    equal_error_rate,
    error_curve,
)
from biometric_exchange.synthetic.templates import TemplateModel, paired_distances


@dataclass(frozen=True)
class VerificationSettings:
    genuine_pairs: int
    impostor_pairs: int
    block: int
    extra_regional_share: float
    minor_share: float
    threshold_step: float
    operational_threshold: float
    breakdown_fmr: float
    groups: dict[str, tuple[str, ...]]


@dataclass(frozen=True, eq=False)
class Verification:
    """Sorted scores, the FMR/FNMR curve, EER, fitted impostor tail and group rates."""

    subjects: int
    genuine: SortedScores
    impostor: SortedScores
    curve: ErrorCurve
    eer: float
    eer_threshold: float
    tail: ImpostorTail
    breakdown_threshold: float
    breakdown: list[GroupRate]


def run_verification(
    rng: np.random.Generator, model: TemplateModel, settings: VerificationSettings
) -> Verification:
    """Draw the pairs, compute every verification number."""
    m = settings.block
    blocks = max(1, math.ceil(settings.impostor_pairs / (m * m)))
    subjects = max(settings.genuine_pairs, (blocks + 1) * m)
    cohort = draw_cohort(
        rng,
        subjects,
        model,
        extra_regional_share=settings.extra_regional_share,
        minor_share=settings.minor_share,
    )
    first, second = cohort.captures(rng, model), cohort.captures(rng, model)
    n = settings.genuine_pairs
    genuine_raw = paired_distances(first[:n], second[:n])
    genuine = SortedScores.of(genuine_raw)
    impostor = SortedScores.of(
        np.concatenate([d.ravel() for _, _, d in _impostor_blocks(first, second, m, blocks)])
    )
    top = max(1.6, float(impostor.values[-1]), float(genuine.values[-1])) + settings.threshold_step
    curve = error_curve(genuine, impostor, np.arange(0.0, top, settings.threshold_step))
    eer, eer_threshold = equal_error_rate(curve)
    tau = impostor.threshold_for_rate(settings.breakdown_fmr)
    breakdown = _genuine_breakdown(cohort, genuine_raw, settings, tau)
    breakdown += _impostor_breakdown(cohort, (first, second), settings, tau, blocks)
    return Verification(
        subjects,
        genuine,
        impostor,
        curve,
        eer,
        eer_threshold,
        fit_impostor_tail(impostor, model.dim),
        tau,
        breakdown,
    )


def _impostor_blocks(
    first: Matrix, second: Matrix, m: int, blocks: int
) -> Iterator[tuple[slice, slice, FloatArray]]:
    for j in range(blocks):
        probes, references = slice(j * m, (j + 1) * m), slice((j + 1) * m, (j + 2) * m)
        yield probes, references, cross_distances(first[probes], second[references])


def _fmr_label(rate: float) -> str:
    return f"FMR={rate:g}"


def _genuine_breakdown(
    cohort: Cohort, genuine: FloatArray, settings: VerificationSettings, tau: float
) -> list[GroupRate]:
    n = genuine.size
    points = (
        (settings.operational_threshold, f"t={settings.operational_threshold:g}"),
        (tau, _fmr_label(settings.breakdown_fmr)),
    )
    rows: list[GroupRate] = []
    for threshold, point in points:
        for dimension in DIMENSIONS:
            labels = cohort.labels(dimension)[:n]
            groups = settings.groups[dimension]
            rows += rates_by_group(
                labels,
                genuine >= threshold,
                groups,
                dimension=dimension,
                metric="fnmr",
                threshold=threshold,
                operating_point=point,
            )
    return rows


def _impostor_breakdown(
    cohort: Cohort,
    captures: tuple[Matrix, Matrix],
    settings: VerificationSettings,
    tau: float,
    blocks: int,
) -> list[GroupRate]:
    """FMR at ``tau`` per group, over same-group impostor pairs."""
    errors = {d: np.zeros(len(settings.groups[d]), dtype=np.int64) for d in DIMENSIONS}
    trials = {d: np.zeros(len(settings.groups[d]), dtype=np.int64) for d in DIMENSIONS}
    labels = {d: cohort.labels(d) for d in DIMENSIONS}
    for probes, references, distances in _impostor_blocks(*captures, settings.block, blocks):
        below = distances < tau
        for d in DIMENSIONS:
            e, t = same_group_counts(
                below, labels[d][probes], labels[d][references], settings.groups[d]
            )
            errors[d] += e
            trials[d] += t
    point = _fmr_label(settings.breakdown_fmr)
    return [
        GroupRate("fmr", tau, point, d, group, int(e), int(t))
        for d in DIMENSIONS
        for group, e, t in zip(settings.groups[d], errors[d], trials[d], strict=True)
        if t > 0
    ]
