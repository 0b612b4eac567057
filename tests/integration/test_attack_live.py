"""Template extraction against a real holder: Panama serving over gRPC with mutual TLS
in this process, Chile attacking through its own link, the pair's clock injected."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from biometric_exchange.attacks import LIVE_ORACLE, LiveConfig, run_live
from biometric_exchange.cli.evaluate import evaluate
from biometric_exchange.evaluation.attacks import AttackConfig


def test_boundary_runs_end_to_end_and_its_counts_agree(tmp_path: Path) -> None:
    attack = AttackConfig(attack="boundary", victims=2, watchlist=60, days=3, budget=400)
    # The holder's quota is 250 a day; the attacker plans 300, so it meets the refusal.
    report = run_live(LiveConfig(attack, probes_per_day=250, daily_probes=300), tmp_path)
    ledger = report.ledger
    assert report.oracle == LIVE_ORACLE
    assert ledger.probes == sum(ledger.per_day) == sum(o.probes for o in report.outcomes)
    assert ledger.days <= 3
    assert all(count <= 300 for count in ledger.per_day)
    assert ledger.refused_requests["RESOURCE_EXHAUSTED"] >= 1
    answered = ledger.probes - sum(ledger.refused_probes.values())
    assert all(o.probes <= 400 for o in report.outcomes)
    assert answered <= 250 * ledger.days
    assert ledger.first_alert_at is not None and ledger.first_alert_at <= 300
    assert report.recovered == 0
    assert {o.note for o in report.outcomes} == {"0 boundary points, too few to fit"}


def test_trilateration_is_refused_and_alerted(tmp_path: Path) -> None:
    """Its one-axis perturbations are copies of a recent probe: refused; the third
    refusal (the third victim) holds the attacker with an alert; no distance crosses."""
    attack = AttackConfig(attack="trilateration", victims=3, watchlist=40, days=1)
    report = run_live(LiveConfig(attack), tmp_path)
    for outcome in report.outcomes:
        assert not outcome.recovered
        assert outcome.note == "the holder refused the probes (PERMISSION_DENIED)"
    assert report.ledger.refused_requests["PERMISSION_DENIED"] == 3
    assert report.ledger.first_alert_at == report.ledger.probes <= 300


def test_cli_prints_the_report_and_writes_json(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(evaluate)
    out = tmp_path / "attack.json"
    args = ["--attack", "trilateration", "--victims", "1", "--watchlist", "30", "--days", "1"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| oracle | holder over gRPC (mutual TLS) |" in result.output
    assert "| refusals | PERMISSION_DENIED: 1 requests (64 probes) |" in result.output
    report = json.loads(out.read_text())
    assert report["probes"] == sum(report["probes_per_day"])
    assert report["recovered"] == 0
