"""Disclosure accounting from what crossed: an in-process run of a small scenario whose
threshold is loose enough for false matches, read from its metrics and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.report import write_report
from biometric_exchange.simulation.runner import run_scenario
from biometric_exchange.simulation.scenario import parse_scenario
from biometric_exchange.v1 import exchange_pb2 as pb

SCENARIO = parse_scenario(
    {
        "name": "disclosure-check",
        "seed": 41,
        "days": 8,
        "threshold": 0.66,
        "population": {"migrants": 1200, "fraud_share": 0.05},
        "watchlist": {"prevalence": 0.05, "fillers": 1000},
        "agreement": {"overrides": {"scope": {"population": "all"}}},
        "step2": {"share": 1.0, "fields": ["nationality", "watchlist_category"]},
    },
    "disclosure-check",
)


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    run = run_scenario(SCENARIO, tmp_path_factory.mktemp("disclosure"))
    return compute_metrics(run.world, run.record)


def _step(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    (step,) = [s for s in metrics["disclosure"]["steps"] if s["step"] == name]
    return step


def _times(step: dict[str, Any]) -> dict[str, int]:
    return {f["path"]: f["times"] for f in step["fields"]}


def test_step1_carries_nothing_personal_about_people_not_listed(metrics: dict[str, Any]) -> None:
    disclosure = metrics["disclosure"]
    assert disclosure["unopened_envelopes"] == 0
    probes = _step(metrics, "step 1 request")
    about = probes["about_people_not_listed"]
    not_listed = disclosure["step1_probes"]["probes_about_people_on_no_watchlist_of_the_holder"]
    assert about["items"] == not_listed > 0
    assert about["fields"] == {
        "biometric": not_listed,
        "personal": 0,
        "protected": 0,
        "watchlist": 0,
    }
    sent = sum(node["probes_sent"] for node in metrics["exchange"]["by_node"].values())
    assert _times(probes)["IdentifyRequest.probes.template"] == sent
    assert disclosure["step1_probes"]["probes"] == sent
    classes = {f["class"] for f in probes["fields"]}
    assert classes == {"none", "biometric"}


def test_step1_request_fields_are_the_probe_fields_that_were_set(metrics: dict[str, Any]) -> None:
    crossed = [
        f["path"].removeprefix("IdentifyRequest.probes.")
        for f in _step(metrics, "step 1 request")["fields"]
        if f["path"].startswith("IdentifyRequest.probes.")
    ]
    assert crossed == [field.name for field in pb.Probe.DESCRIPTOR.fields]


def test_sightings_follow_hits_only(metrics: dict[str, Any]) -> None:
    disclosure = metrics["disclosure"]
    sightings, hits = disclosure["sightings"], disclosure["step1_replies"]
    assert sightings["sightings"] == sightings["after_a_hit"] == hits["hits"] > 0
    assert sightings["not_after_a_hit"] == 0
    assert set(_times(_step(metrics, "sightings request"))) == {
        "SightingsRequest.sightings.hit_reference",
        "SightingsRequest.sightings.encounter_point",
        "SightingsRequest.sightings.encountered_at_ms",
    }
    # A sighting about a false match is a personal disclosure about someone not listed.
    assert sightings["about_false_matches"] == hits["about_travellers_not_listed"] > 0
    assert sightings["personal_fields_about_false_matches"] == 2 * sightings["about_false_matches"]


def test_what_crossed_agrees_with_the_stores(metrics: dict[str, Any]) -> None:
    disclosure = metrics["disclosure"]
    replies = _step(metrics, "step 1 reply")
    assert (
        _times(replies)["IdentifyResponse.results.hits.category"]
        == (disclosure["step1_replies"]["categories_disclosed"])
    )
    assert (
        replies["about_people_not_listed"]["fields"]["watchlist"]
        == (disclosure["step1_replies"]["about_travellers_not_listed"])
    )
    step2 = disclosure["step2"]
    details = _step(metrics, "step 2 reply")
    assert _times(details)["DetailsResponse.fields"] == sum(step2["fields_disclosed"].values())
    assert (
        details["about_people_not_listed"]["items"]
        == (step2["disclosures_about_travellers_not_listed"])
    )
    assert disclosure["aggregates"]["classes_crossed"] == ["none"]
    link = metrics["links"]["PAN>CHL"]["crossed"]
    assert link["all_calls_measured"]
    assert link["about_people_not_listed"]["protected"] == 0


def test_the_report_lists_what_crossed(metrics: dict[str, Any], tmp_path: Path) -> None:
    write_report(metrics, tmp_path)
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    section = report[report.index("## Disclosure accounting") :]
    rows = [line for line in section.splitlines() if line.startswith("| step 1 request |")]
    paths = [row.split(" | ")[1] for row in rows]
    assert "IdentifyRequest.probes.template" in paths
    assert not any("nationality" in p or "age" in p or "border" in p for p in paths)
    assert "**0** personal and **0** protected fields" in section
