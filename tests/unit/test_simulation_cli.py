"""``bx simulate``: a small scenario in-process, its report folder, and clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from biometric_exchange.cli.main import app

SCENARIO = """
name = "cli-check"
seed = 3
days = 8
[population]
migrants = 600
fraud_share = 0.05
[watchlist]
prevalence = 0.05
fillers = 20
[agreement.overrides]
scope = { population = "all" }
"""


def test_simulate_writes_a_report(tmp_path: Path) -> None:
    path = tmp_path / "cli.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["simulate", str(path), "--output", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC DATA ONLY" in result.output
    assert "in-process" in result.output
    assert f"report: {out / 'report.md'}" in result.output.replace("\n", "")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["synthetic"] is True
    assert metrics["scenario"]["seed"] == 4
    assert metrics["alerts"]["WATCHLIST_HIT"]["true_positives"] > 0
    assert sorted(p.name for p in out.glob("*.png")) == [
        "sim-alerts.png",
        "sim-det.png",
        "sim-flow.png",
    ]
    # Piped, progress is one line per step on stderr; stdout carries none of it.
    steps = result.stderr.splitlines()
    assert steps[0] == "starting: 0/8 (0%)"
    assert len(steps) > 2 and all(re.fullmatch(r".+: [\d,]+/[\d,]+ \(\d+%\)", s) for s in steps)
    assert not any(line in result.stdout for line in steps)


def test_a_bad_scenario_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace("days = 8", "days = 0"), encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 2
    assert f"{path}: days: Input should be greater than or equal to 1" in result.output
    missing = CliRunner().invoke(app, ["simulate", "no_such_scenario"])
    assert missing.exit_code == 2
    assert "scenario 'no_such_scenario': no such file" in missing.output
