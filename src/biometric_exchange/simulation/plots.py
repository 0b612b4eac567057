"""The run's figures as PNG, drawn on matplotlib's Agg canvas from metrics.json's numbers.

* ``sim-alerts.png``: new alerts per simulated day, by kind and by severity, with the
  false ones;
* ``sim-flow.png``: daily encounters by nationality at each node, the injected surge
  and the days the monitor flagged;
* ``sim-det.png``: the DET curve of the run's templates with the operating point;
* ``sim-sweep.png`` (threshold sweep): missed watchlisted people against false alerts
  per day, one line per watchlist size.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from biometric_exchange.evaluation.plots import probit
from biometric_exchange.simulation.sections import nodes_phrase

DPI = 80
KIND_COLOURS = {
    "WATCHLIST_HIT": "tab:red",
    "SUBJECT_ENCOUNTERED_BY_PARTNER": "tab:orange",
    "PROTECTION": "tab:green",
    "IDENTITY_CONFLICT": "tab:purple",
    "MOVEMENT": "tab:blue",
    "FLOW_SURGE": "tab:brown",
    "EXTRACTION_SUSPECTED": "tab:gray",
}
SEVERITY_COLOURS = {
    "critical": "darkred",
    "high": "tab:red",
    "medium": "tab:orange",
    "low": "gold",
}
LINE_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:cyan")
PROBIT_TICKS = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.5)
SYNTHETIC = "synthetic data"


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")


def _day_labels(metrics: dict[str, Any]) -> list[str]:
    return [dt.date.fromisoformat(d).strftime("%d %b") for d in metrics["flow"]["dates"]]


def _stacked(ax: Axes, series: dict[str, list[int]], colours: dict[str, str]) -> None:
    days = np.arange(len(next(iter(series.values()), [])))
    bottom = np.zeros(days.size)
    for name, values in series.items():
        ax.bar(days, values, bottom=bottom, color=colours.get(name, "grey"), label=name, width=0.8)
        bottom += np.asarray(values)


def plot_alerts(metrics: dict[str, Any], path: Path) -> None:
    """New alerts per day by kind (top) and by severity (bottom); false alerts as a line."""
    workload = metrics["workload"]
    labels = _day_labels(metrics)
    figure = Figure(figsize=(10.0, 6.0))
    top, bottom = figure.subplots(2, 1, sharex=True)
    for ax, series, colours, title in (
        (top, workload["by_kind"], KIND_COLOURS, "by kind"),
        (bottom, workload["by_severity"], SEVERITY_COLOURS, "by severity"),
    ):
        ordered = {k: series[k] for k in colours if k in series}
        if ordered:
            _stacked(ax, ordered, colours)
        ax.plot(
            np.arange(len(labels)),
            workload["false_alerts"],
            color="black",
            marker=".",
            linewidth=1,
            label="false alerts",
        )
        ax.set_ylabel(f"new alerts ({title})")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(True, axis="y", alpha=0.3)
    step = max(1, len(labels) // 10)
    bottom.set_xticks(np.arange(0, len(labels), step), labels[::step], rotation=45, fontsize=8)
    scenario = metrics["scenario"]
    top.set_title(
        f"Alerts per day, {nodes_phrase(metrics)}: {scenario['name']} "
        f"(seed {scenario['seed']}, {SYNTHETIC})"
    )
    _save(figure, path)


def plot_flow(metrics: dict[str, Any], path: Path) -> None:
    """Encounters per day by nationality at each node, the surge and the flagged days."""
    flow, surge = metrics["flow"], metrics["surge"]
    nodes = [n for n in metrics["scenario"]["nodes"]["countries"] if n in flow]
    labels = _day_labels(metrics)
    figure = Figure(figsize=(10.0, 3.2 * len(nodes)))
    axes = figure.subplots(len(nodes), 1, sharex=True, squeeze=False)[:, 0]
    injected = surge["injected"]
    flagged = _flagged_days(metrics)
    for ax, node in zip(axes, nodes, strict=True):
        for colour, (code, values) in zip(LINE_COLOURS * 3, flow[node].items(), strict=False):
            is_surge = injected is not None and code == injected["nationality"]
            ax.plot(
                values,
                color="black" if code == "OTHER" else "crimson" if is_surge else colour,
                linewidth=2.2 if is_surge else 1.2,
                linestyle=":" if code == "OTHER" else "-",
                label=code,
            )
        if injected is not None and injected["party"] == node:
            ax.axvspan(injected["start_day"] - 0.5, len(labels) - 0.5, color="gold", alpha=0.2)
            ax.axvline(injected["start_day"] - 0.5, color="goldenrod", linestyle="--", linewidth=1)
        for day in flagged.get(node, []):
            ax.annotate("▲", (day, 0), color="tab:brown", ha="center", va="bottom", fontsize=9)
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"{node} encounters / day")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(True, alpha=0.3)
    step = max(1, len(labels) // 10)
    axes[-1].set_xticks(np.arange(0, len(labels), step), labels[::step], rotation=45, fontsize=8)
    title = f"Daily flow by nationality ({SYNTHETIC})"
    if injected is not None:
        title += (
            f"\nsurge of {injected['nationality']} at {injected['border_point']} from "
            f"{injected['start_date']} (shaded); ▲ days the monitor flagged on that series"
        )
    axes[0].set_title(title, fontsize=9)
    _save(figure, path)


def _flagged_days(metrics: dict[str, Any]) -> dict[str, list[int]]:
    """The injected series' node → days any node's monitor flagged on that series."""
    injected = metrics["surge"]["injected"]
    if injected is None:
        return {}
    days: set[int] = set()
    for node in metrics["surge"]["by_node"].values():
        days.update(node["days_flagged_on_injected_series"])
    return {injected["party"]: sorted(days)}


def plot_det(metrics: dict[str, Any], path: Path) -> None:
    """FNMR against FMR on probit axes, with the operating point at the threshold."""
    det = metrics["det"]
    figure = Figure(figsize=(6.4, 5.0))
    ax = figure.add_subplot()
    if "curve" in det:
        fmr = np.asarray(det["curve"]["fmr"])
        fnmr = np.asarray(det["curve"]["fnmr"])
        floor_x = 1 / max(1, det["impostor_pairs"])
        floor_y = 1 / max(1, det["genuine_pairs"])
        keep = (fmr >= floor_x) & (fnmr >= floor_y) & (fmr < 1) & (fnmr < 1)
        ax.plot(
            probit(fmr[keep]),
            probit(fnmr[keep]),
            color="tab:blue",
            label=f"{det['genuine_pairs']:,} genuine, {det['impostor_pairs']:,} impostor pairs",
        )
        x = max(det["fmr"], floor_x)
        y = max(det["fnmr"], floor_y)
        ax.plot(
            probit(x),
            probit(y),
            "s",
            color="tab:red",
            label=f"t = {det['threshold']:g}: FMR {det['fmr']:.1e}, FNMR {det['fnmr']:.2%}"
            + (" (at the sample's floor)" if det["fmr"] < floor_x or det["fnmr"] < floor_y else ""),
        )
    ticks = list(PROBIT_TICKS)
    ax.set_xticks(probit(ticks), [f"{t:g}" for t in ticks], fontsize=8)
    ax.set_yticks(probit(ticks), [f"{t:g}" for t in ticks], fontsize=8)
    ax.set_xlim(*probit([1e-7, 0.5]))
    ax.set_ylim(*probit([1e-4, 0.5]))
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(
        f"DET of the run's template model (capture vs watchlist photo, {SYNTHETIC})", fontsize=9
    )
    ax.legend(loc="upper right", fontsize=8)
    _save(figure, path)


def plot_sweep(metrics: dict[str, Any], path: Path) -> None:
    """Missed watchlisted people against false alerts per day, per watchlist size."""
    rows = metrics["sweep"]["rows"]
    figure = Figure(figsize=(7.0, 5.0))
    ax = figure.add_subplot()
    sizes = sorted({row["watchlist_size"] for row in rows})
    for colour, size in zip(LINE_COLOURS * 3, sizes, strict=False):
        mine = sorted(
            (r for r in rows if r["watchlist_size"] == size), key=lambda r: r["threshold"]
        )
        xs = [r["false_alerts_per_day"] for r in mine]
        ys = [r["missed_subjects"] for r in mine]
        ax.plot(xs, ys, marker="o", color=colour, label=f"watchlists of {size:,} each")
        for r, x, y in zip(mine, xs, ys, strict=True):
            ax.annotate(
                f"{r['threshold']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7
            )
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel(f"false alerts per day ({nodes_phrase(metrics)}; operator workload)")
    ax.set_ylabel("watchlisted people met but never alerted on")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Threshold sweep (labels: match threshold; {SYNTHETIC})", fontsize=9)
    _save(figure, path)


def write_plots(metrics: dict[str, Any], out: Path) -> list[Path]:
    paths = [out / "sim-alerts.png", out / "sim-flow.png", out / "sim-det.png"]
    plot_alerts(metrics, paths[0])
    plot_flow(metrics, paths[1])
    plot_det(metrics, paths[2])
    if metrics.get("sweep"):
        paths.append(out / "sim-sweep.png")
        plot_sweep(metrics, paths[-1])
    return paths
