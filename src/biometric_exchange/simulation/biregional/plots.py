"""The bi-regional run's figures: mesh against router, from metrics.json's numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110
COLOURS = {"mesh": "#4c72b0", "router": "#dd8452"}


def plot_comparison(metrics: dict[str, Any], folder: Path) -> list[Path]:
    """``exchange.png`` (calls and kilobytes per encounter, latency) and ``recall.png``."""
    topologies = [t for t in ("mesh", "router") if t in metrics["topologies"]]
    runs = [metrics["topologies"][t] for t in topologies]
    figure = Figure(figsize=(11, 3.6))
    FigureCanvasAgg(figure)
    calls, data, latency = figure.subplots(1, 3)
    for axes, title, member_key, onward_key, scale in (
        (calls, "messages per encounter", "member_calls", "router_onward_calls", 1.0),
        (data, "kB on the wire per encounter", "member_bytes", "router_onward_bytes", 1000.0),
    ):
        members = [r[member_key] / max(r["encounters"], 1) / scale for r in runs]
        onward = [r[onward_key] / max(r["encounters"], 1) / scale for r in runs]
        axes.bar(
            topologies, members, color=[COLOURS[t] for t in topologies], label="member ↔ next hop"
        )
        axes.bar(topologies, onward, bottom=members, color="#999999", label="router ↔ holder")
        axes.set_title(title)
        axes.legend(fontsize=8)
    medians = [r["identify_ms_median"] or 0 for r in runs]
    p95 = [r["identify_ms_p95"] or 0 for r in runs]
    positions = range(len(topologies))
    latency.bar([p - 0.2 for p in positions], medians, width=0.4, label="median")
    latency.bar([p + 0.2 for p in positions], p95, width=0.4, label="95th percentile")
    latency.set_xticks(list(positions), topologies)
    latency.set_title("Identify call, ms (in-process)")
    latency.legend(fontsize=8)
    figure.suptitle(f"{metrics['scenario']}: mesh and router on one world (synthetic)")
    figure.tight_layout()
    exchange = folder / "exchange.png"
    figure.savefig(exchange, dpi=DPI, format="png")

    figure = Figure(figsize=(6, 3.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    expected = [r["expected_partner_hits"] for r in runs]
    found = [r["found_expected"] for r in runs]
    axes.bar([p - 0.2 for p in positions], expected, width=0.4, color="#cccccc", label="expected")
    axes.bar(
        [p + 0.2 for p in positions],
        found,
        width=0.4,
        color=[COLOURS[t] for t in topologies],
        label="found",
    )
    axes.set_xticks(list(positions), topologies)
    axes.set_title("Hits on a partner's watchlist (synthetic truth)")
    axes.legend(fontsize=8, loc="lower center")
    figure.tight_layout()
    recall = folder / "recall.png"
    figure.savefig(recall, dpi=DPI, format="png")
    return [exchange, recall]
