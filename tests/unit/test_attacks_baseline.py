"""Template extraction against the previous behaviour (scores on), in process."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from biometric_exchange.cli.evaluate import evaluate
from biometric_exchange.evaluation.attacks import AttackConfig, run_baseline
from biometric_exchange.evaluation.attacks.baseline import ScoresOnOracle
from biometric_exchange.evaluation.attacks.boundary import BoundarySearch
from biometric_exchange.evaluation.attacks.campaign import Campaign
from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused
from biometric_exchange.evaluation.attacks.scenario import make_scenario
from biometric_exchange.evaluation.attacks.trilateration import Trilateration
from biometric_exchange.exceptions import InvalidInput

THRESHOLD = 0.6


def test_trilateration_recovers_the_victim_exactly_in_129_probes() -> None:
    report = run_baseline(AttackConfig(attack="trilateration", victims=2, watchlist=1000, seed=5))
    assert report.recovered == 2
    for outcome in report.outcomes:
        assert outcome.probes == 129
        assert outcome.rank_one
        assert outcome.error is not None and outcome.error < 1e-3
        assert outcome.start_distance > 0.1  # the starting probe alone is far from v
    assert report.ledger.probes == 2 * 129


def test_boundary_recovers_the_victim_within_its_budget() -> None:
    budget = 5000
    report = run_baseline(AttackConfig(attack="boundary", victims=2, seed=5, budget=budget))
    assert report.recovered == 2
    for outcome in report.outcomes:
        assert outcome.probes <= budget
        assert outcome.error is not None and outcome.error <= 0.1 * THRESHOLD
        assert outcome.error < outcome.start_distance / 10
    assert report.ledger.probes == sum(o.probes for o in report.outcomes)


def test_boundary_sends_no_two_probes_of_one_ray_in_a_row() -> None:
    scenario = make_scenario(200, 1, seed=3, threshold=THRESHOLD)
    attack = BoundarySearch(scenario.starts[0].astype(np.float64), np.random.default_rng(0))
    oracle = ScoresOnOracle(scenario.ids, scenario.templates, threshold=THRESHOLD, max_candidates=3)
    sent: list[Matrix] = []
    for _ in range(30):
        batch = attack.next_batch(64)
        assert batch is not None
        sent.append(batch)
        answers = oracle.ask(batch)
        assert not isinstance(answers, Refused)
        attack.observe(answers)
    probes = np.concatenate(sent).astype(np.float64)
    gaps = np.linalg.norm(np.diff(probes, axis=0), axis=1)
    assert gaps.min() > 0.1


def test_without_distances_trilateration_sends_its_probes_and_recovers_nothing() -> None:
    scenario = make_scenario(200, 1, seed=3, threshold=THRESHOLD)
    inner = ScoresOnOracle(scenario.ids, scenario.templates, threshold=THRESHOLD, max_candidates=3)

    class HitOnly:
        def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
            answers = inner.ask(templates)
            assert not isinstance(answers, Refused)
            return [ProbeAnswer(hit=answer.hit) for answer in answers]

    attack = Trilateration(scenario.starts[0].astype(np.float64))
    campaign = Campaign(HitOnly(), per_request=64)
    assert campaign.run(attack) == 129
    assert attack.estimate() is None
    assert attack.failure == "the answers carry no distance"


def test_quota_refusals_end_the_day_and_the_batch_is_sent_again() -> None:
    scenario = make_scenario(200, 1, seed=3, threshold=THRESHOLD)
    inner = ScoresOnOracle(scenario.ids, scenario.templates, threshold=THRESHOLD, max_candidates=3)
    days: list[int] = []

    class Quota:
        """Refuses past 100 probes a day, as the holder's quota does."""

        used = 0

        def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
            if self.used + len(templates) > 100:
                return Refused("RESOURCE_EXHAUSTED", "quota exceeded")
            self.used += len(templates)
            return inner.ask(templates)

    oracle = Quota()

    def next_day() -> None:
        days.append(oracle.used)
        oracle.used = 0

    campaign = Campaign(oracle, per_request=64, daily_probes=1000, days=5, next_day=next_day)
    attack = Trilateration(scenario.starts[0].astype(np.float64))
    campaign.run(attack)
    ledger = campaign.ledger
    assert attack.estimate() is not None
    assert ledger.refused_requests["RESOURCE_EXHAUSTED"] == 1
    assert ledger.per_day == [64 + 64, 64 + 1]  # the refused 64 again on the second day
    assert ledger.probes == 129 + ledger.refused_probes["RESOURCE_EXHAUSTED"]
    assert days == [64]


@pytest.mark.parametrize(
    ("changes", "option"),
    [
        ({"attack": "hillclimb"}, "--attack"),
        ({"victims": 0}, "--victims"),
        ({"days": 0}, "--days"),
        ({"watchlist": 1}, "--watchlist"),
        ({"budget": 0}, "--budget"),
    ],
)
def test_bad_options_are_named(changes: dict[str, object], option: str) -> None:
    settings: dict[str, object] = {"attack": "boundary", **changes}
    with pytest.raises(InvalidInput, match=option):
        AttackConfig(**settings)  # type: ignore[arg-type]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(evaluate)
    return app


def test_cli_baseline_report() -> None:
    result = CliRunner().invoke(
        _app(), ["--attack", "boundary", "--baseline", "--victims", "1", "--watchlist", "300"]
    )
    assert result.exit_code == 0, result.output
    assert "| oracle | previous behaviour (scores on), in process |" in result.output
    assert "| recovered | 1 / 1 (rank 1 and ‖v̂ - v‖ ≤ 0.06) |" in result.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--attack", "hillclimb"], "--attack"),
        (["--attack", "boundary", "--days", "0"], "--days"),
        (["--baseline"], "--baseline"),
        (["--attack", "boundary", "--output", "somewhere"], "--output"),
    ],
)
def test_cli_names_the_bad_option(args: list[str], option: str) -> None:
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code != 0
    assert option in result.output
