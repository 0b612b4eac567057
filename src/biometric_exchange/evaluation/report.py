"""``report.json``, the PNG figures and a console summary of an evaluation."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from biometric_exchange import SYNTHETIC_NOTICE, __version__
from biometric_exchange.evaluation.bootstrap import upper_if_none
from biometric_exchange.evaluation.dataset import AGE_BANDS
from biometric_exchange.evaluation.demographics import GroupRate, flatness
from biometric_exchange.evaluation.identification import GalleryOutcome, Rates
from biometric_exchange.evaluation.intervals import FMR_TARGETS
from biometric_exchange.evaluation.metrics import FloatArray, fmr_for_fpir
from biometric_exchange.evaluation.pipeline import Evaluation, EvaluationConfig
from biometric_exchange.evaluation.plots import (
    plot_det,
    plot_fpir_fnir,
    plot_fpir_vs_size,
    plot_strata,
    plot_threshold_vs_gallery,
)
from biometric_exchange.evaluation.strata import group_rates, stratum_thresholds
from biometric_exchange.synthetic.people import EXTRA_REGIONAL_MIX, REGIONAL_MIX
from biometric_exchange.synthetic.templates import TemplateModel

REPORT_NAME = "report.json"
FIGURES = {
    "det.png": plot_det,
    "fpir_fnir.png": plot_fpir_fnir,
    "threshold_vs_gallery.png": plot_threshold_vs_gallery,
    "fpir_vs_size.png": plot_fpir_vs_size,
    "strata.png": plot_strata,
}
BOOTSTRAP_METHOD = (
    "subject-level bootstrap (Bolle, Ratha, Pankanti 2004, 'the subsets bootstrap'; "
    "ISO/IEC 19795-1 on comparisons sharing a subject): subjects drawn with replacement, "
    "each of their comparisons weighted by how often they were drawn (impostor pairs by "
    "the product of both subjects' counts); non-mated and each size's mated searchers "
    "resampled as separate sets, the non-mated set jointly across sizes; thresholds "
    "re-estimated in every replicate; 2.5 and 97.5 percentiles. The gallery itself is "
    "held fixed."
)
NO_DEMOGRAPHIC_EFFECT = (
    "No scenario and no group effects: a subject's sex, age band, region and nationality "
    "are drawn independently of their template, so every demographic stratum is the same "
    "by construction and any difference between them is sampling noise. Only the quality "
    "bands differ, because they are defined by capture noise. The breakdown shows the "
    "method, not a finding about real systems."
)
WITH_SCENARIO = (
    "Run WITH the demographic scenario listed under 'scenario' (ratios set from NISTIR "
    "8280, each with its source): the strata differ because the scenario says they do; "
    "the breakdown measures how much, and the per-stratum thresholds an operator would "
    "need to hold the target within each stratum."
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
    phases = ("verification", "identification", "bootstrap", "report")
    seconds["total"] = sum(seconds.get(k, 0.0) for k in phases)
    seconds["process_cpu"] = time.process_time()
    report["runtime_seconds"] = {k: _num(v) for k, v in seconds.items()}
    (out / REPORT_NAME).write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    return report


def build_report(evaluation: Evaluation) -> dict[str, Any]:
    """Every number of the evaluation, JSON-ready (non-finite values become null)."""
    config = evaluation.config
    identification = evaluation.identification
    breakdown = group_rates(evaluation)
    checks = flatness([row for row in breakdown if row.dimension != "quality"])
    return {
        "synthetic": True,
        "notice": SYNTHETIC_NOTICE,
        "generator": {
            "package": "biometric-exchange",
            "version": __version__,
            "template_model": _template_model(config.template_model),
            "sampler": "TemplateModel.latents / captures with group-effect and scenario "
            "multipliers",
        },
        "seed": config.seed,
        "quick": config.quick,
        "dataset": _dataset(evaluation),
        "scores": {
            "kind": "Euclidean distance between 128-d templates",
            "decision": "match when distance < threshold",
            "operational_threshold": config.operational_threshold,
        },
        "intervals": {
            "method": BOOTSTRAP_METHOD,
            "replicates": config.replicates,
            "confidence": 0.95,
            "seed": f"SeedSequence({config.seed}).spawn(5)[4]",
            "zero_errors": "a rate with no error has the interval [0, 0]; the exact one-sided "
            "95 % bound 1 - 0.05^(1/n) is given as upper_if_none",
        },
        "verification": _verification(evaluation),
        "identification": {
            "target_fpir": config.target_fpir,
            "fpir": "fraction of non-mated searches whose rank-1 candidate is under t",
            "fnir": "fraction of mated searches whose mate is not at rank 1 under t",
            "cmc": "closed-set rank-r identification rate of the mated searches",
            "relation": "FPIR(t) = 1 - (1 - FMR(t))^N, about N * FMR(t) when small, holds "
            "only if every probe is equally likely to falsely match; the model below assumes it",
            "search": "exact: the gallery streamed in chunks past every probe, per-probe "
            "top-k merged in the engine's ranking; the non-mated probes are the same for "
            "every size",
            "model": "FMR from the fitted impostor tail, FNIR and CMC from it and the sampled "
            "genuine distances; shown beside every searched size with its error "
            "(model - search)",
            "galleries": [_gallery(evaluation, outcome) for outcome in identification.galleries],
            "model_check": _model_check(evaluation),
        },
        "demographics": {
            "scenario": [asdict(d) for d in config.scenario],
            "demographic_effect_modelled": bool(config.template_model.effects or config.scenario),
            "effects": _template_model(config.template_model)["effects"],
            "statement": _statement(config),
            "interval": "ci_low/ci_high: subject-level bootstrap 95 % interval",
            "flatness_rule": "flat when the groups' simultaneous Wilson intervals (Bonferroni "
            "over all demographic rates here, family-wise 95 %) share a common value; quality "
            "bands are left out: they are defined by capture noise, so differ by construction",
            "caveat": "impostor pairs come from cross-comparison blocks (templates reused), "
            "so the Wilson intervals of the flatness rule are somewhat narrow for FMR; the "
            "bootstrap intervals account for it",
            "groups": {d: list(g) for d, g in evaluation.groups.items()},
            "identification_gallery_size": _largest_searched(evaluation),
            "rates": [_group_rate(row) for row in breakdown],
            "thresholds": stratum_thresholds(evaluation),
            "flatness": [asdict(check) for check in checks],
            "flat": all(check.flat for check in checks),
        },
        "runtime_seconds": {k: _num(v) for k, v in evaluation.seconds.items()},
        "peak_rss_mb": _num(identification.peak_rss_mb),
        "outputs": [REPORT_NAME, *FIGURES],
    }


def _statement(config: EvaluationConfig) -> str:
    if config.scenario:
        return WITH_SCENARIO
    return WITH_EFFECTS if config.template_model.effects else NO_DEMOGRAPHIC_EFFECT


def _largest_searched(evaluation: Evaluation) -> int | None:
    searched = [g.size for g in evaluation.identification.galleries if g.measurement is not None]
    return searched[-1] if searched else None


def _ci(evaluation: Evaluation, key: str, index: int | None = None) -> dict[str, Any]:
    """``value``, ``ci``: [low, high] of one bootstrap estimate."""
    e = evaluation.estimates[key]
    values = [
        np.asarray(a) if index is None else np.asarray(a)[..., index]
        for a in (e.value, e.low, e.high)
    ]
    return {"value": _num(float(values[0])), "ci": [_num(float(values[1])), _num(float(values[2]))]}


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
            "female_share": config.female_share,
            "age_bands": dict(zip(AGE_BANDS, config.age_shares, strict=True)),
            "quality_bands": "capture noise over the model's median: good <= 1.0 < fair <= "
            "1.25 < poor",
            "regional_mix": dict(REGIONAL_MIX),
            "extra_regional_mix": dict(EXTRA_REGIONAL_MIX),
        },
    }


def _verification(evaluation: Evaluation) -> dict[str, Any]:
    v, config = evaluation.verification, evaluation.config
    points = {
        "operational threshold": ("t0", config.operational_threshold),
        f"breakdown, FMR = {config.breakdown_fmr:g}": ("breakdown", v.breakdown_threshold),
        "EER": ("eer", v.eer_threshold),
    }
    estimates = evaluation.estimates
    det_fmr, det_fnmr = estimates["det_fmr"], estimates["det_fnmr"]
    return {
        "eer": _num(v.eer),
        "eer_ci": _ci(evaluation, "eer")["ci"],
        "eer_threshold": _num(v.eer_threshold),
        "at_threshold": [
            {
                "point": point,
                "threshold": _num(t),
                "fmr": _num(v.impostor.fraction_below([t])[0]),
                "fmr_ci": _ci(evaluation, f"fmr@{key}")["ci"],
                "fmr_upper_if_none": _num(upper_if_none(len(v.impostor))),
                "fmr_modelled": _num(v.tail.cdf([t])[0]),
                "fnmr": _num(v.genuine.fraction_at_or_above([t])[0]),
                "fnmr_ci": _ci(evaluation, f"fnmr@{key}")["ci"],
            }
            for point, (key, t) in points.items()
        ],
        "at_fmr": [
            {
                "fmr": target,
                "threshold": _num(t := v.impostor.threshold_for_rate(target)),
                "threshold_ci": _ci(evaluation, f"threshold@fmr={target:g}")["ci"],
                "fnmr": _num(v.genuine.fraction_at_or_above([t])[0]),
                "fnmr_ci": _ci(evaluation, f"fnmr@fmr={target:g}")["ci"],
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
            "threshold": _nums(evaluation.points.det_grid),
            "fmr": _nums(det_fmr.value),
            "fmr_low": _nums(det_fmr.low),
            "fmr_high": _nums(det_fmr.high),
            "fnmr": _nums(det_fnmr.value),
            "fnmr_low": _nums(det_fnmr.low),
            "fnmr_high": _nums(det_fnmr.high),
        },
    }


def _measured(evaluation: Evaluation, size: int) -> dict[str, Any]:
    """The searched rates of ``size`` with their intervals."""
    max_rank = evaluation.config.max_rank
    cmc = evaluation.estimates[f"{size}/cmc"]
    rows = {
        "threshold_at_target_fpir": _ci(evaluation, f"{size}/threshold"),
        "fnir_at_target_fpir": _ci(evaluation, f"{size}/fnir@target"),
        "fpir_at_operational_threshold": _ci(evaluation, f"{size}/fpir@t0"),
        "fnir_at_operational_threshold": _ci(evaluation, f"{size}/fnir@t0"),
        "rank1": _ci(evaluation, f"{size}/cmc", 0),
        f"rank{max_rank}": _ci(evaluation, f"{size}/cmc", max_rank - 1),
    }
    result: dict[str, Any] = {name: row["value"] for name, row in rows.items()}
    result |= {f"{name}_ci": row["ci"] for name, row in rows.items()}
    result["cmc"] = _nums(cmc.value)
    result["cmc_low"], result["cmc_high"] = _nums(cmc.low), _nums(cmc.high)
    return result


def _modelled(rates: Rates, target: float, operational: float, max_rank: int) -> dict[str, Any]:
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


def _gallery(evaluation: Evaluation, outcome: GalleryOutcome) -> dict[str, Any]:
    config = evaluation.config
    target = config.target_fpir
    modelled = _modelled(outcome.prediction, target, config.operational_threshold, config.max_rank)
    result: dict[str, Any] = {
        "size": outcome.size,
        "method": outcome.method,
        "fmr_per_comparison_for_target": _num(fmr_for_fpir(target, outcome.size)),
    }
    grid = evaluation.points.fpir_grid
    measured = outcome.measurement
    if measured is None:
        result |= modelled
        result["curve"] = {
            "threshold": _nums(grid),
            "fpir": _nums(outcome.prediction.fpir(grid)),
            "fnir": _nums(outcome.prediction.fnir(grid)),
        }
    else:
        result |= _measured(evaluation, outcome.size)
        result.update(mated_searches=len(measured.mated), nonmated_searches=len(measured.nonmated))
        fpir = evaluation.estimates[f"{outcome.size}/fpir_curve"]
        fnir = evaluation.estimates[f"{outcome.size}/fnir_curve"]
        result["curve"] = {
            "threshold": _nums(grid),
            "fpir": _nums(fpir.value),
            "fpir_low": _nums(fpir.low),
            "fpir_high": _nums(fpir.high),
            "fnir": _nums(fnir.value),
            "fnir_low": _nums(fnir.low),
            "fnir_high": _nums(fnir.high),
        }
        result["model_error"] = {
            key: _diff(modelled[key], result[key]) for key in modelled if key != "cmc"
        }
    result["modelled"] = modelled
    return result


def _diff(modelled: float | None, searched: float | None) -> float | None:
    if modelled is None or searched is None:
        return None
    return _num(modelled - searched)


def _model_check(evaluation: Evaluation) -> dict[str, Any]:
    """How far the tail model falls from the searches, at every searched size."""
    config = evaluation.config
    rows = []
    for g in evaluation.identification.galleries:
        if g.measurement is None:
            continue
        t = config.operational_threshold
        rows.append(
            {
                "size": g.size,
                "threshold_searched": _num(g.measurement.threshold(config.target_fpir)),
                "threshold_modelled": _num(g.prediction.threshold(config.target_fpir)),
                "fpir_at_operational_searched": _num(g.measurement.fpir([t])[0]),
                "fpir_at_operational_modelled": _num(g.prediction.fpir([t])[0]),
                "rank1_searched": _num(g.measurement.cmc(1)[0]),
                "rank1_modelled": _num(g.prediction.cmc(1)[0]),
            }
        )
    gaps = [
        abs(r["threshold_searched"] - r["threshold_modelled"])
        for r in rows
        if r["threshold_searched"] is not None and r["threshold_modelled"] is not None
    ]
    return {
        "searched_sizes": [r["size"] for r in rows],
        "max_abs_threshold_difference": _num(max(gaps)) if gaps else None,
        "by_size": rows,
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
    return {
        **asdict(row),
        "threshold": _num(row.threshold),
        "rate": _num(row.rate),
        "ci_low": _num(row.ci_low),
        "ci_high": _num(row.ci_high),
    }


def _num(value: float | np.floating[Any]) -> float | None:
    number = float(value)
    return float(f"{number:.6g}") if math.isfinite(number) else None


def _nums(values: FloatArray) -> list[float | None]:
    return [_num(x) for x in values]
