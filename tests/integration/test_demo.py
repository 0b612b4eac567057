"""`bx demo`, as `make demo` runs it: both nodes, a scenario, alerts on each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_prints_exchange_alerts_on_each_node(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "biometric_exchange.cli", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SYNTHETIC DATA ONLY" in out
    assert "Alerts on node_chile" in out and "Alerts on node_panama" in out
    assert out.count("hit on CHL watchlist") + out.count("hit on PAN watchlist") >= 2
    assert out.count("SUBJECT_ENCOUNTERED_BY_PARTNER") >= 2
    assert "partner hits raised: 3; planted in the synthetic data: 3" in out
    assert "Step 2 answer received by node_panama" in out
    assert "approved" in out and "watchlist_category=" in out
    assert "CHL: node stopped (exit status 0)" in out
    assert "PAN: node stopped (exit status 0)" in out
    # The short demo scenario ran over real nodes and wrote its report.
    assert "WATCHLIST_HIT:" in out
    assert (workdir / "simulation" / "report.md").is_file()
    # Private keys were written owner-only.
    assert (workdir / "node_chile" / "keys" / "signing.key").stat().st_mode & 0o077 == 0
    # No name, document number or template byte of the run reached a log line.
    logs = "\n".join(p.read_text(encoding="utf-8") for p in (workdir / "logs").glob("*.log"))
    assert "serving on" in logs
    records = [
        json.loads(line)
        for path in (workdir / "synthetic_data").glob("watchlist_*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    ] + [
        json.loads(path.read_text(encoding="utf-8"))
        for path in (workdir / "synthetic_data").glob("encounters_*/*.json")
    ]
    assert len(records) == 64
    for record in records:
        person = record["person"]
        for value in (person["given_name"], person["family_name"], person["document_number"]):
            assert value not in logs
        assert repr(record["template"]["values"][0]) not in logs


def test_demo_refuses_to_delete_a_folder_it_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "biometric_exchange.cli", "demo", "--workdir", str(precious)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "is not a demo folder" in result.stderr
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"
