"""Per-stratum rates and thresholds of an evaluation, read from its bootstrap estimates.

Two views an operator needs: the rates of each stratum at the population's
thresholds (does one group false-match more at the shared setting?), and
each stratum's own threshold for the same target (the setting that would
hold FMR = ``breakdown_fmr`` 1:1, or FPIR = ``target_fpir`` on the largest
searched gallery, within that stratum), with the FNMR / FNIR it costs there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biometric_exchange.evaluation.demographics import GroupRate
from biometric_exchange.evaluation.pipeline import Evaluation


def group_rates(evaluation: Evaluation) -> list[GroupRate]:
    """Every stratum's FNMR, FMR (1:1) and FPIR, FNIR (1:N) at the population's thresholds."""
    config, v, e = evaluation.config, evaluation.verification, evaluation.estimates
    size = _largest_searched(evaluation)
    one_to_one = (
        (
            "fnmr",
            "fnmr@t0",
            "genuine_trials",
            config.operational_threshold,
            f"t={config.operational_threshold:g}",
        ),
        (
            "fnmr",
            "fnmr@breakdown",
            "genuine_trials",
            v.breakdown_threshold,
            f"FMR={config.breakdown_fmr:g}",
        ),
        (
            "fmr",
            "fmr@breakdown",
            "impostor_trials",
            v.breakdown_threshold,
            f"FMR={config.breakdown_fmr:g}",
        ),
    )
    rows: list[GroupRate] = []
    for dimension, groups in evaluation.groups.items():
        for group in groups:
            key = f"{dimension}={group}"
            for spec in one_to_one:
                rows += _row(e, key, spec, dimension=dimension, group=group)
            if size is None or f"{key}/fpir@target" not in e:
                continue
            t = float(e[f"{size}/threshold"].value)
            point = f"FPIR={config.target_fpir:g} N={size}"
            for spec in (
                ("fpir", "fpir@target", "nonmated_trials", t, point),
                ("fnir", "fnir@target", "mated_trials", t, point),
            ):
                rows += _row(e, key, spec, dimension=dimension, group=group)
    return rows


def stratum_thresholds(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Per stratum: its own threshold for the 1:1 and 1:N targets and what it costs."""
    e = evaluation.estimates
    rows = []
    for dimension, groups in evaluation.groups.items():
        for group in groups:
            key = f"{dimension}={group}"
            row: dict[str, Any] = {"dimension": dimension, "group": group}
            row["verification"] = {
                "fmr_target": evaluation.config.breakdown_fmr,
                "threshold": _pair(e, f"{key}/threshold@fmr"),
                "fnmr_at_own_threshold": _pair(e, f"{key}/fnmr@own"),
                "fmr_at_population_threshold": _pair(e, f"{key}/fmr@breakdown"),
                "impostor_pairs": _count(e, f"{key}/impostor_trials"),
            }
            if f"{key}/threshold@fpir" in e:
                row["identification"] = {
                    "fpir_target": evaluation.config.target_fpir,
                    "gallery_size": _largest_searched(evaluation),
                    "threshold": _pair(e, f"{key}/threshold@fpir"),
                    "fnir_at_own_threshold": _pair(e, f"{key}/fnir@own"),
                    "fpir_at_population_threshold": _pair(e, f"{key}/fpir@target"),
                    "nonmated_searches": _count(e, f"{key}/nonmated_trials"),
                }
            rows.append(row)
    return rows


def _largest_searched(evaluation: Evaluation) -> int | None:
    searched = [g.size for g in evaluation.identification.galleries if g.measurement is not None]
    return searched[-1] if searched else None


def _row(
    e: dict[str, Any],
    key: str,
    spec: tuple[str, str, str, float, str],
    *,
    dimension: str,
    group: str,
) -> list[GroupRate]:
    """``spec``: (metric, estimate name, trials name, threshold, operating point)."""
    metric, name, trials_name, threshold, point = spec
    estimate = e[f"{key}/{name}"]
    trials = _count(e, f"{key}/{trials_name}")
    if trials == 0 or not math.isfinite(float(estimate.value)):
        return []
    errors = round(float(estimate.value) * trials)
    return [
        GroupRate(
            metric,
            threshold,
            point,
            dimension,
            group,
            errors,
            trials,
            float(estimate.low),
            float(estimate.high),
        )
    ]


def _count(e: dict[str, Any], key: str) -> int:
    return round(float(e[key].value))


def _pair(e: dict[str, Any], key: str) -> dict[str, Any]:
    estimate = e[key]
    return {"value": _num(estimate.value), "ci": [_num(estimate.low), _num(estimate.high)]}


def _num(value: Any) -> float | None:
    number = float(np.asarray(value))
    return float(f"{number:.6g}") if math.isfinite(number) else None
