"""Scenario files: the shipped ones load; a bad one is one error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.simulation.scenario import load_scenario, parse_scenario, resolve
from biometric_exchange.simulation.topology import node_terms

SIMULATIONS = Path(__file__).resolve().parents[2] / "simulations"
MINIMAL = 'name = "tiny"\nseed = 1\ndays = 5\n[population]\nmigrants = 100\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name", ["darien_corridor", "surge", "identity_fraud", "threshold_sweep", "demo"]
)
def test_shipped_scenarios_load(name: str) -> None:
    scenario = load_scenario(SIMULATIONS / f"{name}.toml")
    assert scenario.name == name
    assert scenario.description.strip()
    assert scenario.terms()["scope"]["population"] in {"extra_regional", "all"}


def test_the_corridor_scenario_is_the_brief() -> None:
    scenario = load_scenario(SIMULATIONS / "darien_corridor.toml")
    assert (scenario.population.migrants, scenario.days) == (100_000, 30)
    surge = load_scenario(SIMULATIONS / "surge.toml").surge
    assert surge is not None and surge.start_day < 30
    sweep = load_scenario(SIMULATIONS / "threshold_sweep.toml").sweep
    assert sweep is not None and len(sweep.thresholds) > 1 and len(sweep.fillers) > 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL.replace("100", "0"), "population.migrants: Input should be greater"),
        (MINIMAL + "colour = 'red'\n", "colour: Extra inputs are not permitted"),
        (MINIMAL.replace("days = 5", "days = 500"), "days: Input should be less than"),
        (MINIMAL + "[watchlist]\nprevalence = 1.5\n", "watchlist.prevalence"),
        (
            MINIMAL + "[surge]\nnationality='NPL'\nborder_point='MEX-TAPACHULA'\n"
            "start_day=1\nextra_per_day=5\n",
            "surge.border_point: must be one of",
        ),
        (
            MINIMAL + "[surge]\nnationality='ZZZ'\nborder_point='PAN-PASO-CANOAS'\n"
            "start_day=1\nextra_per_day=5\n",
            "surge.nationality",
        ),
        (
            MINIMAL + "[surge]\nnationality='NPL'\nborder_point='PAN-PASO-CANOAS'\n"
            "start_day=5\nextra_per_day=5\n",
            "surge.start_day must be below days (5)",
        ),
        (MINIMAL + "[nodes]\ncountries = ['CHL', 'MEX']\n", "nodes.countries"),
        (
            MINIMAL + "[agreement.overrides]\nquotas = { probes_per_day = 0 }\n",
            "agreement.overrides: quotas.probes_per_day",
        ),
        (
            MINIMAL + "[agreement.overrides]\nscope = { population = 'everyone' }\n",
            "agreement.overrides: scope.population",
        ),
        (MINIMAL + "[agreement]\nterms = 'missing.toml'\n", "agreement.terms:"),
        ("name = 'x'\nseed = ", "not valid TOML"),
    ],
)
def test_a_bad_scenario_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidInput) as error:
        load_scenario(path)
    assert message in str(error.value)
    assert str(error.value).startswith(f"{path}: ")


def test_overrides_merge_into_the_terms_file() -> None:
    scenario = parse_scenario(
        {
            "name": "x",
            "seed": 1,
            "days": 7,
            "population": {"migrants": 10},
            "agreement": {
                "overrides": {"scope": {"minimum_age": 18}, "quotas": {"probes_per_day": 50}}
            },
        },
        "x",
    )
    terms = scenario.terms()
    assert terms["scope"] == {"population": "extra_regional", "minimum_age": 18}
    assert terms["step1"]["max_probes_per_request"] == 64  # untouched by the overrides
    signed = node_terms(scenario)
    assert signed["quotas"]["probes_per_day"] == 50 * 7
    assert signed["quotas"]["detail_requests_per_day"] == 500 * 7


def test_names_resolve_in_the_simulations_folder(tmp_path: Path) -> None:
    assert resolve("surge", SIMULATIONS) == SIMULATIONS / "surge.toml"
    own = _write(tmp_path, MINIMAL)
    assert resolve(str(own), SIMULATIONS) == own
    with pytest.raises(InvalidInput, match=r"scenario 'nowhere': no such file .*darien_corridor"):
        resolve("nowhere", SIMULATIONS)
