"""The protection report's output: ``protection.json`` and the Rich summary table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

REPORT_NAME = "protection.json"


def report_number(value: float | np.floating[Any]) -> float | None:
    """Six significant digits for the report, or None when not finite."""
    number = float(value)
    return float(f"{number:.6g}") if math.isfinite(number) else None


def write_protection_report(report: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_NAME
    path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def print_protection_summary(report: dict[str, Any], console: Console) -> None:
    """One column per scheme, the unprotected baseline first."""
    targets, dataset = report["targets"], report["dataset"]
    table = Table(
        title=f"Template protection on synthetic templates ({dataset['identities']:,} "
        f"identities x 2, gallery {dataset['gallery_size']:,})",
        caption=f"D<->sys goal < {targets['unlinkability_d_sys_below']:g}; pre-image attack "
        "by a key holder, matched at 0.6 against the original template",
    )
    table.add_column("measurement")
    table.add_column("unprotected", justify="right")
    for scheme in report["schemes"]:
        table.add_column(scheme["scheme"], justify="right")
    base = report["unprotected"]
    columns = [({"accuracy": base}, True), *((s, False) for s in report["schemes"])]
    rows: list[tuple[str, Callable[[dict[str, Any]], str], bool]] = [
        ("threshold", lambda s: _f(s["accuracy"]["threshold"]), True),
        ("FMR at threshold", lambda s: _sci(s["accuracy"]["fmr_at_threshold"]), True),
        ("FNMR at threshold", lambda s: _pct(s["accuracy"]["fnmr_at_threshold"]), True),
        (
            f"FNMR at FMR {targets['fmr']:.1%}",
            lambda s: _pct(s["accuracy"]["fnmr_at_target_fmr"]),
            True,
        ),
        (
            f"FPIR at threshold (N = {dataset['gallery_size']:,})",
            lambda s: _pct(s["accuracy"]["fpir_at_threshold"]),
            True,
        ),
        (
            f"FNIR at FPIR {targets['fpir']:g} (N = {dataset['gallery_size']:,})",
            lambda s: _pct(s["accuracy"]["fnir_at_target_fpir"]),
            True,
        ),
        (
            "D<->sys across agreements",
            lambda s: _f(s["unlinkability"]["d_sys_across_agreements"]),
            False,
        ),
        ("D<->sys across epochs", lambda s: _f(s["unlinkability"]["d_sys_across_epochs"]), False),
        (
            "mated match rate across epochs",
            lambda s: _pct(s["renewability"]["mated_match_rate_across_epochs"]),
            False,
        ),
        (
            "pre-image matches original",
            lambda s: _pct(s["irreversibility"]["success_rate_against_original"]),
            False,
        ),
        (
            "pre-image matches another capture",
            lambda s: _pct(s["irreversibility"]["success_rate_against_other_capture"]),
            False,
        ),
    ]
    for label, cell, baseline_too in rows:
        table.add_row(
            label, *(cell(c) if baseline_too or not is_base else "-" for c, is_base in columns)
        )
    console.print(table)
    rotation = [
        s for s in report["schemes"] if "d_sys_norm_attack_across_agreements" in s["unlinkability"]
    ]
    for scheme in rotation:
        value = scheme["unlinkability"]["d_sys_norm_attack_across_agreements"]
        console.print(
            f"rotation keeps template norms: an attacker comparing norms gets D<->sys {_f(value)}"
        )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _sci(value: float | None) -> str:
    return "-" if value is None else "0" if value == 0 else f"{value:.1e}"


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
