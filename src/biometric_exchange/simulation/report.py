"""A run's folder: metrics.json, report.md and the PNG figures.

report.md is written from metrics.json's numbers alone, so it can be rebuilt
from a kept metrics.json. Every report opens with the synthetic-data notice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biometric_exchange import SYNTHETIC_NOTICE
from biometric_exchange.simulation import sections
from biometric_exchange.simulation.plots import write_plots


def write_report(metrics: dict[str, Any], out: Path) -> list[Path]:
    """Write metrics.json, report.md and the figures into ``out``; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    figures = write_plots(metrics, out)
    report = out / "report.md"
    report.write_text(render(metrics, [f.name for f in figures]), encoding="utf-8")
    return [report, metrics_path, *figures]


def render(metrics: dict[str, Any], figures: list[str]) -> str:
    s, run, world = metrics["scenario"], metrics["run"], metrics["world"]
    lines = [
        f"# Simulation report: {s['name']} (seed {s['seed']})",
        "",
        f"> **{SYNTHETIC_NOTICE}.** Every traveller, document, face template and",
        "> watchlist entry in this run was generated; the figures describe the synthetic",
        "> model, not the real system or real people.",
        "",
        s.get("description", "").strip(),
        "",
        f"- Mode: **{run['mode']}**; {run['days']} simulated days from {run['first_day']}; "
        f"match threshold {s['threshold']}; run took {run['seconds_total']:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in run['seconds'].items())}).",
        f"- Migrants drawn: {world['migrants_drawn']:,} (journeys over "
        f"{s['population']['lead_days']} lead-in days and the {run['days']} days); "
        f"people met by a node: {world['people_met']:,} in {world['encounters']:,} encounters "
        f"({sections.counts(world['encounters_by_node'])}); "
        f"extra-regional: {world['extra_regional_encounters']:,}.",
        f"- Watchlists: {sections.counts(world['watchlist_entries_by_node'])} entries; "
        f"watchlisted people met: {world['watchlisted_people_met']}; fraud travellers "
        f"met: {world['fraud_travellers_met']}; surge arrivals: {world['surge_arrivals']:,}.",
        "",
    ]
    lines += sections.alerts(metrics)
    lines += sections.identification(metrics)
    lines += sections.workload(metrics)
    lines += sections.surge(metrics)
    lines += sections.exchange(metrics)
    if len(s["nodes"]["countries"]) > 2:  # with one agreement, the tables above say it all
        lines += sections.links(metrics)
    lines += sections.disclosure(metrics)
    if metrics.get("sweep"):
        lines += sections.sweep(metrics)
    lines += ["## Figures", ""]
    lines += [f"![{name}]({name})" for name in figures]
    lines += ["", _reading_guide()]
    return "\n".join(lines) + "\n"


def _reading_guide() -> str:
    return (
        "## How to read this report\n\n"
        "- *Precision*: of the alert evidence raised, the share naming the right person.\n"
        "  *Recall*: of the cases in the truth, the share caught; *recall (eligible)* counts\n"
        "  only the cases the agreement lets the exchange see, so it measures the matching.\n"
        "- *FNIR*: mated searches whose mate was not returned; *FPIR*: non-mated searches\n"
        "  that returned someone (each a false alert for an operator).\n"
        "- `sim-alerts.png`: new alerts per day by kind and severity, false ones as a line.\n"
        "- `sim-flow.png`: encounters per day by nationality at each node (log scale above 10);\n"
        "  the injected surge is shaded, ▲ marks the days the monitor flagged it.\n"
        "- `sim-det.png`: the trade-off between false matches and missed matches of the\n"
        "  run's template model; the square is the operating threshold.\n"
        "- See `simulations/README.md` for the scenario format and the model's limits.\n"
    )
