"""``bx loadtest`` end to end on a tiny workload: every call answered and accounted for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.loadtest import LoadConfig, run_load

pytestmark = pytest.mark.integration


def test_a_tiny_load_run_answers_and_audits_every_call(tmp_path: Path) -> None:
    config = LoadConfig(
        watchlist=300,
        clients=2,
        calls=30,
        seconds=20,
        batch_size=5,
        batch_calls=6,
        serial_batch_calls=2,
        matching_repeats=2,
        workdir=tmp_path / "pair",
    )
    report = run_load(config)
    assert [run.name for run in report.runs] == ["single", "batch", "batch-serial"]
    for run in report.runs:
        assert run.errors == {}
        assert run.answered == run.calls
        assert run.audit is not None
        assert run.audit.caller_answered == run.audit.holder_accepted == run.calls
        assert run.audit.complete
    assert report.single.latency.p50_ms <= report.single.latency.p99_ms
    assert report.single.hits > 0, "a tenth of the probes are new captures of listed people"
    met = {verdict.target: verdict.met for verdict in report.verdicts}
    assert met["zero errors"] and met["both audit logs account for every call"]


def test_the_cli_writes_the_report_of_a_paced_run_as_json(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--watchlist",
            "200",
            "--clients",
            "2",
            "--calls",
            "12",
            "--seconds",
            "10",
            "--rate",
            "40",
            "--batch-calls",
            "0",
            "--serial-batch-calls",
            "0",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code in (0, 1), result.output  # 1: a target missed on this machine
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["single"]["answered"] == 12
    assert document["single"]["errors"] == {}
    assert document["single"]["offered_per_s"] == 40.0
    assert "paced at 40 calls/s offered" in result.output
