"""The bootstrap statistics of an evaluation: every rate, overall and per stratum.

``verification_statistic`` and ``identification_statistic`` map a block of
subject weights to every rate the report shows, thresholds re-estimated per
replicate; ``bootstrap`` (``evaluation.bootstrap``) runs them on the sample
and on the resamples. Strata: a genuine pair or a search belongs to its
subject's stratum; an impostor pair to a stratum when both subjects are in it
(same-stratum impostors, where demographic false-match effects show, as in
NISTIR 8280's same-group impostor heatmaps); for image quality, a pair belongs
to the band of its worse capture and a search to its probe's band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.bootstrap import Counts, Sample, Statistic
from biometric_exchange.evaluation.dataset import QUALITY_LABELS, worse_quality
from biometric_exchange.evaluation.identification import Identification, Measurement
from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.evaluation.verification import Verification

FMR_TARGETS = (1e-3, 1e-4, 1e-5)
EER_HALF_WIDTH = 0.03
GENUINE_STRATUM_CUT = 0.5
"""Stratum genuine samples keep pairs at or above this distance (FNMR needs no more)."""


@dataclass(frozen=True)
class Operating:
    """The fixed operating points of a report."""

    operational_threshold: float
    breakdown_fmr: float
    target_fpir: float
    max_rank: int
    det_grid: FloatArray
    fpir_grid: FloatArray


def verification_statistic(
    v: Verification, points: Operating, groups: dict[str, tuple[str, ...]]
) -> Statistic:
    """Every verification rate, overall and per stratum, for a block of weights."""
    genuine, impostor = v.genuine_sample, v.impostor_sample
    fixed = {
        "t0": points.operational_threshold,
        "breakdown": v.breakdown_threshold,
        "eer": v.eer_threshold,
    }
    eer_grid = np.arange(v.eer_threshold - EER_HALF_WIDTH, v.eer_threshold + EER_HALF_WIDTH, 2.5e-4)
    det = points.det_grid
    strata = _verification_strata(v, groups)

    def statistic(w: Counts) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        values = np.asarray(list(fixed.values()))
        fmr, fnmr = impostor.rates(w, values), 1 - genuine.rates(w, values)
        for i, name in enumerate(fixed):
            out[f"fmr@{name}"], out[f"fnmr@{name}"] = fmr[:, i], fnmr[:, i]
        for target in FMR_TARGETS:
            t = impostor.threshold_for_rate(w, target)
            out[f"threshold@fmr={target:g}"] = t
            out[f"fnmr@fmr={target:g}"] = 1 - genuine.rates_at(w, t)
        out["eer"] = _crossing(impostor.rates(w, eer_grid), 1 - genuine.rates(w, eer_grid))
        det_fmr = impostor.rates(w, det)
        det_fmr[:, det > v.tail_cut] = np.nan
        out["det_fmr"], out["det_fnmr"] = det_fmr, 1 - genuine.rates(w, det)
        tau = v.breakdown_threshold
        for key, (gen, imp) in strata.items():
            at = gen.rates_above(w, [points.operational_threshold, tau])
            out[f"{key}/fnmr@t0"], out[f"{key}/fnmr@breakdown"] = at[:, 0], at[:, 1]
            out[f"{key}/fmr@breakdown"] = imp.rates(w, [tau])[:, 0]
            own = imp.threshold_for_rate(w, points.breakdown_fmr)
            out[f"{key}/threshold@fmr"] = own
            out[f"{key}/fnmr@own"] = gen.rates_above_at(w, np.maximum(own, GENUINE_STRATUM_CUT))
            out[f"{key}/genuine_trials"], out[f"{key}/impostor_trials"] = gen.total(w), imp.total(w)
        return out

    return statistic


def identification_statistic(
    ident: Identification, points: Operating, groups: dict[str, tuple[str, ...]]
) -> tuple[Statistic, list[int]]:
    """Every searched size's rates and the largest one's strata; and the subject sets.

    Sets: the non-mated searchers (one set for every size: FPIR vs N on the
    same people), then each size's mated searchers, resampled independently.
    """
    searched = [g for g in ident.galleries if g.measurement is not None]
    measured = [g.measurement for g in searched if g.measurement is not None]
    sets = [measured[0].nonmated_minima.size] if measured else []
    samples: list[tuple[int, Sample, Sample, NDArray[np.int64], slice]] = []
    offset = sets[0] if sets else 0
    for g, m in zip(searched, measured, strict=True):
        n = m.mated_rank1.size
        columns = slice(offset, offset + n)
        nonmated = Sample(m.nonmated_minima, np.arange(sets[0]))
        mated = Sample(m.mated_rank1, np.arange(offset, offset + n))
        samples.append((g.size, nonmated, mated, m.ranks, columns))
        sets.append(n)
        offset += n
    strata = _identification_strata(ident, measured[-1], groups, samples[-1]) if measured else {}
    t0, target, grid = points.operational_threshold, points.target_fpir, points.fpir_grid

    def statistic(w: Counts) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        threshold = np.full(w.shape[0], np.nan)
        for size, nonmated, mated, ranks, columns in samples:
            threshold = nonmated.threshold_for_rate(w, target)
            out[f"{size}/threshold"] = threshold
            out[f"{size}/fnir@target"] = 1 - mated.rates_at(w, threshold)
            out[f"{size}/fpir@t0"] = nonmated.rates(w, [t0])[:, 0]
            out[f"{size}/fnir@t0"] = 1 - mated.rates(w, [t0])[:, 0]
            weights = w[:, columns]
            found = (ranks[None, :] >= 1) & (
                ranks[None, :] <= np.arange(1, points.max_rank + 1)[:, None]
            )
            out[f"{size}/cmc"] = (weights @ found.T.astype(np.float64)) / weights.sum(axis=1)[
                :, None
            ]
            out[f"{size}/fpir_curve"] = nonmated.rates(w, grid)
            out[f"{size}/fnir_curve"] = 1 - mated.rates(w, grid)
        for key, (nonmated, mated) in strata.items():
            out[f"{key}/fpir@target"] = nonmated.rates_at(w, threshold)
            out[f"{key}/fnir@target"] = 1 - mated.rates_at(w, threshold)
            out[f"{key}/fpir@t0"] = nonmated.rates(w, [t0])[:, 0]
            own = nonmated.threshold_for_rate(w, target)
            out[f"{key}/threshold@fpir"] = own
            out[f"{key}/fnir@own"] = 1 - mated.rates_at(w, own)
            out[f"{key}/nonmated_trials"], out[f"{key}/mated_trials"] = (
                nonmated.total(w),
                mated.total(w),
            )
        return out

    return statistic, sets


def _verification_strata(
    v: Verification, groups: dict[str, tuple[str, ...]]
) -> dict[str, tuple[Sample, Sample]]:
    genuine, impostor = v.genuine_sample, v.impostor_sample
    assert impostor.second is not None
    a, b = impostor.first, impostor.second
    result: dict[str, tuple[Sample, Sample]] = {}
    for dimension, names in groups.items():
        for group in names:
            key = f"{dimension}={group}"
            if dimension == "quality":
                pair = worse_quality(v.blocks.probe_quality[a], v.blocks.reference_quality[b])
                gen_keep = v.genuine_quality[genuine.first] == group
                imp = impostor.subset(pair == group, _quality_total(v, group))
            else:
                labels = v.labels[dimension]
                member = (labels == group).astype(np.float64)
                gen_keep = labels[genuine.first] == group
                keep = (labels[a] == group) & (labels[b] == group)
                imp = impostor.subset(keep, _flagged_total(v, member, member))
            members = (
                v.genuine_quality == group
                if dimension == "quality"
                else v.labels[dimension][: v.genuine_quality.size] == group
            ).astype(np.float64)
            upper = gen_keep & (genuine.values >= GENUINE_STRATUM_CUT)
            result[key] = (genuine.subset(upper, _genuine_total(members)), imp)
    return result


def _genuine_total(members: FloatArray) -> Callable[[Counts], FloatArray]:
    """Weight of a stratum's genuine pairs (pair i belongs to subject i)."""
    n = members.size

    def total(w: Counts) -> FloatArray:
        result: FloatArray = w[:, :n] @ members
        return result

    return total


def _flagged_total(
    v: Verification, probe: FloatArray, reference: FloatArray
) -> Callable[[Counts], FloatArray]:
    def total(w: Counts) -> FloatArray:
        return v.blocks.total(w, probe, reference)

    return total


def _quality_total(v: Verification, group: str) -> Callable[[Counts], FloatArray]:
    """Weight of pairs whose worse capture is in ``group``: T(<= q) - T(<= q - 1)."""
    rank = QUALITY_LABELS.index(group)
    order = {label: i for i, label in enumerate(QUALITY_LABELS)}
    probe = np.vectorize(order.__getitem__, otypes=[np.intp])(v.blocks.probe_quality)
    reference = np.vectorize(order.__getitem__, otypes=[np.intp])(v.blocks.reference_quality)

    def total(w: Counts) -> FloatArray:
        upto = v.blocks.total(w, (probe <= rank) * 1.0, (reference <= rank) * 1.0)
        if rank == 0:
            return upto
        below = v.blocks.total(w, (probe < rank) * 1.0, (reference < rank) * 1.0)
        result: FloatArray = upto - below
        return result

    return total


def _identification_strata(
    ident: Identification,
    largest: Measurement,
    groups: dict[str, tuple[str, ...]],
    sample: tuple[int, Sample, Sample, NDArray[np.int64], slice],
) -> dict[str, tuple[Sample, Sample]]:
    _, nonmated, mated, _, columns = sample
    result: dict[str, tuple[Sample, Sample]] = {}
    for dimension, names in groups.items():
        if dimension not in ident.nonmated_labels or dimension not in largest.mated_labels:
            continue
        probe_labels = ident.nonmated_labels[dimension]
        mate_labels = largest.mated_labels[dimension]
        for group in names:
            result[f"{dimension}={group}"] = (
                nonmated.subset(probe_labels[nonmated.first] == group),
                mated.subset(mate_labels[mated.first - columns.start] == group),
            )
    return result


def _crossing(fmr: Counts, fnmr: Counts) -> FloatArray:
    """Per row, the rate where FMR (rising) meets FNMR (falling), interpolated (NaN if not)."""
    gap = fmr - fnmr
    ok = np.nan_to_num(gap, nan=-np.inf) >= 0
    i = ok.argmax(axis=1)
    valid = ok.any(axis=1) & (i > 0)
    rows = np.arange(gap.shape[0])
    j = np.maximum(i - 1, 0)
    g0, g1 = gap[rows, j], gap[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(g1 > g0, -g0 / (g1 - g0), 0.0)
    rate = fmr[rows, j] + weight * (fmr[rows, i] - fmr[rows, j])
    result: FloatArray = np.where(valid, rate, np.nan)
    return result
