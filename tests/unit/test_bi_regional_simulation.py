"""``bx simulate`` on a small bi-regional scenario: both topologies on one world, the
same hits, a report and plots; a bad scenario names the field."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w
from typer.testing import CliRunner

from biometric_exchange.cli.main import app

runner = CliRunner()
SMALL_SCENARIO = {
    "kind": "bi_regional",
    "name": "bi_regional_small",
    "seed": 5,
    "days": 3,
    "federation": {
        "name": "small",
        "members": ["COL", "PAN", "CRI", "MEX"],
        "without_terms": ["COL-MEX"],
    },
    "world": {
        "migrants": 60,
        "lead_days": 3,
        "listed_share": 0.5,
        "fillers": 10,
        "default_rate": 0.9,
        "routes": [{"share": 1.0, "path": ["COL", "PAN", "CRI", "MEX"]}],
    },
}


def write(tmp_path: Path, scenario: dict[str, object]) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(tomli_w.dumps(scenario), encoding="utf-8")
    return path


def test_both_topologies_find_the_same_hits_and_write_the_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(write(tmp_path, SMALL_SCENARIO)), "-o", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    mesh, router = metrics["topologies"]["mesh"], metrics["topologies"]["router"]
    assert metrics["synthetic"] is True and metrics["same_hits"] is True
    assert metrics["federation"]["agreements"] == 5
    assert mesh["expected_partner_hits"] > 0 and mesh["recall"] == router["recall"] == 1.0
    assert mesh["member_calls"] == router["member_calls"] == router["router_onward_calls"]
    assert router["wire_bytes_per_encounter"] == 2 * mesh["wire_bytes_per_encounter"]
    assert router["router_chain_entries"] == router["router_audit"]["route.forwarded/accepted"]
    assert "ciphertext" not in " ".join(router["router_audit_fields"])
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA ONLY" in report and "Same hits in both topologies: **yes**" in report
    for plot in ("exchange.png", "recall.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_bi_regional_scenario_names_the_field(tmp_path: Path) -> None:
    bad = {
        **SMALL_SCENARIO,
        "world": {
            **SMALL_SCENARIO["world"],
            "routes": [  # type: ignore[dict-item]
                {"share": 1.0, "path": ["COL", "VEN"]}
            ],
        },
    }
    result = runner.invoke(app, ["simulate", str(write(tmp_path, bad))])
    assert result.exit_code != 0
    assert "world.routes.0.path: VEN is not a member" in result.output


def test_a_bi_regional_scenario_runs_in_process_only(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", str(write(tmp_path, SMALL_SCENARIO)), "--over-grpc"])
    assert result.exit_code != 0
    assert "bx federation run" in result.output
