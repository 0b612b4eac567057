"""PNG figures of an evaluation, drawn with matplotlib's Agg canvas (no pyplot, no GUI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from scipy import stats

from biometric_exchange.evaluation.extrapolation import modelled_threshold
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
    tail = curve.thresholds[~sampled]
    ax.plot(
        *probit(_positive(v.tail.cdf(tail), curve.fnmr[~sampled])),
        color="tab:blue",
        linestyle="--",
        label="FMR from the fitted impostor tail",
    )
    ax.plot(probit([1e-9, 0.5]), probit([1e-9, 0.5]), color="grey", linewidth=0.6)
    ax.plot(
        probit(v.eer),
        probit(v.eer),
        "o",
        color="black",
        label=f"EER {v.eer:.3%} at t = {v.eer_threshold:.3f}",
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
    det.set_title("Open-set identification (dashed: fitted-tail model)")
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
    ax.plot([], [], "o", color="tab:red", label="searched with Gallery")
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
