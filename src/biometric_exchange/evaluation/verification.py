"""1:1 verification: genuine and impostor distances, DET curve, EER, tail fit, subjects.

Genuine pairs: two captures of each subject. Impostor pairs: cross-comparison
blocks (ISO/IEC 19795-1 allows them): block j compares first captures of
subjects [j·m, (j+1)·m) with second captures of subjects [(j+1)·m, (j+2)·m),
so every pair is of two different people and each template serves m times.
The pairs keep their subjects (``Sample``) so that intervals resample people.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.bootstrap import Counts, Sample
from biometric_exchange.evaluation.dataset import (
    SUBJECT_DIMENSIONS,
    Design,
    Matrix,
    capture_quality,
    cross_distances,
    draw_cohort,
    worse_quality,
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

TAIL_FMR = 0.005
"""Impostor pairs kept with their subjects: those below the sampled FMR = 0.5 % point."""


@dataclass(frozen=True)
class VerificationSettings:
    genuine_pairs: int
    impostor_pairs: int
    block: int
    design: Design
    threshold_step: float
    operational_threshold: float
    breakdown_fmr: float


@dataclass(frozen=True, eq=False)
class ImpostorBlocks:
    """Which subjects each cross-comparison block compares, and their capture quality."""

    block: int
    count: int
    probe_quality: NDArray[np.str_]
    """Quality of each subject's first capture (the probes)."""
    reference_quality: NDArray[np.str_]
    """Quality of each subject's second capture (the references)."""

    def slices(self) -> Iterator[tuple[slice, slice]]:
        m = self.block
        for j in range(self.count):
            yield slice(j * m, (j + 1) * m), slice((j + 1) * m, (j + 2) * m)

    def total(
        self, counts: Counts, probe: FloatArray | None = None, reference: FloatArray | None = None
    ) -> FloatArray:
        """Weight of all pairs, or of pairs whose probe / reference carry the given 0/1 flags."""
        result = np.zeros(counts.shape[0])
        for p, r in self.slices():
            wp, wr = counts[:, p], counts[:, r]
            a = wp.sum(axis=1) if probe is None else wp @ probe[p]
            b = wr.sum(axis=1) if reference is None else wr @ reference[r]
            result += a * b
        return result


@dataclass(frozen=True, eq=False)
class Verification:
    """Sorted scores, the FMR/FNMR curve, EER, fitted impostor tail and the subjects."""

    subjects: int
    genuine: SortedScores
    impostor: SortedScores
    curve: ErrorCurve
    eer: float
    eer_threshold: float
    tail: ImpostorTail
    breakdown_threshold: float
    genuine_sample: Sample
    """Genuine pairs, owner = subject."""
    impostor_sample: Sample
    """Impostor pairs below the tail cut, owners = both subjects; total = all pairs."""
    tail_cut: float
    blocks: ImpostorBlocks
    labels: dict[str, NDArray[np.str_]]
    """Per subject dimension, each subject's label."""
    genuine_quality: NDArray[np.str_]
    """Worse quality band of each genuine pair's two captures."""


def run_verification(
    rng: np.random.Generator, model: TemplateModel, settings: VerificationSettings
) -> Verification:
    """Draw the pairs, compute every verification number."""
    m = settings.block
    count = max(1, math.ceil(settings.impostor_pairs / (m * m)))
    subjects = max(settings.genuine_pairs, (count + 1) * m)
    cohort = draw_cohort(rng, subjects, model, settings.design)
    first, second = cohort.captures(rng, model), cohort.captures(rng, model)
    blocks = ImpostorBlocks(
        m,
        count,
        capture_quality(cohort.latents, first, model),
        capture_quality(cohort.latents, second, model),
    )
    n = settings.genuine_pairs
    genuine_raw = paired_distances(first[:n], second[:n])
    genuine = SortedScores.of(genuine_raw)
    values = np.empty(count * m * m)
    for j, (_, _, block) in enumerate(_impostor_blocks(first, second, blocks)):
        values[j * m * m : (j + 1) * m * m] = block.ravel()
    values.sort()  # in place: one copy of the 10M distances, not three
    impostor = SortedScores(values)
    top = max(1.6, float(impostor.values[-1]), float(genuine.values[-1])) + settings.threshold_step
    curve = error_curve(genuine, impostor, np.arange(0.0, top, settings.threshold_step))
    eer, eer_threshold = equal_error_rate(curve)
    cut = impostor.threshold_for_rate(TAIL_FMR)
    return Verification(
        subjects,
        genuine,
        impostor,
        curve,
        eer,
        eer_threshold,
        fit_impostor_tail(impostor, model.dim),
        impostor.threshold_for_rate(settings.breakdown_fmr),
        Sample(genuine_raw, np.arange(n)),
        _impostor_tail(_impostor_blocks(first, second, blocks), cut, blocks),
        cut,
        blocks,
        {d: cohort.labels(d) for d in (*SUBJECT_DIMENSIONS, "nationality")},
        worse_quality(blocks.probe_quality[:n], blocks.reference_quality[:n]),
    )


def _impostor_blocks(
    first: Matrix, second: Matrix, blocks: ImpostorBlocks
) -> Iterator[tuple[slice, slice, FloatArray]]:
    for probes, references in blocks.slices():
        yield probes, references, cross_distances(first[probes], second[references])


def _impostor_tail(
    computed: Iterator[tuple[slice, slice, FloatArray]], cut: float, blocks: ImpostorBlocks
) -> Sample:
    """The impostor pairs under ``cut``, with both subjects, and the all-pairs total."""
    values, owners, others = [], [], []
    for probes, references, block in computed:
        i, j = np.nonzero(block < cut)
        values.append(block[i, j])
        owners.append(i + probes.start)
        others.append(j + references.start)
    return Sample(
        np.concatenate(values),
        np.concatenate(owners),
        np.concatenate(others),
        total=blocks.total,
    )
