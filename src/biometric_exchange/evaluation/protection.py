"""Template protection measured in ISO/IEC 30136 terms on the seeded synthetic templates.

Per scheme, against unprotected matching on the same templates:

* accuracy: FNMR at FMR = 0.1 % and FNIR at FPIR = 0.003 over a searched
  gallery, and both error rates at the scheme's stated threshold;
* unlinkability: D↔sys (``protection.linkability``) of mated against
  non-mated comparisons of templates protected under two agreements' keys;
* renewability: how often a person's epoch-1 and epoch-2 templates match,
  against the impostor match rate;
* irreversibility: a key holder's pre-image attack, matched against the
  original template at the unprotected threshold (0.6).

Keys are derived as the nodes would (``derive_protection_key``) from seeded
X25519 keys of three synthetic parties: agreement 1 (parties A and B) in
epochs 1 and 2, agreement 2 (parties A and C) in epoch 1.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from numpy.typing import ArrayLike, NDArray
from rich.console import Console
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE, __version__
from biometric_exchange.evaluation.metrics import FloatArray, SortedScores
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.protection import (
    SCHEMES,
    ProtectionScheme,
    derive_protection_key,
    linkability,
    scheme_for,
)
from biometric_exchange.protection.attacks import biohash_preimage, iom_preimage
from biometric_exchange.protection.biohash import BioHashScheme
from biometric_exchange.protection.common import euclidean, paired_euclidean
from biometric_exchange.protection.iom import IndexOfMaxScheme
from biometric_exchange.protection.rotation import RotationScheme
from biometric_exchange.synthetic.templates import TemplateModel

REPORT_NAME = "protection.json"
UNLINKABILITY_GOAL = 0.05
PROBE_CHUNK = 1_000
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class ProtectionConfig:
    """Sample sizes and operating points; the defaults take seconds, not minutes."""

    seed: int = 2017
    identities: int = 2_000
    """Mated subjects, two captures each: the genuine, cross-key and cross-epoch pairs."""
    gallery_size: int = 10_000
    """The first captures of the mated subjects plus other people."""
    nonmated_searches: int = 5_000
    target_fmr: float = 1e-3
    target_fpir: float = 0.003
    quick: bool = False
    template_model: TemplateModel = field(default_factory=TemplateModel)

    def __post_init__(self) -> None:
        if not 2 <= self.identities <= self.gallery_size:
            raise InvalidInput("identities: expected at least 2 and at most gallery_size")
        if self.nonmated_searches < 1:
            raise InvalidInput("nonmated_searches: expected a positive integer")
        for name in ("target_fmr", "target_fpir"):
            if not 0 < getattr(self, name) < 1:
                raise InvalidInput(f"{name}: expected a value strictly between 0 and 1")

    def quickened(self) -> ProtectionConfig:
        return replace(
            self, quick=True, identities=500, gallery_size=2_000, nonmated_searches=1_000
        )


@dataclass(frozen=True, eq=False)
class Subjects:
    """Seeded synthetic templates: two captures of each mated subject, fillers, strangers."""

    first: Matrix
    second: Matrix
    fillers: Matrix
    strangers: Matrix
    """Never enrolled: the non-mated searches."""

    @property
    def gallery(self) -> Matrix:
        """Row i < identities is subject i's first capture."""
        return np.concatenate([self.first, self.fillers])


def draw_subjects(config: ProtectionConfig) -> Subjects:
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    model = config.template_model
    latents = model.latents(rng, config.identities)
    first, second = model.captures(latents, rng), model.captures(latents, rng)
    fillers = model.captures(model.latents(rng, config.gallery_size - config.identities), rng)
    strangers = model.captures(model.latents(rng, config.nonmated_searches), rng)
    return Subjects(*(m.astype(np.float64) for m in (first, second, fillers, strangers)))


@dataclass(frozen=True, eq=False, repr=False)
class Unprotected:
    """Plain templates and Euclidean distance at face_recognition's 0.6: the baseline."""

    name: str = "none"
    threshold: float = DEFAULT_THRESHOLD

    def protect(self, templates: ArrayLike) -> Matrix:
        return np.asarray(templates, dtype=np.float64)

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> Matrix:
        return euclidean(np.asarray(probes, np.float64), np.asarray(gallery, np.float64))

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> Matrix:
        return paired_euclidean(np.asarray(a, np.float64), np.asarray(b, np.float64))

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.compare(probes, gallery) < self.threshold
        return result


@dataclass(frozen=True)
class EvaluationKeys:
    agreement_1: bytes
    agreement_1_epoch_2: bytes
    agreement_2: bytes


def evaluation_keys(seed: int, scheme: str) -> EvaluationKeys:
    """Keys from seeded X25519 keys of synthetic parties A, B, C (A derives each)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    a, b, c = (X25519PrivateKey.from_private_bytes(rng.bytes(32)) for _ in range(3))

    def key(partner: X25519PrivateKey, agreement: str, epoch: int) -> bytes:
        return derive_protection_key(a, partner.public_key(), agreement, scheme, epoch)

    return EvaluationKeys(
        key(b, "SYN-A-B-EVAL", 1), key(b, "SYN-A-B-EVAL", 2), key(c, "SYN-A-C-EVAL", 1)
    )


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
        "fmr": _num(np.count_nonzero(pooled < threshold) / (pairs_per_key * keys)),
        "fmr_per_key": [_num(np.count_nonzero(t < threshold) / pairs_per_key) for t in tails],
        "fnmr": _num(np.mean(np.concatenate(genuine) >= threshold)),
    }


def run_protection_evaluation(
    config: ProtectionConfig,
    schemes: tuple[str, ...],
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every measurement of every scheme named, and the unprotected baseline, as a report."""
    started = time.perf_counter()
    subjects = draw_subjects(config)
    seconds: dict[str, float] = {}
    progress("unprotected baseline")
    plain = Unprotected()
    baseline = _accuracy(plain, subjects, config, _pairs(plain, plain, subjects))
    seconds["none"] = time.perf_counter() - started
    measured = []
    for name in schemes:
        progress(f"{name}: accuracy, unlinkability, renewability, pre-image attack")
        begun = time.perf_counter()
        measured.append(_measure_scheme(name, subjects, config))
        seconds[name] = time.perf_counter() - begun
    seconds["total"] = time.perf_counter() - started
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "generator": {"package": "biometric-exchange", "version": __version__},
        "seed": config.seed,
        "quick": config.quick,
        "dataset": {
            "identities": config.identities,
            "captures_per_identity": 2,
            "genuine_pairs": config.identities,
            "impostor_pairs": config.identities * (config.identities - 1),
            "gallery_size": config.gallery_size,
            "mated_searches": config.identities,
            "nonmated_searches": config.nonmated_searches,
        },
        "keys": "derive_protection_key from seeded X25519 keys of synthetic parties A, B, C: "
        "agreement 1 (A-B) epochs 1 and 2, agreement 2 (A-C) epoch 1",
        "decision": "match when score < threshold; rank 1 counts only when the mate "
        "scores strictly below every other gallery entry",
        "targets": {
            "fmr": config.target_fmr,
            "fpir": config.target_fpir,
            "unlinkability_d_sys_below": UNLINKABILITY_GOAL,
        },
        "unprotected": baseline,
        "schemes": measured,
        "runtime_seconds": {k: _num(v) for k, v in seconds.items()},
    }


def _measure_scheme(name: str, subjects: Subjects, config: ProtectionConfig) -> dict[str, Any]:
    keys = evaluation_keys(config.seed, name)
    scheme = scheme_for(name, keys.agreement_1)
    other_agreement = scheme_for(name, keys.agreement_2)
    next_epoch = scheme_for(name, keys.agreement_1_epoch_2)
    same_key = _pairs(scheme, scheme, subjects)
    accuracy = _accuracy(scheme, subjects, config, same_key)
    across_agreements = _pairs(scheme, other_agreement, subjects)
    across_epochs = _pairs(scheme, next_epoch, subjects)
    unlinkability: dict[str, Any] = {
        "d_sys_across_agreements": _num(linkability(*across_agreements).d_sys),
        "d_sys_across_epochs": _num(linkability(*across_epochs).d_sys),
        "d_sys_same_key": _num(linkability(*same_key).d_sys),
        "estimator": "Gaussian KDE, one Scott bandwidth for both classes, omega = 1",
    }
    unlinkability["goal_met"] = bool(
        unlinkability["d_sys_across_agreements"] < UNLINKABILITY_GOAL
        and unlinkability["d_sys_across_epochs"] < UNLINKABILITY_GOAL
    )
    if isinstance(scheme, RotationScheme):
        norm_attack = _norm_attack(subjects)
        unlinkability["d_sys_norm_attack_across_agreements"] = _num(norm_attack)
        unlinkability["goal_met_against_norm_attack"] = bool(norm_attack < UNLINKABILITY_GOAL)
    return {
        "scheme": name,
        "threshold": _num(scheme.threshold),
        "accuracy": accuracy,
        "unlinkability": unlinkability,
        "renewability": {
            "mated_match_rate_across_epochs": _num(np.mean(across_epochs[0] < scheme.threshold)),
            "nonmated_match_rate_across_epochs": _num(np.mean(across_epochs[1] < scheme.threshold)),
            "impostor_match_rate_same_key": accuracy["fmr_at_threshold"],
        },
        "irreversibility": _preimage_attack(scheme, subjects),
    }


def _accuracy(
    scheme: ProtectionScheme,
    subjects: Subjects,
    config: ProtectionConfig,
    pairs: tuple[FloatArray, FloatArray],
) -> dict[str, Any]:
    genuine, impostor = (SortedScores.of(s) for s in pairs)
    at_fmr = impostor.threshold_for_rate(config.target_fmr)
    gallery = scheme.protect(subjects.gallery)
    mates = np.arange(config.identities)
    mated = SortedScores.of(_rank1(scheme, scheme.protect(subjects.second), gallery, mates))
    nonmated = SortedScores.of(_rank1(scheme, scheme.protect(subjects.strangers), gallery, None))
    at_fpir = nonmated.threshold_for_rate(config.target_fpir)
    t = scheme.threshold
    return {
        "threshold": _num(t),
        "fmr_at_threshold": _num(impostor.fraction_below([t])[0]),
        "fnmr_at_threshold": _num(genuine.fraction_at_or_above([t])[0]),
        "threshold_at_target_fmr": _num(at_fmr),
        "fnmr_at_target_fmr": _num(genuine.fraction_at_or_above([at_fmr])[0]),
        "threshold_at_target_fpir": _num(at_fpir),
        "fnir_at_target_fpir": _num(mated.fraction_at_or_above([at_fpir])[0]),
        "fpir_at_threshold": _num(nonmated.fraction_below([t])[0]),
        "fnir_at_threshold": _num(mated.fraction_at_or_above([t])[0]),
    }


def _pairs(
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
    # The attacker's norm comes from public data (here: the gallery fillers), not the victims.
    norm = float(np.median(np.linalg.norm(subjects.fillers, axis=1)))
    if isinstance(scheme, RotationScheme):
        preimage, attack = scheme.invert(protected), "exact inverse with the key: R^T (R x)"
    elif isinstance(scheme, BioHashScheme):
        preimage = biohash_preimage(scheme, protected, norm)
        attack = "least squares: W^T (2 bits - 1), scaled to the population norm, plus centre"
    elif isinstance(scheme, IndexOfMaxScheme):
        preimage = iom_preimage(scheme, protected, norm)
        attack = "sum of each group's winning direction, scaled to the population norm"
    else:
        raise InvalidInput(f"scheme: no pre-image attack for {scheme.name!r}")
    to_original = paired_euclidean(preimage, subjects.first)
    to_other_capture = paired_euclidean(preimage, subjects.second)
    to_others = euclidean(preimage, subjects.second)[~np.eye(len(preimage), dtype=np.bool_)]
    return {
        "attack": attack,
        "attacker_knows": "the key, the protected template, a typical template norm",
        "success_rate_against_original": _num(np.mean(to_original < DEFAULT_THRESHOLD)),
        "success_rate_against_other_capture": _num(np.mean(to_other_capture < DEFAULT_THRESHOLD)),
        "false_match_rate_against_other_people": _num(np.mean(to_others < DEFAULT_THRESHOLD)),
        "median_distance_to_original": _num(float(np.median(to_original))),
        "threshold": DEFAULT_THRESHOLD,
    }


def write_protection_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def print_protection_summary(report: dict[str, Any], console: Console) -> None:
    """One column per scheme, the unprotected baseline first."""
    targets, dataset = report["targets"], report["dataset"]
    table = Table(
        title=f"Template protection on synthetic templates ({dataset['identities']:,} "
        f"identities x 2, gallery {dataset['gallery_size']:,})",
        caption=f"D<->sys goal < {targets['unlinkability_d_sys_below']:g}; pre-image attack "
        "by a key holder, matched at 0.6 against the original template",
    )
    table.add_column("measurement")
    table.add_column("unprotected", justify="right")
    for scheme in report["schemes"]:
        table.add_column(scheme["scheme"], justify="right")
    base = report["unprotected"]
    columns = [({"accuracy": base}, True), *((s, False) for s in report["schemes"])]
    rows: list[tuple[str, Callable[[dict[str, Any]], str], bool]] = [
        ("threshold", lambda s: _f(s["accuracy"]["threshold"]), True),
        ("FMR at threshold", lambda s: _sci(s["accuracy"]["fmr_at_threshold"]), True),
        ("FNMR at threshold", lambda s: _pct(s["accuracy"]["fnmr_at_threshold"]), True),
        (
            f"FNMR at FMR {targets['fmr']:.1%}",
            lambda s: _pct(s["accuracy"]["fnmr_at_target_fmr"]),
            True,
        ),
        (
            f"FPIR at threshold (N = {dataset['gallery_size']:,})",
            lambda s: _pct(s["accuracy"]["fpir_at_threshold"]),
            True,
        ),
        (
            f"FNIR at FPIR {targets['fpir']:g} (N = {dataset['gallery_size']:,})",
            lambda s: _pct(s["accuracy"]["fnir_at_target_fpir"]),
            True,
        ),
        (
            "D<->sys across agreements",
            lambda s: _f(s["unlinkability"]["d_sys_across_agreements"]),
            False,
        ),
        ("D<->sys across epochs", lambda s: _f(s["unlinkability"]["d_sys_across_epochs"]), False),
        (
            "mated match rate across epochs",
            lambda s: _pct(s["renewability"]["mated_match_rate_across_epochs"]),
            False,
        ),
        (
            "pre-image matches original",
            lambda s: _pct(s["irreversibility"]["success_rate_against_original"]),
            False,
        ),
        (
            "pre-image matches another capture",
            lambda s: _pct(s["irreversibility"]["success_rate_against_other_capture"]),
            False,
        ),
    ]
    for label, cell, baseline_too in rows:
        table.add_row(
            label, *(cell(c) if baseline_too or not is_base else "-" for c, is_base in columns)
        )
    console.print(table)
    rotation = [
        s for s in report["schemes"] if "d_sys_norm_attack_across_agreements" in s["unlinkability"]
    ]
    for scheme in rotation:
        value = scheme["unlinkability"]["d_sys_norm_attack_across_agreements"]
        console.print(
            f"rotation keeps template norms: an attacker comparing norms gets D<->sys {_f(value)}"
        )


def evaluate_protection(
    schemes: str,
    out: Path,
    *,
    seed: int,
    quick: bool,
    model: TemplateModel,
    console: Console,
) -> dict[str, Any]:
    """``bx evaluate --protection``: run, print the table, write ``protection.json``."""
    config = ProtectionConfig(seed=seed, template_model=model)
    if quick:
        config = config.quickened()
    with console.status("measuring template protection") as status:
        report = run_protection_evaluation(config, parse_schemes(schemes), status.update)
        path = write_protection_report(report, out)
    print_protection_summary(report, console)
    console.print(f"written to {path} in {report['runtime_seconds']['total']:.1f} s")
    return report


def parse_schemes(text: str) -> tuple[str, ...]:
    """ "all", or scheme names separated by commas; InvalidInput names an unknown one."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["all"]:
        return tuple(SCHEMES)
    known = ", ".join((*SCHEMES, "all"))
    if not names:
        raise InvalidInput(f"--protection: name a scheme ({known})")
    unknown = [name for name in names if name not in SCHEMES]
    if unknown:
        raise InvalidInput(f"--protection: {unknown[0]!r} is not a protection scheme ({known})")
    return tuple(dict.fromkeys(names))


def _num(value: float | np.floating[Any]) -> float | None:
    number = float(value)
    return float(f"{number:.6g}") if math.isfinite(number) else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _sci(value: float | None) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
