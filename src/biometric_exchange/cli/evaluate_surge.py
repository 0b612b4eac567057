"""``bx evaluate --surge SCENARIO``: the surge monitor's false surges and detection
delay over many seeds (``simulation.surge_study``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from biometric_exchange import SYNTHETIC_NOTICE


def _pct(part: dict[str, Any]) -> str:
    low, high = part["ci95"]
    return f"{part['runs']} of {part['of']}: {part['rate']:.1%} [{low:.1%}, {high:.1%}]"


def _delay(part: dict[str, Any]) -> str:
    median = part["median_delay_days"]
    if median is None:
        return "-"
    interval = part["median_delay_ci95"]
    shown = f"{median:g} d"
    return f"{shown} [{interval[0]}, {interval[1]}]" if interval else shown


def summary_table(report: dict[str, Any]) -> Table:
    surged = report["with_surge"]
    spec = surged["injected"]
    table = Table(
        title=(
            f"with {spec['nationality']} at {spec['border_point']}, "
            f"+{spec['extra_per_day']:g} a day from day {spec['start_day']}"
        )
    )
    for column in ("node", "detected in runs [95 % CI]", "median delay [95 % CI]", "max"):
        table.add_column(column)
    rows = [*surged["by_node"].items(), ("either node", surged["any_node"])]
    for node, part in rows:
        label = f"{node} (counts it)" if node == surged["counted_by"] else node
        top = part["max_delay_days"]
        table.add_row(label, _pct(part["detected"]), _delay(part), "-" if top is None else str(top))
    return table


def run_surge(
    scenario: str,
    *,
    runs: int,
    seed: int,
    size: float | None,
    start: int | None,
    json_path: Path | None,
    console: Console,
) -> None:
    # Deferred: the simulation package (numpy, Faker) loads only for this command.
    from biometric_exchange.cli.scenarios import scenario_folder  # noqa: PLC0415
    from biometric_exchange.simulation.scenario import load_scenario, resolve  # noqa: PLC0415
    from biometric_exchange.simulation.surge_study import run_surge_study  # noqa: PLC0415

    loaded = load_scenario(resolve(scenario, scenario_folder()))
    console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    from biometric_exchange.cli.progress import steps  # noqa: PLC0415

    with steps("starting", runs) as bar:

        def progress(what: str, done: int, total: int) -> None:
            bar.update(what, done, total)

        report = run_surge_study(
            loaded, runs=runs, first_seed=seed, size=size, start=start, progress=progress
        )
    console.print(
        f"surge monitor on {report['scenario']} ({report['days']} days), seeds "
        f"{report['seeds'][0]}-{report['seeds'][1]}, family-wise alpha "
        f"{report['alpha_per_node_day']:g} per node and day"
    )
    console.print(
        "without a surge, runs with a false FLOW_SURGE: "
        + _pct(report["without_surge"]["false_surge_runs"])
    )
    console.print(summary_table(report))
    console.print(
        "with the surge, runs with a false FLOW_SURGE elsewhere: "
        + _pct(report["with_surge"]["false_surge_runs"])
    )
    console.print(f"{report['seconds']} s")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"written to {json_path}")
