"""Three nodes (Chile, Panama, Mexico) against a hand-built world whose every alert is known.

Three travellers (synthetic), all met first by Panama:

* A (CHN, adult) is on Mexico's watchlist (arrest warrant); Panama meets A on day 0
  and Mexico on day 3;
* M (CHN, 15, accompanied) is on Mexico's watchlist as a missing person; Panama meets
  M on day 0;
* C (VEN, a nationality of the Americas) is met by Panama on day 1.

Expected, each link under its own agreement: Panama's WATCHLIST_HIT naming MEX and no
category (Panama-Mexico discloses the hit only) and Mexico's
SUBJECT_ENCOUNTERED_BY_PARTNER on A's day-0 encounter; Mexico's own hit on A's day-3
encounter; a movement at Panama (A seen by Mexico three days later); M sent to Chile
but not to Mexico (younger than 18); C sent to nobody.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from biometric_exchange.domain import WatchlistCategory
from biometric_exchange.simulation.detections import canonical_alerts
from biometric_exchange.simulation.draws import Calendar
from biometric_exchange.simulation.flow import Encounters
from biometric_exchange.simulation.listings import Listings
from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.report import write_report
from biometric_exchange.simulation.runner import Run, run_world
from biometric_exchange.simulation.scenario import parse_scenario
from biometric_exchange.simulation.world import World
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic.templates import TemplateModel
from tests.unit.hand_built import hand_built_people

DAYS = 5
A_AT_PANAMA, M_AT_PANAMA, C_AT_PANAMA = "PAN-ENC-00000001", "PAN-ENC-00000002", "PAN-ENC-00000003"
A_AT_MEXICO = "MEX-ENC-00000001"
A_ENTRY, M_ENTRY = "MEX-WL-0000001", "MEX-WL-0000002"


def three_node_world(calendar: Calendar) -> World:
    scenario = parse_scenario(
        {
            "name": "three",
            "seed": 6,
            "days": DAYS,
            "population": {"migrants": 3, "fraud_share": 0.0},
            "watchlist": {"fillers": 0},
            "nodes": {"countries": ["PAN", "MEX", "CHL"]},
            "step2": {"share": 1.0, "fields": ["names"]},
        },
        "three",
    )
    minor_born = calendar.start - dt.timedelta(days=15 * 365)
    people = hand_built_people(
        [
            {
                "given": "Lin",
                "family": "Synthetic",
                "sex": "F",
                "born": "1988-04-02",
                "nationality": "CHN",
                "document": "SYN-MMMM0001",
                "minor": False,
                "extra": True,
            },
            {
                "given": "Bo",
                "family": "Synthetic",
                "sex": "M",
                "born": minor_born.isoformat(),
                "nationality": "CHN",
                "document": "SYN-MMMM0002",
                "minor": True,
                "extra": True,
            },
            {
                "given": "Ana",
                "family": "Synthetic",
                "sex": "F",
                "born": "1982-09-12",
                "nationality": "VEN",
                "document": "SYN-MMMM0003",
                "minor": False,
                "extra": False,
            },
        ]
    )
    model = TemplateModel()
    rng = np.random.default_rng(12)
    latents = model.latents(rng, 3)
    # face, country, point, day
    met = [
        (0, "PAN", "PAN-DARIEN-LAJAS-BLANCAS", 0),
        (1, "PAN", "PAN-DARIEN-LAJAS-BLANCAS", 0),
        (2, "PAN", "PAN-DARIEN-SAN-VICENTE", 1),
        (0, "MEX", "MEX-TAPACHULA", 3),
    ]
    faces = np.asarray([m[0] for m in met], dtype=np.int64)
    start = np.datetime64(calendar.start, "s")
    times = [start + np.timedelta64(m[3] * 86_400 + 30_000 + k, "s") for k, m in enumerate(met)]
    return World(
        scenario=scenario,
        calendar=calendar,
        people=people,
        aliases=hand_built_people([]),
        fraud_faces=np.zeros(0, dtype=np.int64),
        travellers=3,
        surge_faces=np.zeros(0, dtype=np.int64),
        encounters=Encounters(
            encounter_id=np.asarray([A_AT_PANAMA, M_AT_PANAMA, C_AT_PANAMA, A_AT_MEXICO]),
            country=np.asarray([m[1] for m in met]),
            border_point=np.asarray([m[2] for m in met]),
            time=np.asarray(times).astype("M8[s]"),
            day=np.asarray([m[3] for m in met], dtype=np.int64),
            face=faces,
            alias=np.zeros(len(met), dtype=np.bool_),
            template=model.captures(latents[faces], rng, max_noise_factor=1.0),
        ),
        listings=Listings(
            entry_id=np.asarray([A_ENTRY, M_ENTRY]),
            owner=np.asarray(["MEX", "MEX"]),
            face=np.asarray([0, 1], dtype=np.int64),
            category=np.asarray(
                [WatchlistCategory.ARREST_WARRANT.value, WatchlistCategory.MISSING_PERSON.value]
            ),
            valid_until=np.asarray(["NaT", "NaT"], dtype="M8[D]"),
            template=model.captures(latents[[0, 1]], rng, max_noise_factor=1.0),
        ),
        surge=None,
        latents=latents,
        noise=np.ones(3),
    )


@pytest.fixture(scope="module")
def three_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    calendar = Calendar.ending_before(dt.datetime.now(dt.UTC).date(), DAYS)
    world = three_node_world(calendar)
    captures = world.encounters.template.astype(np.float64)
    photos = world.listings.template.astype(np.float64)
    # The planted pairs match at 0.6 and nothing else does.
    assert np.linalg.norm(captures[0] - captures[3]) < 0.6
    assert np.linalg.norm(captures[0] - photos[0]) < 0.6
    assert np.linalg.norm(captures[1] - photos[1]) < 0.6
    assert np.linalg.norm(captures[2] - photos).min() > 0.6
    return run_world(world, tmp_path_factory.mktemp("three"))


@pytest.fixture(scope="module")
def metrics(three_run: Run) -> dict[str, Any]:
    return compute_metrics(three_run.world, three_run.record)


def test_the_nodes_run_south_to_north(three_run: Run) -> None:
    assert three_run.world.scenario.nodes.countries == ("CHL", "PAN", "MEX")
    assert set(three_run.record.nodes) == {"CHL", "PAN", "MEX"}


def test_each_link_raises_what_its_agreement_allows(three_run: Run) -> None:
    described = canonical_alerts(three_run.record)
    alerts = sorted((node, kind, partner) for node, kind, _sev, _queue, partner, _ in described)
    assert alerts == [
        ("MEX", "SUBJECT_ENCOUNTERED_BY_PARTNER", "PAN"),
        ("MEX", "WATCHLIST_HIT", None),
        ("PAN", "MOVEMENT", "MEX"),
        ("PAN", "WATCHLIST_HIT", "MEX"),
    ]
    pan_hit = next(
        a for a in three_run.record.nodes["PAN"].alerts if a.kind.value == "WATCHLIST_HIT"
    )
    assert (pan_hit.partner, pan_hit.encounter_id) == ("MEX", A_AT_PANAMA)
    assert pan_hit.category is None, "Panama-Mexico discloses the hit only"
    held = next(a for a in three_run.record.nodes["MEX"].alerts if a.partner == "PAN")
    assert (held.watchlist_entry_id, held.category) == (A_ENTRY, "arrest_warrant")
    assert not three_run.record.nodes["CHL"].alerts
    mentioned = {e for *_, evidence in described for item in evidence for e in item[1]}
    assert mentioned == {A_AT_PANAMA, A_AT_MEXICO}  # neither M nor C


def test_a_minor_goes_to_chile_but_not_to_mexico(three_run: Run) -> None:
    panama = three_run.record.nodes["PAN"]
    assert panama.outbox[(M_AT_PANAMA, "CHL")] == OutboxState.DONE.value
    assert panama.outbox[(M_AT_PANAMA, "MEX")] == OutboxState.OUT_OF_SCOPE.value
    assert panama.not_sent[(M_AT_PANAMA, "MEX")] == "out of scope: younger than 18"
    assert panama.not_sent[(C_AT_PANAMA, "CHL")] == "out of scope: nationality within the Americas"
    received = [
        (e.peer, e.detail["purpose"], e.detail["probes"])
        for e in three_run.record.nodes["MEX"].audit
        if e.event == "identify.received" and e.outcome == "accepted"
    ]
    assert received == [("PAN", "anti_trafficking", 1)]  # A alone


def test_metrics_per_kind_judge_each_case_under_its_link(metrics: dict[str, Any]) -> None:
    hit = metrics["alerts"]["WATCHLIST_HIT"]
    assert (hit["alerts"], hit["true_positives"], hit["false_positives"]) == (2, 2, 0)
    assert (hit["cases"], hit["caught"], hit["eligible_cases"], hit["recall_eligible"]) == (
        3,
        2,
        2,
        1.0,
    )
    assert hit["missed_by_reason"] == {"out of scope (younger than 18)": 1}
    held = metrics["alerts"]["SUBJECT_ENCOUNTERED_BY_PARTNER"]
    assert (held["alerts"], held["true_positives"], held["cases"], held["caught"]) == (1, 1, 1, 1)
    protection = metrics["alerts"]["PROTECTION"]  # M's entry, seen from Mexico's side
    assert (protection["alerts"], protection["cases"], protection["eligible_cases"]) == (0, 1, 0)
    movement = metrics["alerts"]["MOVEMENT"]
    assert (movement["alerts"], movement["true_positives"], movement["recall"]) == (1, 1, 1.0)
    assert metrics["workload"]["false_alerts"] == [0] * DAYS


def test_links_show_what_each_agreement_let_through(metrics: dict[str, Any]) -> None:
    links = metrics["links"]
    assert set(links) == {"CHL>PAN", "CHL>MEX", "PAN>CHL", "PAN>MEX", "MEX>CHL", "MEX>PAN"}
    to_mexico = links["PAN>MEX"]
    assert to_mexico["agreement"] == {
        "terms": "shipped panama_mexico",
        "purpose": "anti_trafficking",
        "population": "extra_regional",
        "minimum_age": 18,
        "disclosure": "hit_only",
        "daily_probe_quota": 2000,
    }
    assert (to_mexico["probes_sent"], to_mexico["hits"], to_mexico["categories_disclosed"]) == (
        1,
        1,
        0,
    )
    assert to_mexico["not_sent_by_reason"] == {
        "nationality within the Americas": 1,
        "younger than 18": 1,
    }
    cases = to_mexico["cases"]["requester"]
    assert (cases["cases"], cases["caught"], cases["eligible_cases"], cases["recall_eligible"]) == (
        2,
        1,
        1,
        1.0,
    )
    assert cases["missed_by_reason"] == {"out of scope (younger than 18)": 1}
    assert to_mexico["step2"]["requests_by_outcome"] == {"approved": 1}
    assert to_mexico["step2"]["fields_disclosed"] == {"family_name": 1, "given_name": 1}

    to_chile = links["PAN>CHL"]
    assert to_chile["agreement"]["purpose"] == "border_security"
    assert (to_chile["probes_sent"], to_chile["hits"]) == (2, 0)  # A and the minor M
    assert to_chile["not_sent_by_reason"] == {"nationality within the Americas": 1}
    assert to_chile["cases"]["requester"]["cases"] == 0
    back = links["MEX>PAN"]
    assert back["probes_sent"] == 1
    assert (back["cases"]["movement"]["cases"], back["cases"]["movement"]["caught"]) == (1, 1)
    assert links["MEX>CHL"]["agreement"]["terms"] == "shipped chile_mexico"
    assert metrics["exchange"]["by_node"]["PAN"]["probes_sent"] == 3


def test_the_report_shows_every_link(metrics: dict[str, Any], tmp_path: Path) -> None:
    write_report(metrics, tmp_path)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Each link under its own agreement" in report
    row = next(line for line in report.splitlines() if line.startswith("| PAN → MEX | shipped"))
    assert "not sent (younger than 18): 1" in row
    assert "hit_only" in row and "anti_trafficking" in row
    assert "all 3 nodes" in report
    everything = report + (tmp_path / "metrics.json").read_text(encoding="utf-8")
    for secret in ("SYN-MMMM0001", "SYN-MMMM0002", "Lin", "Bo "):
        assert secret not in everything
