"""Mexico as an optional third node: scenario validation, per-pair terms, the drawn world
(Chile and Panama's parts unchanged by Mexico's presence) and the node folders."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.simulation.draws import Calendar, Draw
from biometric_exchange.simulation.flow import corridor_journeys
from biometric_exchange.simulation.scenario import Scenario, load_scenario, parse_scenario
from biometric_exchange.simulation.topology import create_folders, node_terms
from biometric_exchange.simulation.world import World, draw_world
from biometric_exchange.synthetic.corridor import MEX_POINT, MEX_RECORDED, mexico_encounters

SIMULATIONS = Path(__file__).resolve().parents[2] / "simulations"
CALENDAR = Calendar(dt.date(2026, 4, 1), 20)
BASE = 'name = "tiny"\nseed = 1\ndays = 5\n[population]\nmigrants = 100\n'
THREE = BASE + '[nodes]\ncountries = ["CHL", "PAN", "MEX"]\n'


def _scenario(**changes: object) -> Scenario:
    raw: dict[str, object] = {
        "name": "three-world",
        "seed": 9,
        "days": 20,
        "population": {"migrants": 4000, "lead_days": 60, "fraud_share": 0.05},
        "watchlist": {"prevalence": 0.05, "fillers": 80},
        "surge": {
            "nationality": "NPL",
            "border_point": "PAN-DARIEN-LAJAS-BLANCAS",
            "start_day": 10,
            "extra_per_day": 10,
        },
    }
    raw.update(changes)
    return parse_scenario(raw, "three-world")


@pytest.fixture(scope="module")
def worlds() -> tuple[World, World]:
    two = draw_world(_scenario(), CALENDAR)
    three = draw_world(_scenario(nodes={"countries": ["MEX", "CHL", "PAN"]}), CALENDAR)
    return two, three


def test_mexico_leaves_chile_and_panama_as_they_were(worlds: tuple[World, World]) -> None:
    two, three = worlds
    assert three.scenario.nodes.countries == ("CHL", "PAN", "MEX")
    e2, e3 = two.encounters, three.encounters
    others = e3.country != "MEX"
    for name in ("encounter_id", "country", "border_point", "time", "day", "face", "alias"):
        assert np.array_equal(getattr(e2, name), getattr(e3, name)[others]), name
    assert np.array_equal(e2.template, e3.template[others])
    l2, l3 = two.listings, three.listings
    kept = l3.owner != "MEX"
    for name in ("entry_id", "owner", "face", "category", "template"):
        assert np.array_equal(getattr(l2, name), getattr(l3, name)[kept]), name
    assert np.array_equal(l2.valid_until.astype(np.int64), l3.valid_until[kept].astype(np.int64))
    assert np.array_equal(two.latents, three.latents[: len(two.latents)])
    assert np.array_equal(
        two.people.document_number, three.people.document_number[: len(two.people)]
    )


def test_mexico_meets_travellers_at_tapachula_after_panama(worlds: tuple[World, World]) -> None:
    _, world = worlds
    e = world.encounters
    mexico = e.country == "MEX"
    assert mexico.sum() > 100
    assert set(e.border_point[mexico]) == {MEX_POINT}
    assert list(e.encounter_id[mexico]) == [f"MEX-ENC-{k:08d}" for k in range(1, mexico.sum() + 1)]
    assert np.all(np.diff(e.time.astype(np.int64)) >= 0)
    assert not np.isin(e.face[mexico], world.surge_faces).any()
    for row in np.flatnonzero(mexico)[:200].tolist():
        at_panama = (e.face == e.face[row]) & (e.country == "PAN")
        assert np.all(e.time[at_panama] < e.time[row])
    fraud = np.isin(e.face[mexico], world.fraud_faces)
    assert np.array_equal(e.alias[mexico], fraud) and fraud.any()


def test_mexico_has_its_own_watchlist_and_fillers(worlds: tuple[World, World]) -> None:
    _, world = worlds
    listings = world.listings
    mexico = listings.owner == "MEX"
    assert listings.entry_id[mexico][0] == "MEX-WL-0000001"
    moving = world.travellers + world.surge_faces.size
    fillers = listings.face[mexico & (listings.face >= moving)]
    assert np.array_equal(fillers, np.arange(moving + 2 * 80, moving + 3 * 80))  # after CHL, PAN
    assert world.watchlist("MEX")[0].provenance.synthetic
    travellers = listings.face[mexico & (listings.face < world.travellers)]
    chile = listings.face[(listings.owner == "CHL") & (listings.face < world.travellers)]
    assert travellers.size > 50 and not np.array_equal(travellers, chile)


def test_mexico_records_its_share_of_the_journeys_reaching_it() -> None:
    draw = Draw(3, CALENDAR)
    n = 20_000
    people = draw.people("people", n)
    fraud = np.zeros(n, dtype=np.bool_)
    journeys = corridor_journeys(draw, people, fraud, lead_days=30)
    reaching = sum(MEX_POINT in stops for stops in journeys.points)
    met = mexico_encounters(np.random.default_rng(4), journeys, fraud)
    assert reaching > n / 2
    assert abs(len(met) / reaching - MEX_RECORDED) < 0.02
    assert not met.alias.any()


def test_three_nodes_in_any_order_and_pairs_with_their_shipped_terms(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(BASE + '[nodes]\ncountries = ["MEX", "PAN", "CHL"]\n', encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.nodes.countries == ("CHL", "PAN", "MEX")
    assert scenario.pairs() == [("CHL", "PAN"), ("CHL", "MEX"), ("PAN", "MEX")]
    pan_mex = scenario.terms("MEX", "PAN")
    assert pan_mex["scope"]["minimum_age"] == 18
    assert "border_security" not in pan_mex["purposes"]
    assert scenario.terms("CHL", "MEX")["quotas"]["probes_per_day"] == 5000
    assert node_terms(scenario, "PAN", "MEX")["quotas"]["probes_per_day"] == 2000 * 5
    assert node_terms(scenario)["quotas"]["probes_per_day"] == 10_000 * 5


def test_a_pair_may_name_its_terms_and_overrides(tmp_path: Path) -> None:
    terms = tmp_path / "pm.toml"
    terms.write_text(
        (SIMULATIONS.parent / "src/biometric_exchange/agreement/panama_mexico.toml")
        .read_text(encoding="utf-8")
        .replace("minimum_age = 18", "minimum_age = 16"),
        encoding="utf-8",
    )
    path = tmp_path / "s.toml"
    path.write_text(
        THREE
        + '[agreements."MEX-PAN"]\nterms = "pm.toml"\n'
        + "overrides = { quotas = { probes_per_day = 7 } }\n"
        + '[agreements."CHL-MEX"]\nterms = "chile_panama"\n',
        encoding="utf-8",
    )
    scenario = load_scenario(path)
    assert set(scenario.agreements) == {"PAN-MEX", "CHL-MEX"}
    assert scenario.terms("PAN", "MEX")["scope"]["minimum_age"] == 16
    assert scenario.terms("PAN", "MEX")["quotas"]["probes_per_day"] == 7
    assert "anti_smuggling" in scenario.terms("CHL", "MEX")["purposes"]  # Chile-Panama's


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + "[nodes]\ncountries = ['PAN', 'MEX']\n", "nodes.countries: the corridor model"),
        (BASE + "[nodes]\ncountries = ['CHL', 'PAN', 'PAN']\n", "nodes.countries: each country"),
        (BASE + "[nodes]\ncountries = ['CHL', 'PAN', 'COL']\n", "nodes.countries"),
        (BASE + '[agreements."PAN-MEX"]\nterms = "panama_mexico"\n', "agreements.PAN-MEX: MEX is"),
        (THREE + '[agreements."CHL-PAN"]\nterms = "chile_panama"\n', "[agreement]'s"),
        (THREE + '[agreements."PAN+MEX"]\n', "name a pair as two of CHL, PAN, MEX"),
        (
            THREE + '[agreements."PAN-MEX"]\n[agreements."MEX-PAN"]\n',
            "PAN-MEX is named twice",
        ),
        (THREE + '[agreements."PAN-MEX"]\nterms = "nowhere.toml"\n', "agreements.PAN-MEX.terms:"),
        (
            THREE + '[agreements."PAN-MEX".overrides]\nscope = { minimum_age = -1 }\n',
            "agreements.PAN-MEX.overrides: scope.minimum_age",
        ),
        (THREE + '[agreements."PAN-MEX"]\ncolour = "red"\n', "colour: Extra inputs"),
    ],
)
def test_a_bad_three_node_scenario_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as error:
        load_scenario(path)
    assert message in str(error.value)
    assert str(error.value).startswith(f"{path}: ")


def test_the_shipped_three_node_scenario() -> None:
    scenario = load_scenario(SIMULATIONS / "corridor_three.toml")
    assert scenario.nodes.countries == ("CHL", "PAN", "MEX")
    assert (scenario.population.migrants, scenario.days) == (50_000, 30)
    assert scenario.description.strip()


def test_node_folders_state_a_purpose_each_agreement_allows(tmp_path: Path) -> None:
    scenario = parse_scenario(
        {
            "name": "folders",
            "seed": 1,
            "days": 3,
            "population": {"migrants": 10},
            "nodes": {"countries": ["CHL", "PAN", "MEX"]},
        },
        "folders",
    )
    folders = create_folders(scenario, tmp_path)
    stated = {}
    for country, folder in folders.items():
        config = tomllib.loads((folder / CONFIG_FILENAME).read_text(encoding="utf-8"))
        stated[country] = config.get("exchange", {}).get("partner_purposes", {})
    assert stated == {
        "CHL": {},
        "PAN": {"MEX": "anti_trafficking"},
        "MEX": {"PAN": "anti_trafficking"},
    }
    panama = Node.open(folders["PAN"])
    try:
        assert panama.partner_codes == ["CHL", "MEX"]
        quotas = panama.link("MEX").agreement.agreement.quotas
        assert quotas.probes_per_day == 2000 * 3
        assert panama.link("MEX").agreement.agreement.scope.minimum_age == 18
    finally:
        panama.database.close()
