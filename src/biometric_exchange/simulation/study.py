"""``bx simulate``'s work: run a scenario (and its threshold sweep), write the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biometric_exchange.simulation.accuracy import Scorer, missed_people
from biometric_exchange.simulation.detections import detections
from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.rates import measured_rates
from biometric_exchange.simulation.report import write_report
from biometric_exchange.simulation.runner import Progress, Run, run_scenario
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.truth import GroundTruth
from biometric_exchange.simulation.workload import FLOW_SURGE, alerts_per_day, surge_is_right


def _quiet(_what: str, _done: int, _total: int) -> None:
    return None


@dataclass(frozen=True)
class Study:
    metrics: dict[str, Any]
    files: list[Path]
    run: Run


def default_out(scenario: Scenario) -> Path:
    return Path("runs") / f"{scenario.name}-{scenario.seed}"


def run_study(
    scenario: Scenario, out: Path, *, over_grpc: bool = False, progress: Progress = _quiet
) -> Study:
    """Run ``scenario`` (then each point of its sweep), write the report folder ``out``."""
    run = run_scenario(scenario, out, over_grpc=over_grpc, progress=progress)
    metrics = compute_metrics(run.world, run.record)
    if scenario.sweep is not None:
        metrics["sweep"] = sweep(scenario, out, over_grpc=over_grpc, progress=progress)
    files = write_report(metrics, out)
    return Study(metrics, files, run)


def sweep(scenario: Scenario, out: Path, *, over_grpc: bool, progress: Progress) -> dict[str, Any]:
    """The same world at each threshold and watchlist size: missed people vs false alerts."""
    assert scenario.sweep is not None
    rows = []
    points = [(f, t) for f in scenario.sweep.fillers for t in scenario.sweep.thresholds]
    for number, (fillers, threshold) in enumerate(points, start=1):
        variant = scenario.model_copy(
            update={
                "threshold": threshold,
                "watchlist": scenario.watchlist.model_copy(update={"fillers": fillers}),
                "sweep": None,
            }
        )

        def step(what: str, done: int, total: int, number: int = number) -> None:
            progress(f"sweep {number}/{len(points)}: {what}", done, total)

        run = run_scenario(variant, out, over_grpc=over_grpc, progress=step)
        rows.append(sweep_row(run))
    return {"rows": rows}


def sweep_row(run: Run) -> dict[str, Any]:
    scenario, world = run.world.scenario, run.world
    truth = GroundTruth.of(world)
    found = detections(run.record)
    scorer = Scorer(truth, found)
    surge_right = surge_is_right(world.surge)
    workload = alerts_per_day(
        found,
        world.calendar.days,
        lambda d: surge_right(d) if d.kind == FLOW_SURGE else scorer.is_right(d),
    )
    missed, visible = missed_people(truth, found)
    rates = measured_rates(truth, found)["all"]
    countries = len(scenario.nodes.countries)
    return {
        "threshold": scenario.threshold,
        "fillers": scenario.watchlist.fillers,
        "watchlist_size": len(world.listings) // countries,
        "missed_subjects": missed,
        "watchlisted_people_met": visible,
        "false_alerts_per_day": workload["mean_false_alerts_per_day"],
        "fpir": rates["fpir"],
        "fnir": rates["fnir"],
    }
