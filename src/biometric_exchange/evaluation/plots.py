"""PNG figures of an evaluation, drawn with matplotlib's Agg canvas (no pyplot, no GUI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from scipy import stats

from biometric_exchange.evaluation.extrapolation import modelled_fpir, modelled_threshold
from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.evaluation.pipeline import Evaluation

DPI = 100
PROBIT_TICKS = (1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.5)
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def probit(p: ArrayLike) -> FloatArray:
    """Standard normal quantile: DET axes per ISO/IEC 19795-1 (Martin et al. 1997)."""
    result: FloatArray = np.asarray(stats.norm.ppf(np.asarray(p, dtype=np.float64)))
    return result


def _probit_axes(ax: Axes, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
    for axis, (low, high) in ((ax.xaxis, x_range), (ax.yaxis, y_range)):
        ticks = [t for t in PROBIT_TICKS if low <= t <= high]
        if low < 1e-6:  # probit squeezes the far tail: label every other decade there
            ticks = [t for t in ticks if t >= 1e-5 or round(np.log10(t)) % 2]
        axis.set_ticks(probit(ticks), [_label(t) for t in ticks])
    ax.set_xlim(*probit(x_range))
    ax.set_ylim(*probit(y_range))
    ax.grid(True, alpha=0.3)


def _label(p: float) -> str:
    return "0.5" if p == 0.5 else f"$10^{{{round(np.log10(p))}}}$"


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")


def _positive(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    keep = (x > 0) & (y > 0) & (x < 1) & (y < 1)
    return x[keep], y[keep]


def plot_det(evaluation: Evaluation, path: Path) -> None:
    """DET curve (FNMR vs FMR, probit axes); the fitted tail extends the FMR axis."""
    v = evaluation.verification
    curve, floor = v.curve, 10 / len(v.impostor)
    figure = Figure(figsize=(6.4, 5.0))
    ax = figure.add_subplot()
    sampled = curve.fmr >= floor
    ax.plot(
        *probit(_positive(curve.fmr[sampled], curve.fnmr[sampled])),
        color="tab:blue",
        label=f"sampled pairs ({len(v.genuine):,} genuine, {len(v.impostor):,} impostor)",
    )
    band_fmr, band_fnmr = evaluation.estimates["det_fmr"], evaluation.estimates["det_fnmr"]
    keep = (band_fmr.value >= floor) & (band_fmr.value < 1) & (band_fnmr.low > 0)
    ax.fill_between(
        probit(band_fmr.value[keep]),
        probit(band_fnmr.low[keep]),
        probit(np.minimum(band_fnmr.high[keep], 0.999)),
        color="tab:blue",
        alpha=0.25,
        linewidth=0,
        label=f"FNMR 95 % interval (subject bootstrap, {evaluation.config.replicates} replicates)",
    )
    tail = curve.thresholds[~sampled]
    ax.plot(
        *probit(_positive(v.tail.cdf(tail), curve.fnmr[~sampled])),
        color="tab:blue",
        linestyle="--",
        label="FMR from the fitted impostor tail",
    )
    ax.plot(probit([1e-9, 0.5]), probit([1e-9, 0.5]), color="grey", linewidth=0.6)
    eer = evaluation.estimates["eer"]
    ax.plot(
        probit(v.eer),
        probit(v.eer),
        "o",
        color="black",
        label=f"EER {v.eer:.3%} [{float(eer.low):.3%}, {float(eer.high):.3%}] "
        f"at t = {v.eer_threshold:.3f}",
    )
    t0 = evaluation.config.operational_threshold
    fnmr0 = float(v.genuine.fraction_at_or_above([t0])[0])
    ax.plot(
        probit(v.tail.cdf([t0])),
        probit(fnmr0),
        "s",
        color="tab:red",
        label=f"t = {t0:g}: FNMR {fnmr0:.2%}, FMR ≈ {float(v.tail.cdf([t0])[0]):.0e} (modelled)",
    )
    _probit_axes(ax, (1e-9, 0.5), (1e-5, 0.2))
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(f"DET, 1:1 verification (synthetic templates, seed {evaluation.config.seed})")
    ax.legend(loc="upper right", fontsize=8)
    _save(figure, path)


def plot_fpir_fnir(evaluation: Evaluation, path: Path) -> None:
    """Per gallery size: FNIR vs FPIR (left) and FPIR vs threshold (right)."""
    thresholds = evaluation.verification.curve.thresholds
    target = evaluation.config.target_fpir
    figure = Figure(figsize=(11.0, 4.6))
    det, fpir_axis = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for colour, outcome in zip(COLOURS, evaluation.identification.galleries, strict=False):
        name = f"N = {outcome.size:,}"
        predicted = outcome.prediction
        det.plot(
            *probit(_positive(predicted.fpir(thresholds), predicted.fnir(thresholds))),
            color=colour,
            linestyle="--",
            linewidth=1,
            label=f"{name} (model)" if outcome.measurement is None else None,
        )
        fpir_axis.semilogy(
            thresholds, predicted.fpir(thresholds), color=colour, linestyle="--", linewidth=1
        )
        if outcome.measurement is not None:
            measured = outcome.measurement
            fpir_band = evaluation.estimates[f"{outcome.size}/fpir_curve"]
            fnir_band = evaluation.estimates[f"{outcome.size}/fnir_curve"]
            fpir_axis.fill_between(
                evaluation.points.fpir_grid,
                np.maximum(fpir_band.low, 1e-6),
                np.maximum(fpir_band.high, 1e-6),
                color=colour,
                alpha=0.2,
                linewidth=0,
            )
            inside = (fpir_band.value > 0) & (fpir_band.value < 1) & (fnir_band.low > 0)
            det.fill_between(
                probit(fpir_band.value[inside]),
                probit(fnir_band.low[inside]),
                probit(np.minimum(fnir_band.high[inside], 0.999)),
                color=colour,
                alpha=0.2,
                linewidth=0,
            )
            det.plot(
                *probit(_positive(measured.fpir(thresholds), measured.fnir(thresholds))),
                color=colour,
                drawstyle="steps-post",
                label=f"{name} (searched)",
            )
            fpir_axis.semilogy(
                thresholds,
                measured.fpir(thresholds),
                color=colour,
                drawstyle="steps-post",
                label=f"{name} (searched)",
            )
        else:
            fpir_axis.plot([], [], color=colour, linestyle="--", label=f"{name} (model)")
    fpir_axis.semilogy(
        thresholds,
        evaluation.verification.curve.fmr,
        color="black",
        linewidth=1,
        label="FMR per comparison (N = 1)",
    )
    det.axvline(float(probit(target)), color="grey", linewidth=0.8)
    _probit_axes(det, (1e-4, 0.5), (1e-4, 0.5))
    det.set_xlabel("FPIR (non-mated searches with a candidate under t)")
    det.set_ylabel("FNIR (mate not at rank 1 under t)")
    det.set_title("Open-set identification (dashed: model; bands: 95 % intervals)")
    det.legend(fontsize=8, loc="upper right")
    fpir_axis.axhline(target, color="grey", linewidth=0.8)
    fpir_axis.axvline(evaluation.config.operational_threshold, color="grey", linestyle=":")
    fpir_axis.set_xlim(0.5, 0.8)
    fpir_axis.set_ylim(1e-5, 1.0)
    fpir_axis.set_xlabel("threshold t (Euclidean distance)")
    fpir_axis.set_ylabel("FPIR(t)")
    fpir_axis.set_title(f"FPIR grows with N: the line is FPIR = {target:g}")
    fpir_axis.grid(True, alpha=0.3)
    fpir_axis.legend(fontsize=8, loc="lower right")
    _save(figure, path)


def plot_threshold_vs_gallery(evaluation: Evaluation, path: Path) -> None:
    """Threshold needed for the target FPIR against gallery size (log scale)."""
    tail, target = evaluation.verification.tail, evaluation.config.target_fpir
    sizes = np.geomspace(100, 1e7, 200)
    figure = Figure(figsize=(6.4, 4.6))
    ax = figure.add_subplot()
    ax.semilogx(
        sizes,
        [modelled_threshold(tail, round(n), target) for n in sizes],
        color="tab:blue",
        label="fitted tail: FMR(t) = 1 - (1 - FPIR)^(1/N)",
    )
    ax.semilogx(
        sizes,
        [tail.quantile(target / n) for n in sizes],
        color="tab:blue",
        linestyle=":",
        label="approximation FMR(t) = FPIR / N (coincides)",
    )
    for outcome in evaluation.identification.galleries:
        searched = outcome.measurement is not None
        t = outcome.rates.threshold(target)
        if searched:
            band = evaluation.estimates[f"{outcome.size}/threshold"]
            ax.errorbar(
                outcome.size,
                t,
                yerr=[[t - float(band.low)], [max(float(band.high) - t, 0.0)]],
                color="tab:red",
                capsize=4,
            )
        ax.plot(
            outcome.size,
            t,
            "o",
            color="tab:red" if searched else "white",
            markeredgecolor="tab:red",
            markersize=7,
        )
        ax.annotate(
            f"{t:.3f}", (outcome.size, t), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    ax.plot([], [], "o", color="tab:red", label="searched (bars: 95 % interval)")
    ax.plot([], [], "o", color="white", markeredgecolor="tab:red", label="modelled")
    ax.axhline(
        evaluation.config.operational_threshold,
        color="grey",
        linestyle="--",
        label=f"face_recognition tolerance {evaluation.config.operational_threshold:g}",
    )
    ax.set_xlabel("gallery size N")
    ax.set_ylabel(f"threshold for FPIR = {target:g}")
    ax.set_title("The threshold must tighten as the gallery grows")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    _save(figure, path)


def plot_fpir_vs_size(evaluation: Evaluation, path: Path) -> None:
    """FPIR at the operational threshold against N: searches (same probes) and the model."""
    t0 = evaluation.config.operational_threshold
    figure = Figure(figsize=(6.4, 4.6))
    ax = figure.add_subplot()
    sizes = np.geomspace(100, 1e7, 100)
    tail = evaluation.verification.tail
    ax.loglog(
        sizes,
        [float(modelled_fpir(tail, round(n), [t0])[0]) for n in sizes],
        color="tab:blue",
        linestyle="--",
        label="model: 1 - (1 - FMR(t))^N, fitted impostor tail",
    )
    for outcome in evaluation.identification.galleries:
        if outcome.measurement is None:
            continue
        band = evaluation.estimates[f"{outcome.size}/fpir@t0"]
        value = float(band.value)
        ax.errorbar(
            outcome.size,
            max(value, 1e-5),
            yerr=[[max(value - float(band.low), 0.0)], [max(float(band.high) - value, 0.0)]],
            fmt="o",
            color="tab:red",
            capsize=4,
        )
        ax.annotate(
            f"{value:.2%}",
            (outcome.size, max(value, 1e-5)),
            textcoords="offset points",
            xytext=(6, -12),
            fontsize=8,
        )
    ax.plot([], [], "o", color="tab:red", label="searched, same non-mated probes (95 % interval)")
    ax.set_xlabel("gallery size N")
    ax.set_ylabel(f"FPIR at t = {t0:g}")
    ax.set_ylim(1e-5, 1.0)
    ax.set_title("False alarms as the gallery grows: search against model")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    _save(figure, path)


def plot_strata(evaluation: Evaluation, path: Path) -> None:
    """Per stratum: FMR at the population threshold and the stratum's own threshold."""
    e, config = evaluation.estimates, evaluation.config
    keys = [
        f"{d}={g}" for d, groups in evaluation.groups.items() if d != "nationality" for g in groups
    ]
    y = np.arange(len(keys))[::-1]
    figure = Figure(figsize=(11.0, 0.32 * len(keys) + 1.6))
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for ax, name, colour in (
        (left, "fmr@breakdown", "tab:red"),
        (right, "threshold@fmr", "tab:blue"),
    ):
        value = np.array([float(e[f"{k}/{name}"].value) for k in keys])
        low = np.array([float(e[f"{k}/{name}"].low) for k in keys])
        high = np.array([float(e[f"{k}/{name}"].high) for k in keys])
        if name.startswith("fmr"):
            value, low = np.maximum(value, 1e-7), np.maximum(low, 1e-7)
            ax.set_xscale("log")
        ax.errorbar(
            value,
            y,
            xerr=[np.maximum(value - low, 0), np.maximum(high - value, 0)],
            fmt="o",
            color=colour,
            capsize=3,
        )
        ax.set_yticks(y, keys)
        ax.grid(True, alpha=0.3)
    left.axvline(config.breakdown_fmr, color="grey", linestyle="--")
    left.set_xlabel(
        f"same-stratum FMR at the population's FMR = {config.breakdown_fmr:g} threshold"
    )
    right.axvline(evaluation.verification.breakdown_threshold, color="grey", linestyle="--")
    right.set_xlabel(f"stratum's own threshold for FMR = {config.breakdown_fmr:g}")
    scenario = "NIST-derived scenario" if config.scenario else "no scenario: flat by construction"
    figure.suptitle(f"Strata, 1:1 (95 % intervals, subject bootstrap; {scenario})")
    _save(figure, path)
