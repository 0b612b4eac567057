"""Runs the template-protection evaluation and serves ``bx evaluate --protection``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from biometric_exchange import SYNTHETIC_NOTICE, __version__
from biometric_exchange.evaluation.protection.measure import (
    UNLINKABILITY_GOAL,
    measure_accuracy,
    measure_scheme,
    pair_scores,
)
from biometric_exchange.evaluation.protection.report import (
    print_protection_summary,
    report_number,
    write_protection_report,
)
from biometric_exchange.evaluation.protection.setup import (
    ProtectionConfig,
    Unprotected,
    draw_subjects,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection import SCHEMES
from biometric_exchange.synthetic.templates import TemplateModel


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
    baseline = measure_accuracy(plain, subjects, config, pair_scores(plain, plain, subjects))
    seconds["none"] = time.perf_counter() - started
    measured = []
    for name in schemes:
        progress(f"{name}: accuracy, unlinkability, renewability, pre-image attack")
        begun = time.perf_counter()
        measured.append(measure_scheme(name, subjects, config))
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
        "runtime_seconds": {k: report_number(v) for k, v in seconds.items()},
    }


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
