"""Metrics against a hand-built world whose every alert is known in advance.

Three travellers (synthetic):

* A (CHN) is on Panama's watchlist (arrest warrant); Chile meets A on day 0 and
  Panama on day 2;
* B (IND) commits identity fraud: Panama meets B on day 1 under one identity and
  on day 3 under another (PAK);
* C (VEN, a nationality of the Americas) is met by Panama on day 1.

Expected: Chile's partner hit and Panama's "subject encountered" on A's day-0
encounter; Panama's local hit on A's day-2 encounter; a movement at Chile
(A seen by Panama two days after Chile); an identity conflict at Panama on B;
nothing about C (out of the agreement's scope).
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
from biometric_exchange.simulation.runner import Run, run_world
from biometric_exchange.simulation.scenario import parse_scenario
from biometric_exchange.simulation.world import World
from biometric_exchange.synthetic.templates import TemplateModel
from tests.unit.hand_built import hand_built_people

DAYS = 5


def tiny_world(calendar: Calendar) -> World:
    scenario = parse_scenario(
        {
            "name": "tiny",
            "seed": 5,
            "days": DAYS,
            "population": {"migrants": 3, "fraud_share": 0.0},
            "watchlist": {"fillers": 0},
            "step2": {"share": 1.0, "fields": ["names", "watchlist_category"]},
        },
        "tiny",
    )
    people = hand_built_people(
        [
            {
                "given": "Wei",
                "family": "Synthetic",
                "sex": "M",
                "born": "1990-05-01",
                "nationality": "CHN",
                "document": "SYN-AAAA0001",
                "extra": True,
            },
            {
                "given": "Ravi",
                "family": "Synthetic",
                "sex": "M",
                "born": "1985-02-03",
                "nationality": "IND",
                "document": "SYN-BBBB0002",
                "extra": True,
            },
            {
                "given": "Luis",
                "family": "Synthetic",
                "sex": "M",
                "born": "1979-11-30",
                "nationality": "VEN",
                "document": "SYN-CCCC0003",
                "extra": False,
            },
        ]
    )
    aliases = hand_built_people(
        [
            {
                "given": "Imran",
                "family": "Alias",
                "sex": "M",
                "born": "1984-07-07",
                "nationality": "PAK",
                "document": "SYN-DDDD0004",
                "extra": True,
            }
        ]
    )
    model = TemplateModel()
    rng = np.random.default_rng(11)
    latents = model.latents(rng, 3)
    # face, country, point, day, alias
    met = [
        (0, "CHL", "CHL-CHACALLUTA", 0, False),
        (1, "PAN", "PAN-DARIEN-LAJAS-BLANCAS", 1, False),
        (2, "PAN", "PAN-DARIEN-LAJAS-BLANCAS", 1, False),
        (0, "PAN", "PAN-DARIEN-SAN-VICENTE", 2, False),
        (1, "PAN", "PAN-PASO-CANOAS", 3, True),
    ]
    faces = np.asarray([m[0] for m in met], dtype=np.int64)
    start = np.datetime64(calendar.start, "s")
    times = np.asarray([start + np.timedelta64(m[3] * 86_400 + 36_000, "s") for m in met])
    ids = [
        "CHL-ENC-00000001",
        "PAN-ENC-00000001",
        "PAN-ENC-00000002",
        "PAN-ENC-00000003",
        "PAN-ENC-00000004",
    ]
    captures = model.captures(latents[faces], rng, max_noise_factor=1.0)
    photo = model.captures(latents[[0]], rng, max_noise_factor=1.0)
    return World(
        scenario=scenario,
        calendar=calendar,
        people=people,
        aliases=aliases,
        fraud_faces=np.asarray([1], dtype=np.int64),
        travellers=3,
        surge_faces=np.zeros(0, dtype=np.int64),
        encounters=Encounters(
            encounter_id=np.asarray(ids),
            country=np.asarray([m[1] for m in met]),
            border_point=np.asarray([m[2] for m in met]),
            time=times.astype("M8[s]"),
            day=np.asarray([m[3] for m in met], dtype=np.int64),
            face=faces,
            alias=np.asarray([m[4] for m in met]),
            template=captures,
        ),
        listings=Listings(
            entry_id=np.asarray(["PAN-WL-0000001"]),
            owner=np.asarray(["PAN"]),
            face=np.asarray([0], dtype=np.int64),
            category=np.asarray([WatchlistCategory.ARREST_WARRANT.value]),
            valid_until=np.asarray(["NaT"], dtype="M8[D]"),
            template=photo,
        ),
        surge=None,
        latents=latents,
        noise=np.ones(3),
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    calendar = Calendar.ending_before(dt.datetime.now(dt.UTC).date(), DAYS)
    world = tiny_world(calendar)
    templates = world.encounters.template.astype(np.float64)
    same = [(0, 3), (1, 4)]
    for a, b in same:  # the planted pairs match at 0.6 and nothing else does
        assert np.linalg.norm(templates[a] - templates[b]) < 0.6
    assert np.linalg.norm(templates[0] - world.listings.template[0]) < 0.6
    assert np.linalg.norm(templates[2] - world.listings.template[0]) > 0.6
    return run_world(world, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def metrics(tiny_run: Run) -> dict[str, Any]:
    return compute_metrics(tiny_run.world, tiny_run.record)


def test_watchlist_hits_are_counted_exactly(metrics: dict[str, Any]) -> None:
    hit = metrics["alerts"]["WATCHLIST_HIT"]
    assert (hit["alerts"], hit["true_positives"], hit["false_positives"]) == (2, 2, 0)
    assert (hit["cases"], hit["caught"], hit["precision"], hit["recall"]) == (2, 2, 1.0, 1.0)
    assert hit["alerts_by_severity"] == {"critical": 2}
    held = metrics["alerts"]["SUBJECT_ENCOUNTERED_BY_PARTNER"]
    assert (held["alerts"], held["true_positives"], held["cases"], held["recall"]) == (1, 1, 1, 1.0)
    assert metrics["alerts"]["PROTECTION"]["alerts"] == 0


def test_fraud_and_movement_are_counted_exactly(metrics: dict[str, Any]) -> None:
    conflict = metrics["alerts"]["IDENTITY_CONFLICT"]
    assert (conflict["alerts"], conflict["true_positives"], conflict["false_positives"]) == (
        1,
        1,
        0,
    )
    assert (conflict["cases"], conflict["caught"], conflict["recall"]) == (1, 1, 1.0)
    movement = metrics["alerts"]["MOVEMENT"]
    assert (movement["alerts"], movement["true_positives"], movement["cases"]) == (1, 1, 1)
    assert metrics["alerts"]["FLOW_SURGE"]["alerts"] == 0
    assert metrics["workload"]["false_alerts"] == [0] * DAYS
    assert sum(metrics["workload"]["new_alerts"]) == 5


def test_searches_exchange_and_disclosure(metrics: dict[str, Any]) -> None:
    ident = metrics["identification"]
    # Local: A at CHL and PAN, B twice (C's nationality is out of the person rules).
    assert (ident["local"]["mated_searches"], ident["local"]["non_mated_searches"]) == (1, 3)
    # Step 1: A's CHL encounter to PAN (mated), A's PAN and B's two to CHL.
    assert (ident["step1"]["mated_searches"], ident["step1"]["non_mated_searches"]) == (1, 3)
    assert ident["all"]["fnir"] == 0.0 and ident["all"]["fpir"] == 0.0
    volume = metrics["exchange"]["by_node"]
    assert volume["CHL"]["probes_sent"] == 1 and volume["PAN"]["probes_sent"] == 3
    assert volume["PAN"]["not_sent_out_of_scope"] == 1
    assert volume["CHL"]["step2_requests_sent"] == 1
    disclosed = metrics["disclosure"]
    assert disclosed["step1_probes"]["probes"] == 4
    assert disclosed["step1_probes"]["people"] == 2
    assert disclosed["step1_probes"]["probes_about_people_on_no_watchlist_of_the_holder"] == 3
    assert disclosed["step1_replies"]["about_travellers_not_listed"] == 0
    (probes,) = [s for s in disclosed["steps"] if s["step"] == "step 1 request"]
    assert probes["about_people_not_listed"] == {
        "items": 3,
        "fields": {"biometric": 3, "personal": 0, "protected": 0, "watchlist": 0},
    }
    assert disclosed["sightings"] == {
        "sightings": 1,
        "after_a_hit": 1,
        "not_after_a_hit": 0,
        "about_false_matches": 0,
        "personal_fields_about_false_matches": 0,
    }
    step2 = disclosed["step2"]
    assert step2["requests_by_holder_decision"] == {"approved": 1}
    assert step2["fields_disclosed"] == {
        "family_name": 1,
        "given_name": 1,
        "watchlist_category": 1,
    }
    assert step2["disclosures_about_travellers_not_listed"] == 0


def test_alerts_name_the_plantedhand_built_people(tiny_run: Run) -> None:
    described = canonical_alerts(tiny_run.record)
    kinds = sorted((node, kind) for node, kind, *_ in described)
    assert kinds == [
        ("CHL", "MOVEMENT"),
        ("CHL", "WATCHLIST_HIT"),
        ("PAN", "IDENTITY_CONFLICT"),
        ("PAN", "SUBJECT_ENCOUNTERED_BY_PARTNER"),
        ("PAN", "WATCHLIST_HIT"),
    ]
    encounters = {e for *_, evidence in described for item in evidence for e in item[1]}
    assert "PAN-ENC-00000002" not in encounters  # C, out of scope, appears nowhere


def test_report_files(tiny_run: Run, metrics: dict[str, Any], tmp_path: Path) -> None:
    from biometric_exchange.simulation.report import write_report

    files = write_report(metrics, tmp_path)
    names = {f.name for f in files}
    assert names == {"report.md", "metrics.json", "sim-alerts.png", "sim-flow.png", "sim-det.png"}
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA ONLY" in report
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size < 150_000
    everything = report + (tmp_path / "metrics.json").read_text(encoding="utf-8")
    for secret in ("SYN-AAAA0001", "SYN-DDDD0004", "Wei", "Imran"):
        assert secret not in everything
