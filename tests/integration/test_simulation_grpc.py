"""One scenario, one seed, two modes: in-process and over real node processes (mTLS on
loopback) raise the same alerts, and the over-gRPC run writes its report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from biometric_exchange.simulation.detections import canonical_alerts
from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.runner import run_scenario
from biometric_exchange.simulation.scenario import parse_scenario
from biometric_exchange.simulation.study import run_study

pytestmark = pytest.mark.integration

SCENARIO = parse_scenario(
    {
        "name": "grpc-check",
        "seed": 41,
        "days": 8,
        "population": {"migrants": 900, "fraud_share": 0.05},
        "watchlist": {"prevalence": 0.05, "fillers": 50},
        "agreement": {"overrides": {"scope": {"population": "all"}}},
        "step2": {"share": 1.0, "fields": ["nationality", "watchlist_category"]},
        "surge": {
            "nationality": "NPL",
            "border_point": "PAN-DARIEN-LAJAS-BLANCAS",
            "start_day": 7,
            "extra_per_day": 20,
        },
    },
    "grpc-check",
)


def test_same_alerts_in_process_and_over_grpc(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    in_process = run_scenario(SCENARIO, tmp_path / "a", today=today)
    over_grpc = run_study(SCENARIO, tmp_path / "b", over_grpc=True)

    expected = canonical_alerts(in_process.record)
    assert canonical_alerts(over_grpc.run.record) == expected
    kinds = {kind for _node, kind, *_ in expected}
    assert {"WATCHLIST_HIT", "SUBJECT_ENCOUNTERED_BY_PARTNER", "IDENTITY_CONFLICT"} <= kinds
    assert "FLOW_SURGE" in kinds

    a = compute_metrics(in_process.world, in_process.record)
    b = over_grpc.metrics
    assert a["alerts"] == b["alerts"]
    assert a["surge"] == b["surge"]
    for part in ("step1_probes", "step1_replies", "step2"):
        assert a["disclosure"][part] == b["disclosure"][part]
    # The runner opens its own calls in both modes; the node processes' are not measured.
    steps_a = {s["step"]: s for s in a["disclosure"]["steps"]}
    steps_b = {s["step"]: s for s in b["disclosure"]["steps"]}
    assert not steps_b["step 1 request"]["measured"] and b["disclosure"]["sightings"] is None
    assert steps_a["step 1 request"]["about_people_not_listed"]["fields"]["personal"] == 0
    for step in ("step 2 request", "step 2 reply"):
        assert steps_a[step] == steps_b[step]
    assert b["disclosure"]["unopened_envelopes"] == 0
    # Each node process also runs its own surge monitor once as it starts (no data yet).
    assert b["disclosure"]["aggregates"]["exchanges"] >= a["disclosure"]["aggregates"]["exchanges"]
    assert b["run"]["mode"].startswith("over gRPC")
    for country in ("CHL", "PAN"):
        assert (
            a["exchange"]["by_node"][country]["probes_sent"]
            == (b["exchange"]["by_node"][country]["probes_sent"])
        )
    report = tmp_path / "b" / "report.md"
    assert "SYNTHETIC DATA ONLY" in report.read_text(encoding="utf-8")
    logs = sorted(p.name for p in (tmp_path / "b" / "nodes" / "logs").iterdir())
    assert logs == ["node_chile.log", "node_panama.log"]
