"""``report.json``, the PNG figures and a console summary of an evaluation."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE, __version__
from biometric_exchange.evaluation.demographics import GroupRate, flatness
from biometric_exchange.evaluation.identification import GalleryOutcome, Rates
from biometric_exchange.evaluation.metrics import FloatArray, fmr_for_fpir
from biometric_exchange.evaluation.pipeline import Evaluation, EvaluationConfig
from biometric_exchange.evaluation.plots import (
    plot_det,
    plot_fpir_fnir,
    plot_threshold_vs_gallery,
)
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX
from biometric_exchange.synthetic.templates import TemplateModel

REPORT_NAME = "report.json"
FIGURES = {
    "det.png": plot_det,
    "fpir_fnir.png": plot_fpir_fnir,
    "threshold_vs_gallery.png": plot_threshold_vs_gallery,
}
FMR_TARGETS = (1e-3, 1e-4, 1e-5)
CURVE_STRIDE = 10
"""Curves in the JSON keep every 10th threshold of the grid."""
NO_DEMOGRAPHIC_EFFECT = (
    "The synthetic template model has no demographic effect built in (no group effects): "
    "a subject's nationality, region and age band are drawn independently of their "
    "template. Any difference between groups is sampling noise; the breakdown shows the "
    "method (same-group impostors, Wilson intervals), not a finding about real systems."
)
WITH_EFFECTS = (
    "The template model was run WITH the group effects listed under 'effects' "
    "(illustrative multipliers, not measurements): the breakdown should show them."
)


def write_report(evaluation: Evaluation, out: Path) -> dict[str, Any]:
    """Write the figures and ``report.json`` into ``out``; return the report."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for name, plot in FIGURES.items():
        plot(evaluation, out / name)
    report = build_report(evaluation)
    searches = {
        f"search_{g.size}": g.measurement.seconds
        for g in evaluation.identification.galleries
        if g.measurement is not None
    }
    seconds = {**evaluation.seconds, **searches, "report": time.perf_counter() - started}
    seconds["total"] = sum(seconds[k] for k in ("verification", "identification", "report"))
    report["runtime_seconds"] = {k: _num(v) for k, v in seconds.items()}
    (out / REPORT_NAME).write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    return report


def build_report(evaluation: Evaluation) -> dict[str, Any]:
    """Every number of the evaluation, JSON-ready (non-finite values become null)."""
    config = evaluation.config
    identification = evaluation.identification
    breakdown = evaluation.verification.breakdown + identification.breakdown
    checks = flatness(breakdown)
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "generator": {
            "package": "biometric-exchange",
            "version": __version__,
            "template_model": _template_model(config.template_model),
            "sampler": "TemplateModel.latents / captures with group-effect multipliers",
        },
        "seed": config.seed,
        "quick": config.quick,
        "dataset": _dataset(evaluation),
        "scores": {
            "kind": "Euclidean distance between 128-d templates",
            "decision": "match when distance < threshold",
            "operational_threshold": config.operational_threshold,
        },
        "verification": _verification(evaluation),
        "identification": {
            "target_fpir": config.target_fpir,
            "fpir": "fraction of non-mated searches whose rank-1 candidate is under t",
            "fnir": "fraction of mated searches whose mate is not at rank 1 under t",
            "cmc": "closed-set rank-r identification rate of the mated searches",
            "relation": "FPIR(t) = 1 - (1 - FMR(t))^N, about N * FMR(t) when small",
            "model": "sizes above max_searched: FMR from the fitted impostor tail, "
            "FNIR and CMC from it and the sampled genuine distances",
            "galleries": [_gallery(outcome, config) for outcome in identification.galleries],
            "model_check": _model_check(evaluation),
        },
        "demographics": {
            "demographic_effect_modelled": bool(config.template_model.effects),
            "effects": _template_model(config.template_model)["effects"],
            "statement": WITH_EFFECTS if config.template_model.effects else NO_DEMOGRAPHIC_EFFECT,
            "interval": "ci_low/ci_high: Wilson score interval, 95 % per group",
            "flatness_rule": "flat when the groups' simultaneous Wilson intervals (Bonferroni "
            "over all rates here, family-wise 95 %) share a common value",
            "caveat": "impostor pairs come from cross-comparison blocks (templates reused), "
            "so FMR intervals are somewhat narrow; a flat verdict is therefore conservative",
            "groups": {d: list(g) for d, g in evaluation.groups.items()},
            "identification_gallery_size": identification.breakdown_size,
            "rates": [_group_rate(row) for row in breakdown],
            "flatness": [asdict(check) for check in checks],
            "flat": all(check.flat for check in checks),
        },
        "runtime_seconds": {k: _num(v) for k, v in evaluation.seconds.items()},
        "outputs": [REPORT_NAME, *FIGURES],
    }


def _dataset(evaluation: Evaluation) -> dict[str, Any]:
    config, v = evaluation.config, evaluation.verification
    searched = [g.size for g in evaluation.identification.galleries if g.measurement is not None]
    return {
        "verification": {
            "subjects": v.subjects,
            "genuine_pairs": len(v.genuine),
            "impostor_pairs": len(v.impostor),
            "impostor_design": f"cross-comparison blocks of {config.impostor_block} x "
            f"{config.impostor_block} different subjects",
        },
        "identification": {
            "gallery_sizes": list(config.sizes),
            "searched_sizes": searched,
            "modelled_sizes": [n for n in config.sizes if n not in searched],
            "max_searched": config.max_searched,
            "galleries": "nested: each searched gallery extends the previous one",
            "mated_searches_per_size": config.mated_searches,
            "nonmated_searches": config.nonmated_searches,
            "max_rank": config.max_rank,
        },
        "demographics": {
            "extra_regional_share": config.extra_regional_share,
            "minor_share": config.minor_share,
            "regional_mix": dict(REGIONAL_MIX),
            "extra_regional_mix": dict(EXTRA_REGIONAL_MIX),
        },
    }


def _verification(evaluation: Evaluation) -> dict[str, Any]:
    v, config = evaluation.verification, evaluation.config
    points = {
        "operational threshold": config.operational_threshold,
        f"breakdown, FMR = {config.breakdown_fmr:g}": v.breakdown_threshold,
        "EER": v.eer_threshold,
    }
    stride = slice(None, None, CURVE_STRIDE)
    return {
        "eer": _num(v.eer),
        "eer_threshold": _num(v.eer_threshold),
        "at_threshold": [
            {
                "point": point,
                "threshold": _num(t),
                "fmr": _num(v.impostor.fraction_below([t])[0]),
                "fmr_modelled": _num(v.tail.cdf([t])[0]),
                "fnmr": _num(v.genuine.fraction_at_or_above([t])[0]),
            }
            for point, t in points.items()
        ],
        "at_fmr": [
            {
                "fmr": target,
                "threshold": _num(t := v.impostor.threshold_for_rate(target)),
                "fnmr": _num(v.genuine.fraction_at_or_above([t])[0]),
            }
            for target in FMR_TARGETS
        ],
        "impostor_tail_model": {
            "family": "d^2 = s2 * chi2(dof), ln s2 ~ Normal(log_scale_mean, log_scale_sd^2)",
            "fit": "weighted least squares on log FMR over the sampled lower tail",
            "dof": v.tail.dof,
            "log_scale_mean": _num(v.tail.log_scale_mean),
            "log_scale_sd": _num(v.tail.log_scale_sd),
            "fit_fmr_range": [_num(x) for x in v.tail.fit_range],
            "fit_points": v.tail.fit_points,
            "max_abs_log10_error": _num(v.tail.max_abs_log10_error),
        },
        "curve": {
            "threshold": _nums(v.curve.thresholds[stride]),
            "fmr": _nums(v.curve.fmr[stride]),
            "fnmr": _nums(v.curve.fnmr[stride]),
        },
    }


def _rates(rates: Rates, target: float, operational: float, max_rank: int) -> dict[str, Any]:
    t = rates.threshold(target)
    ranks = rates.cmc(max_rank)
    return {
        "threshold_at_target_fpir": _num(t),
        "fnir_at_target_fpir": _num(rates.fnir([t])[0]),
        "fpir_at_operational_threshold": _num(rates.fpir([operational])[0]),
        "fnir_at_operational_threshold": _num(rates.fnir([operational])[0]),
        "rank1": _num(ranks[0]),
        f"rank{max_rank}": _num(ranks[-1]),
        "cmc": _nums(ranks),
    }


def _gallery(outcome: GalleryOutcome, config: EvaluationConfig) -> dict[str, Any]:
    target = config.target_fpir
    grid = np.arange(0.0, 1.6, config.threshold_step * CURVE_STRIDE)
    measured = outcome.measurement
    result: dict[str, Any] = {
        "size": outcome.size,
        "method": outcome.method,
        "fmr_per_comparison_for_target": _num(fmr_for_fpir(target, outcome.size)),
        **_rates(outcome.rates, target, config.operational_threshold, config.max_rank),
    }
    if measured is not None:
        result.update(mated_searches=len(measured.mated), nonmated_searches=len(measured.nonmated))
    result["modelled"] = _rates(
        outcome.prediction, target, config.operational_threshold, config.max_rank
    )
    result["curve"] = {
        "threshold": _nums(grid),
        "fpir": _nums(outcome.rates.fpir(grid)),
        "fnir": _nums(outcome.rates.fnir(grid)),
    }
    return result


def _model_check(evaluation: Evaluation) -> dict[str, Any]:
    """How far the tail model's thresholds fall from the searched ones."""
    target = evaluation.config.target_fpir
    pairs = {
        g.size: (g.measurement.threshold(target), g.prediction.threshold(target))
        for g in evaluation.identification.galleries
        if g.measurement is not None
    }
    gaps = [abs(searched - modelled) for searched, modelled in pairs.values()]
    return {
        "searched_sizes": list(pairs),
        "max_abs_threshold_difference": _num(max(gaps)) if gaps else None,
    }


def _template_model(model: TemplateModel) -> dict[str, Any]:
    fields = {k: v for k, v in asdict(model).items() if k != "effects"}
    fields["effects"] = [
        {
            "group": effect.group.name,
            "nationalities": sorted(effect.group.nationalities or []) or None,
            "age_band": effect.group.age_band,
            "noise_multiplier": effect.noise_multiplier,
            "identity_multiplier": effect.identity_multiplier,
        }
        for effect in model.effects
    ]
    return fields


def _group_rate(row: GroupRate) -> dict[str, Any]:
    low, high = row.interval()
    return {
        **asdict(row),
        "threshold": _num(row.threshold),
        "rate": _num(row.rate),
        "ci_low": _num(low),
        "ci_high": _num(high),
    }


def _num(value: float | np.floating[Any]) -> float | None:
    number = float(value)
    return float(f"{number:.6g}") if math.isfinite(number) else None


def _nums(values: FloatArray) -> list[float | None]:
    return [_num(x) for x in values]


def print_summary(report: dict[str, Any], console: Console) -> None:
    """Verification, identification and demographic tables from a built report."""
    v = report["verification"]
    table = Table(
        title=f"1:1 verification: EER {_pct(v['eer'])} at t = {_f(v['eer_threshold'])}",
        caption="FMR 0 = none of the sampled impostor pairs; the tail model goes deeper",
    )
    for column in ("operating point", "threshold", "FMR sampled", "FMR tail model", "FNMR"):
        table.add_column(column, justify="right")
    for point in v["at_threshold"]:
        table.add_row(
            point["point"],
            _f(point["threshold"]),
            _sci(point["fmr"]),
            _sci(point["fmr_modelled"]),
            _pct(point["fnmr"]),
        )
    console.print(table)
    ident = report["identification"]
    max_rank = report["dataset"]["identification"]["max_rank"]
    table = Table(title=f"1:N open-set identification, target FPIR = {ident['target_fpir']:g}")
    t0 = f"{report['scores']['operational_threshold']:g}"
    columns = (
        "N",
        "method",
        "threshold",
        "FMR/comparison",
        "FNIR@FPIR",
        f"FPIR@{t0}",
        f"FNIR@{t0}",
        "rank-1",
        f"rank-{max_rank}",
        "model threshold",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for g in ident["galleries"]:
        table.add_row(
            f"{g['size']:,}",
            g["method"],
            _f(g["threshold_at_target_fpir"]),
            _sci(g["fmr_per_comparison_for_target"]),
            _pct(g["fnir_at_target_fpir"]),
            _pct(g["fpir_at_operational_threshold"]),
            _pct(g["fnir_at_operational_threshold"]),
            _pct(g["rank1"]),
            _pct(g[f"rank{max_rank}"]),
            _f(g["modelled"]["threshold_at_target_fpir"]),
        )
    console.print(table)
    demo = report["demographics"]
    uneven = [
        f"{c['metric']} by {c['dimension']} at {c['operating_point']}"
        for c in demo["flatness"]
        if not c["flat"]
    ]
    verdict = "flat within simultaneous 95 % intervals" if not uneven else "NOT flat: "
    effects = [e["group"] for e in demo["effects"]]
    console.print(
        f"demographic breakdown, {len(demo['flatness'])} checks: {verdict}{'; '.join(uneven)}"
        + (
            f" (group effects modelled: {', '.join(effects)})"
            if effects
            else " (the synthetic model has no demographic effect built in)"
        )
    )


def _sci(value: float | None) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3%}"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
