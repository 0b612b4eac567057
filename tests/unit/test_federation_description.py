"""The federation description: members of the RCM or the SACM, a baseline of terms with
bilateral overrides, pairs without terms; and the folders generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from biometric_exchange.agreement import load
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.federation import RCM, SACM, conference_of, parse_federation
from biometric_exchange.federation.generate import choose_topology
from biometric_exchange.node.membership import load_membership
from biometric_exchange.node.runtime import Node
from biometric_exchange.router.config import load_router_config
from biometric_exchange.simulation.biregional.scenario import load_bi_regional
from biometric_exchange.workspace import agreement_path
from tests.routing import SMALL, small_federation

SCENARIO = Path(__file__).resolve().parents[2] / "simulations" / "bi_regional.toml"


def test_the_conferences_members() -> None:
    assert len(RCM) == 11 and len(SACM) == 12 and not RCM & SACM
    assert conference_of("PAN") == "RCM" and conference_of("CHL") == "SACM"
    with pytest.raises(ValueError, match="FRA is a member of neither"):
        conference_of("FRA")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"members": ["PAN", "FRA"]}, "test: members: FRA is a member of neither"),
        ({"members": ["PAN", "PAN"]}, "test: members: each member at most once"),
        ({"members": ["PAN", "ZZZ"]}, "test: members: "),
        ({"without_terms": ["PAN-CHL"]}, "without_terms.PAN-CHL: 'PAN-CHL': name a pair"),
        (
            {"without_terms": ["PAN-COL", "COL-PAN"]},
            "without_terms.COL-PAN: the pair is named twice",
        ),
        ({"pairs": {"PAN": {}}}, "pairs.PAN: 'PAN': name a pair"),
        ({"router": {"calls_per_member_per_day": 0}}, "test: router.calls_per_member_per_day: "),
        ({"colour": "red"}, "test: colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_description_names_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_federation({**SMALL, **change}, "test")
    assert message in str(raised.value)


def test_pairs_baseline_and_overrides() -> None:
    federation = parse_federation(
        {
            **SMALL,
            "baseline": {"overrides": {"retention": {"exchanged_data_days": 60}}},
            "pairs": {
                "MEX-PAN": {"terms": "panama_mexico"},
                "CRI-HND": {"overrides": {"step1": {"disclosure": "hit_only"}}},
            },
        },
        "test",
    )
    assert len(federation.all_pairs()) == 10
    assert ("COL", "MEX") not in federation.agreed_pairs()
    assert len(federation.agreed_pairs()) == 9
    assert federation.terms("PAN", "CRI")["step1"]["disclosure"] == "hit_and_category"
    assert federation.terms("HND", "CRI")["step1"]["disclosure"] == "hit_only"
    assert "border_security" not in federation.terms("PAN", "MEX")["purposes"]
    for pair in (("PAN", "CRI"), ("PAN", "MEX")):
        assert federation.terms(*pair)["retention"]["exchanged_data_days"] == 60


def test_the_shipped_scenario_has_twenty_members_of_both_conferences() -> None:
    scenario, federation = load_bi_regional(SCENARIO)
    conferences = [conference_of(code) for code in federation.members]
    assert len(federation.members) == 20
    assert conferences.count("RCM") == conferences.count("SACM") == 10
    assert len(federation.agreed_pairs()) == 190 - len(federation.without_terms)
    assert set(scenario.grpc_subset) <= set(federation.members)


def test_generated_folders_agreements_and_router(tmp_path: Path) -> None:
    folders = small_federation(tmp_path)
    assert len(folders.pairs) == 9
    pan = Node.open(folders.nodes["PAN"])
    col = Node.open(folders.nodes["COL"])
    try:
        assert pan.partner_codes == ["COL", "CRI", "HND", "MEX"]
        assert "MEX" not in col.partner_codes
        document = load(agreement_path(folders.nodes["PAN"], "MEX"))
        assert document.agreement.step1.disclosure.value == "hit_only"
        assert set(document.signatures) == {"PAN", "MEX"}
    finally:
        pan.database.close()
        col.database.close()
    config = load_router_config(folders.router)
    assert set(config.members) == set(SMALL["members"])
    assert not config.has_terms("MEX", "COL") and config.has_terms("COL", "PAN")
    keys = sorted(p.name for p in (folders.router / "keys").iterdir())
    assert keys == ["ca.crt", "ca.key", "tls.crt", "tls.key"], "no envelope key"
    assert (folders.router / "keys" / "tls.key").stat().st_mode & 0o077 == 0


def test_the_topology_is_the_members_choice_of_route(tmp_path: Path) -> None:
    folders = small_federation(tmp_path)
    assert not any(load_membership(p).route for p in folders.nodes.values())  # type: ignore[union-attr]
    choose_topology(folders, "router")
    assert all(load_membership(p).route for p in folders.nodes.values())  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="neither mesh nor router"):
        choose_topology(folders, "star")
