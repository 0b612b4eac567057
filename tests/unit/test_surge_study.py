"""``bx evaluate --surge``: the scenario's counts without faces, the monitor replayed day
by day, the study's figures (deterministic for the seeds) and the command."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.scenario import Scenario, parse_scenario
from biometric_exchange.simulation.surge_counts import daily_counts
from biometric_exchange.simulation.surge_replay import replay
from biometric_exchange.simulation.surge_study import (
    injected,
    median_interval,
    outcome,
    run_surge_study,
)
from biometric_exchange.simulation.world import draw_world

CALENDAR = Calendar(dt.date(2026, 3, 1), 20)
LAJAS = "PAN-DARIEN-LAJAS-BLANCAS"


def scenario(**changes: object) -> Scenario:
    raw: dict[str, object] = {
        "name": "surge-study",
        "seed": 11,
        "days": 20,
        "population": {"migrants": 2000, "fraud_share": 0.02},
        "watchlist": {"fillers": 20},
        "surge": {
            "nationality": "NPL",
            "border_point": LAJAS,
            "start_day": 12,
            "extra_per_day": 25,
        },
    }
    raw.update(changes)
    return parse_scenario(raw, "surge-study")


def test_the_counts_are_those_a_full_run_enrols() -> None:
    """Same streams as the world, names from fixed pools: the same counts, cell by cell."""
    chosen = scenario()
    counts = daily_counts(chosen, CALENDAR)
    world = draw_world(chosen, CALENDAR)
    e = world.encounters
    nationality = world.people.nationality[e.face]
    expected = Counter(
        zip(
            e.country.tolist(),
            e.day.tolist(),
            nationality.tolist(),
            e.border_point.tolist(),
            strict=True,
        )
    )
    got = {
        (node, day, c.nationality, c.border_point): c.count
        for node, days in counts.by_node.items()
        for day, cells in enumerate(days)
        for c in cells
    }
    assert got == dict(expected)
    assert all(
        c.day == CALENDAR.date(d)
        for days in counts.by_node.values()
        for d, cells in enumerate(days)
        for c in cells
    )
    assert counts.surge == world.surge


def test_the_replayed_monitor_finds_the_injected_surge_at_both_nodes() -> None:
    chosen = scenario()
    raised = replay(daily_counts(chosen, CALENDAR))
    result = outcome(chosen.seed, raised, chosen.surge)
    assert result.false_surges == 0
    assert result.delays == {"PAN": 0, "CHL": 0}
    assert {r.series for r in raised} == {("PAN", "NPL", LAJAS)}
    # Each surge day is raised once per node, however many runs look back at it.
    keys = [(r.node, r.surge.evidence_key) for r in raised]
    assert len(keys) == len(set(keys))


def test_without_the_surge_nothing_is_raised() -> None:
    chosen = scenario(surge=None)
    result = outcome(chosen.seed, replay(daily_counts(chosen, CALENDAR)), None)
    assert (result.false_surges, result.delays) == (0, {})


def test_the_study_is_deterministic_and_reports_intervals() -> None:
    chosen = scenario(surge=None)
    first = run_surge_study(chosen, runs=4, first_seed=30, size=15, start=13)
    again = run_surge_study(chosen, runs=4, first_seed=30, size=15, start=13)
    first.pop("seconds")
    again.pop("seconds")
    assert first == again
    assert first["seeds"] == [30, 33]
    null = first["without_surge"]["false_surge_runs"]
    assert (null["runs"], null["of"], null["rate"]) == (0, 4, 0.0)
    assert null["ci95"][0] == 0.0 and 0.4 < null["ci95"][1] < 0.6  # Wilson, 0 of 4
    surged = first["with_surge"]
    assert surged["injected"]["extra_per_day"] == 15 and surged["injected"]["start_day"] == 13
    assert surged["counted_by"] == "PAN"
    assert surged["by_node"]["PAN"]["detected"]["runs"] == 4
    assert surged["by_node"]["PAN"]["median_delay_days"] == 0
    assert surged["any_node"]["detected"]["rate"] == 1.0


def test_the_injected_surge_defaults_and_checks() -> None:
    plain = scenario(surge=None)
    default = injected(plain, None, None)
    assert (default.nationality, default.border_point) == ("NPL", LAJAS)
    assert (default.start_day, default.extra_per_day) == (12, 10)
    own = injected(scenario(), 7, None)
    assert (own.start_day, own.extra_per_day) == (12, 7)
    assert injected(scenario(), None, 15).extra_per_day == 25
    with pytest.raises(InvalidInput, match="--surge-start"):
        injected(plain, None, 20)
    with pytest.raises(InvalidInput, match="--surge-size"):
        injected(plain, 0, None)


def test_median_interval_by_order_statistics() -> None:
    values = list(range(1, 101))
    assert median_interval(values) == (40, 61)  # ranks 40 and 61 of 100: 96.5 % coverage
    assert median_interval([3, 1, 2, 5, 4, 6]) == (1, 6)
    assert median_interval([1, 2, 3, 4, 5]) is None


def test_bx_evaluate_surge_writes_its_report(tmp_path: Path) -> None:
    report = tmp_path / "surge.json"
    result = CliRunner().invoke(
        app, ["evaluate", "--surge", "demo", "--runs", "2", "--json", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "false FLOW_SURGE" in result.output
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["scenario"] == "demo" and written["seeds"] == [2017, 2018]
    assert set(written["with_surge"]["by_node"]) == {"CHL", "PAN"}
    refused = CliRunner().invoke(app, ["evaluate", "--surge", "demo", "--output", str(tmp_path)])
    assert refused.exit_code != 0
