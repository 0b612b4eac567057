"""Three nodes (Chile, Panama, Mexico), one seed, two modes: in-process and over three real
node processes (mTLS on loopback, each pair under its own agreement) raise the same
alerts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from biometric_exchange.simulation.detections import canonical_alerts
from biometric_exchange.simulation.metrics import compute_metrics
from biometric_exchange.simulation.runner import run_scenario
from biometric_exchange.simulation.scenario import parse_scenario

pytestmark = pytest.mark.integration

EVERYONE = {"overrides": {"scope": {"population": "all"}}}
SCENARIO = parse_scenario(
    {
        "name": "three-grpc-check",
        "seed": 43,
        "days": 5,
        "population": {"migrants": 1000, "lead_days": 60, "fraud_share": 0.05},
        "watchlist": {"prevalence": 0.06, "fillers": 30},
        "nodes": {"countries": ["CHL", "PAN", "MEX"]},
        # Every nationality in scope on every link (Panama-Mexico stays adults only), so
        # that a small flow exchanges on every link.
        "agreement": EVERYONE,
        "agreements": {"PAN-MEX": EVERYONE, "CHL-MEX": EVERYONE},
        "step2": {"share": 1.0, "fields": ["names", "nationality"]},
    },
    "three-grpc-check",
)


def test_same_alerts_in_process_and_over_grpc_with_three_nodes(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    in_process = run_scenario(SCENARIO, tmp_path / "a", today=today)
    over_grpc = run_scenario(SCENARIO, tmp_path / "b", today=today, over_grpc=True)

    expected = canonical_alerts(in_process.record)
    assert canonical_alerts(over_grpc.record) == expected
    links = {(node, kind, partner) for node, kind, _s, _q, partner, _e in expected}
    assert {("PAN", "WATCHLIST_HIT", "MEX"), ("MEX", "SUBJECT_ENCOUNTERED_BY_PARTNER", "PAN")} <= (
        links
    )
    assert ("PAN", "WATCHLIST_HIT", "CHL") in links
    hits_from_mexico = [
        a
        for a in over_grpc.record.nodes["PAN"].alerts
        if a.kind.value == "WATCHLIST_HIT" and a.partner == "MEX"
    ]
    assert hits_from_mexico and all(a.category is None for a in hits_from_mexico)

    a = compute_metrics(in_process.world, in_process.record)
    b = compute_metrics(over_grpc.world, over_grpc.record)
    assert a["alerts"] == b["alerts"]
    for name, link in a["links"].items():
        other = b["links"][name]
        for key in ("probes_sent", "hits", "categories_disclosed", "not_sent_by_reason", "cases"):
            assert link[key] == other[key], (name, key)
    assert a["links"]["PAN>MEX"]["not_sent_by_reason"]["younger than 18"] > 0
    assert "younger than 18" not in a["links"]["PAN>CHL"]["not_sent_by_reason"]
    logs = sorted(p.name for p in (tmp_path / "b" / "nodes" / "logs").iterdir())
    assert logs == ["node_chile.log", "node_mexico.log", "node_panama.log"]
