"""A small scenario under a blind step 1, in process: no template crosses in clear, the
encrypted probes and masked decisions are accounted as such, and the hits are those
of the same scenario under a plain step 1."""

from __future__ import annotations

from typing import Any

import pytest

from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.runner import run_scenario
from biometric_exchange.simulation.scenario import Scenario, parse_scenario


def _scenario(name: str, step1: dict[str, str]) -> Scenario:
    return parse_scenario(
        {
            "name": name,
            "seed": 2017,
            "days": 3,
            "threshold": 0.6,
            "population": {"migrants": 150, "lead_days": 10},
            "watchlist": {"prevalence": 0.08, "fillers": 50},
            "agreement": {"overrides": {"scope": {"population": "all"}, "step1": step1}},
            "step2": {"share": 1.0, "fields": ["nationality", "watchlist_category"]},
        },
        name,
    )


def _run(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = run_scenario(scenario, tmp_path_factory.mktemp(scenario.name))
    return compute_metrics(run.world, run.record)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {
        mode: _run(_scenario(f"step1-{mode}", {"mode": mode}), tmp_path_factory)
        for mode in ("plain", "blind")
    }


def _classes(metrics: dict[str, Any], step: str) -> set[str]:
    (found,) = [s for s in metrics["disclosure"]["steps"] if s["step"] == step]
    return {f["class"] for f in found["fields"]}


def test_no_template_crosses_in_clear_and_the_ciphertexts_are_accounted(
    runs: dict[str, dict[str, Any]],
) -> None:
    blind = runs["blind"]
    steps = {s["step"] for s in blind["disclosure"]["steps"]}
    assert "step 1 request" not in steps
    assert _classes(blind, "blind step 1 request") == {"none", "encrypted_biometric"}
    assert _classes(blind, "blind step 1 reply") == {"none", "masked_decisions"}
    assert "biometric" not in {
        f["class"] for s in blind["disclosure"]["steps"] for f in s["fields"]
    }
    assert blind["disclosure"]["unopened_envelopes"] == 0


def test_the_blind_run_finds_the_plain_runs_hits_and_step2_follows(
    runs: dict[str, dict[str, Any]],
) -> None:
    plain, blind = runs["plain"], runs["blind"]
    assert plain["disclosure"]["step1_replies"]["hits"] > 0
    assert blind["disclosure"]["step1_replies"] == plain["disclosure"]["step1_replies"]
    assert blind["disclosure"]["step2"] == plain["disclosure"]["step2"]
    assert plain["exchange"]["by_node"]["PAN"]["step2_requests_sent"] > 0
    for country in ("CHL", "PAN"):
        for key in ("probes_sent", "probes_with_hits", "step2_requests_sent"):
            assert (
                blind["exchange"]["by_node"][country][key]
                == plain["exchange"]["by_node"][country][key]
            )
