"""The measurements of one protection scheme against the same seeded templates.

Accuracy (verification and rank-1 identification), unlinkability (D↔sys across
agreements and epochs), renewability (cross-epoch match rates) and
irreversibility (a key holder's pre-image attack).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.metrics import FloatArray, SortedScores
from biometric_exchange.evaluation.protection.report import report_number
from biometric_exchange.evaluation.protection.setup import (
    PROBE_CHUNK,
    ProtectionConfig,
    Subjects,
    evaluation_keys,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.protection import ProtectionScheme, linkability, scheme_for
from biometric_exchange.protection.attacks import biohash_preimage, iom_preimage
from biometric_exchange.protection.biohash import POPULATION_MEAN, BioHashScheme
from biometric_exchange.protection.common import euclidean, paired_euclidean
from biometric_exchange.protection.iom import IndexOfMaxScheme
from biometric_exchange.protection.rotation import RotationScheme

UNLINKABILITY_GOAL = 0.05


def measure_scheme(name: str, subjects: Subjects, config: ProtectionConfig) -> dict[str, Any]:
    """Accuracy, unlinkability, renewability and irreversibility of the scheme ``name``."""
    keys = evaluation_keys(config.seed, name)
    scheme = scheme_for(name, keys.agreement_1)
    other_agreement = scheme_for(name, keys.agreement_2)
    next_epoch = scheme_for(name, keys.agreement_1_epoch_2)
    same_key = pair_scores(scheme, scheme, subjects)
    accuracy = measure_accuracy(scheme, subjects, config, same_key)
    across_agreements = pair_scores(scheme, other_agreement, subjects)
    across_epochs = pair_scores(scheme, next_epoch, subjects)
    unlinkability: dict[str, Any] = {
        "d_sys_across_agreements": report_number(linkability(*across_agreements).d_sys),
        "d_sys_across_epochs": report_number(linkability(*across_epochs).d_sys),
        "d_sys_same_key": report_number(linkability(*same_key).d_sys),
        "estimator": "Gaussian KDE, one Scott bandwidth for both classes, omega = 1",
    }
    unlinkability["goal_met"] = bool(
        unlinkability["d_sys_across_agreements"] < UNLINKABILITY_GOAL
        and unlinkability["d_sys_across_epochs"] < UNLINKABILITY_GOAL
    )
    if isinstance(scheme, RotationScheme):
        norm_attack = _norm_attack(subjects)
        unlinkability["d_sys_norm_attack_across_agreements"] = report_number(norm_attack)
        unlinkability["goal_met_against_norm_attack"] = bool(norm_attack < UNLINKABILITY_GOAL)
    return {
        "scheme": name,
        "threshold": report_number(scheme.threshold),
        "accuracy": accuracy,
        "unlinkability": unlinkability,
        "renewability": {
            "mated_match_rate_across_epochs": report_number(
                np.mean(across_epochs[0] < scheme.threshold)
            ),
            "nonmated_match_rate_across_epochs": report_number(
                np.mean(across_epochs[1] < scheme.threshold)
            ),
            "impostor_match_rate_same_key": accuracy["fmr_at_threshold"],
        },
        "irreversibility": _preimage_attack(scheme, subjects),
    }


def measure_accuracy(
    scheme: ProtectionScheme,
    subjects: Subjects,
    config: ProtectionConfig,
    pairs: tuple[FloatArray, FloatArray],
) -> dict[str, Any]:
    """Verification error rates from ``pairs`` and rank-1 identification over the gallery."""
    genuine, impostor = (SortedScores.of(s) for s in pairs)
    at_fmr = impostor.threshold_for_rate(config.target_fmr)
    gallery = scheme.protect(subjects.gallery)
    mates = np.arange(config.identities)
    mated = SortedScores.of(_rank1(scheme, scheme.protect(subjects.second), gallery, mates))
    nonmated = SortedScores.of(_rank1(scheme, scheme.protect(subjects.strangers), gallery, None))
    at_fpir = nonmated.threshold_for_rate(config.target_fpir)
    t = scheme.threshold
    return {
        "threshold": report_number(t),
        "fmr_at_threshold": report_number(impostor.fraction_below([t])[0]),
        "fnmr_at_threshold": report_number(genuine.fraction_at_or_above([t])[0]),
        "threshold_at_target_fmr": report_number(at_fmr),
        "fnmr_at_target_fmr": report_number(genuine.fraction_at_or_above([at_fmr])[0]),
        "threshold_at_target_fpir": report_number(at_fpir),
        "fnir_at_target_fpir": report_number(mated.fraction_at_or_above([at_fpir])[0]),
        "fpir_at_threshold": report_number(nonmated.fraction_below([t])[0]),
        "fnir_at_threshold": report_number(mated.fraction_at_or_above([t])[0]),
    }


def pair_scores(
    left: ProtectionScheme, right: ProtectionScheme, subjects: Subjects
) -> tuple[FloatArray, FloatArray]:
    """(mated, non-mated) scores: first captures under ``left``, second under ``right``."""
    a, b = left.protect(subjects.first), right.protect(subjects.second)
    scores = left.compare(a, b)
    off_diagonal = ~np.eye(scores.shape[0], dtype=np.bool_)
    return np.diagonal(scores).copy(), scores[off_diagonal]


def _rank1(
    scheme: ProtectionScheme,
    probes: NDArray[Any],
    gallery: NDArray[Any],
    mates: NDArray[np.intp] | None,
) -> FloatArray:
    """Per probe: its rank-1 score (non-mated), or its mate's score when the mate is
    strictly first, else +inf (mated)."""
    result = np.empty(probes.shape[0])
    for lo in range(0, probes.shape[0], PROBE_CHUNK):
        scores = scheme.compare(probes[lo : lo + PROBE_CHUNK], gallery)
        if mates is None:
            result[lo : lo + scores.shape[0]] = scores.min(axis=1)
            continue
        rows, columns = np.arange(scores.shape[0]), mates[lo : lo + scores.shape[0]]
        mate = scores[rows, columns].copy()
        scores[rows, columns] = np.inf
        result[lo : lo + scores.shape[0]] = np.where(mate < scores.min(axis=1), mate, np.inf)
    return result


def _norm_attack(subjects: Subjects) -> float:
    """Rotations keep norms: D↔sys when the attacker scores a pair by |‖a‖ - ‖b‖|."""
    a, b = (np.linalg.norm(m, axis=1) for m in (subjects.first, subjects.second))
    scores = np.abs(a[:, None] - b[None, :])
    return linkability(np.diagonal(scores), scores[~np.eye(a.size, dtype=np.bool_)]).d_sys


def _preimage_attack(scheme: ProtectionScheme, subjects: Subjects) -> dict[str, Any]:
    """A key holder's pre-image of each first capture, matched at 0.6 against the
    original, another capture of the same person, and other people's captures."""
    protected = scheme.protect(subjects.first)
    # The attacker's norm comes from public data (here: the gallery fillers), not the
    # victims: their typical distance from the population mean the schemes centre on.
    norm = float(np.median(np.linalg.norm(subjects.fillers - POPULATION_MEAN, axis=1)))
    if isinstance(scheme, RotationScheme):
        preimage, attack = scheme.invert(protected), "exact inverse with the key: R^T (R x)"
    elif isinstance(scheme, BioHashScheme):
        preimage = biohash_preimage(scheme, protected, norm)
        attack = "least squares: W^T (2 bits - 1), scaled to the population norm, plus centre"
    elif isinstance(scheme, IndexOfMaxScheme):
        preimage = iom_preimage(scheme, protected, norm)
        attack = "sum of each group's winning direction, scaled to the population norm, plus centre"
    else:
        raise InvalidInput(f"scheme: no pre-image attack for {scheme.name!r}")
    to_original = paired_euclidean(preimage, subjects.first)
    to_other_capture = paired_euclidean(preimage, subjects.second)
    to_others = euclidean(preimage, subjects.second)[~np.eye(len(preimage), dtype=np.bool_)]
    return {
        "attack": attack,
        "attacker_knows": "the key, the protected template, a typical template norm",
        "success_rate_against_original": report_number(np.mean(to_original < DEFAULT_THRESHOLD)),
        "success_rate_against_other_capture": report_number(
            np.mean(to_other_capture < DEFAULT_THRESHOLD)
        ),
        "false_match_rate_against_other_people": report_number(
            np.mean(to_others < DEFAULT_THRESHOLD)
        ),
        "median_distance_to_original": report_number(float(np.median(to_original))),
        "threshold": DEFAULT_THRESHOLD,
    }
