"""``bx loadtest --store postgresql --replicas 2`` on a tiny workload: the same load on
SQLite (one holder process) and on PostgreSQL (two holder processes on one
address), every call answered and in both audit logs, figures side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app

pytestmark = pytest.mark.integration


def test_both_stores_answer_and_audit_every_call_side_by_side(
    tmp_path: Path, pg_cluster: Any
) -> None:
    out = tmp_path / "stores.json"
    result = CliRunner().invoke(
        app,
        [
            "loadtest",
            "--store", "postgresql", "--replicas", "2",
            "--store-url", pg_cluster.url(),
            "--watchlist", "300", "--clients", "4", "--calls", "40", "--seconds", "30",
            "--batch-size", "5", "--batch-calls", "8", "--serial-batch-calls", "0",
            "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "postgresql / sqlite: calls/s x" in result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["sqlite"]["config"]["replicas"] == 1
    assert document["postgresql"]["config"]["replicas"] == 2
    assert document["postgresql"]["config"]["store"] == "postgresql"
    for store in ("sqlite", "postgresql"):
        for run in ("single", "batch"):
            figures = document[store][run]
            assert figures["answered"] == figures["calls"] > 0
            assert figures["errors"] == {}
            assert figures["audit"]["complete"]


def test_replicas_on_sqlite_are_refused_naming_the_option() -> None:
    result = CliRunner().invoke(app, ["loadtest", "--replicas", "2"])
    assert result.exit_code != 0
    assert "replicas: a SQLite store is served by one process" in result.output
