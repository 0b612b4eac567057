"""Console tables of a built report: every rate with its 95 % interval."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_summary(report: dict[str, Any], console: Console) -> None:
    """Verification, identification and per-stratum tables from a built report."""
    replicates = report["intervals"]["replicates"]
    v = report["verification"]
    table = Table(
        title=f"1:1 verification: EER {_pct(v['eer'])} {_ci(v['eer_ci'])} "
        f"at t = {_f(v['eer_threshold'])}",
        caption=f"[low, high]: subject-level bootstrap 95 % interval, {replicates} replicates; "
        "FMR 0: no sampled impostor pair under t (the tail model goes deeper)",
    )
    for column in ("operating point", "threshold", "FMR sampled", "FMR tail model", "FNMR"):
        table.add_column(column, justify="right")
    for point in v["at_threshold"]:
        table.add_row(
            point["point"],
            _f(point["threshold"]),
            f"{_sci(point['fmr'])} {_ci(point['fmr_ci'], _sci)}",
            _sci(point["fmr_modelled"]),
            f"{_pct(point['fnmr'])} {_ci(point['fnmr_ci'])}",
        )
    console.print(table)
    _identification(report, console)
    _strata(report, console)


def _identification(report: dict[str, Any], console: Console) -> None:
    ident = report["identification"]
    max_rank = report["dataset"]["identification"]["max_rank"]
    t0 = f"{report['scores']['operational_threshold']:g}"
    table = Table(
        title=f"1:N open-set identification, target FPIR = {ident['target_fpir']:g}",
        caption="search: measured, with 95 % intervals; model: the fitted impostor tail "
        "(beside every searched size, its error = model - search)",
    )
    columns = (
        "N",
        "method",
        "threshold",
        "FNIR@FPIR",
        f"FPIR@{t0}",
        f"FNIR@{t0}",
        "rank-1",
        f"rank-{max_rank}",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for g in ident["galleries"]:
        searched = g["method"] == "search"
        table.add_row(
            f"{g['size']:,}",
            g["method"],
            *(
                f"{fmt(g[key])}" + (f" {_ci(g[key + '_ci'], fmt)}" if searched else "")
                for key, fmt in (
                    ("threshold_at_target_fpir", _f),
                    ("fnir_at_target_fpir", _pct),
                    ("fpir_at_operational_threshold", _pct),
                    ("fnir_at_operational_threshold", _pct),
                    ("rank1", _pct),
                    (f"rank{max_rank}", _pct),
                )
            ),
        )
        if searched:
            m = g["modelled"]
            table.add_row(
                "",
                "model",
                _f(m["threshold_at_target_fpir"]),
                _pct(m["fnir_at_target_fpir"]),
                _pct(m["fpir_at_operational_threshold"]),
                _pct(m["fnir_at_operational_threshold"]),
                _pct(m["rank1"]),
                _pct(m[f"rank{max_rank}"]),
                style="dim",
            )
    console.print(table)


def _strata(report: dict[str, Any], console: Console) -> None:
    demo = report["demographics"]
    table = Table(
        title="Per stratum: own threshold for the population's target, and what it costs",
        caption=demo["statement"],
    )
    for column in (
        "stratum",
        "FMR at pop. threshold",
        "own 1:1 threshold",
        "FNMR there",
        "FPIR at pop. threshold",
        "own 1:N threshold",
        "FNIR there",
    ):
        table.add_column(column, justify="right")
    for row in demo["thresholds"]:
        ver, ident = row["verification"], row.get("identification")
        cells = [
            f"{_sci(ver['fmr_at_population_threshold']['value'])} "
            f"{_ci(ver['fmr_at_population_threshold']['ci'], _sci)}",
            _pair(ver["threshold"], _f),
            _pair(ver["fnmr_at_own_threshold"], _pct),
        ]
        if ident is not None:
            cells += [
                _pair(ident["fpir_at_population_threshold"], _pct),
                _pair(ident["threshold"], _f),
                _pair(ident["fnir_at_own_threshold"], _pct),
            ]
        else:
            cells += ["-", "-", "-"]
        table.add_row(f"{row['dimension']}={row['group']}", *cells)
    console.print(table)
    uneven = [
        f"{c['metric']} by {c['dimension']} at {c['operating_point']}"
        for c in demo["flatness"]
        if not c["flat"]
    ]
    verdict = "flat within simultaneous 95 % intervals" if not uneven else "NOT flat: "
    console.print(
        f"demographic breakdown, {len(demo['flatness'])} checks: {verdict}{'; '.join(uneven)}"
    )


def _pair(pair: dict[str, Any], fmt: Any) -> str:
    return f"{fmt(pair['value'])} {_ci(pair['ci'], fmt)}"


def _ci(ci: list[float | None], fmt: Any = None) -> str:
    f = fmt or _pct
    return f"[{f(ci[0])}, {f(ci[1])}]"


def _sci(value: float | None) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
