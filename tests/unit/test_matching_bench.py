"""The benchmark harness (``bx bench match``): runs small, reports missing FAISS clearly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from biometric_exchange.bench import matching as benchmark
from biometric_exchange.cli.bench import bench_app


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(bench_app, name="bench")
    return app


def test_missing_faiss_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)

    result = CliRunner().invoke(cli(), ["bench", "match", "--quick"])

    assert result.exit_code == 2
    assert "faiss-cpu is not installed" in result.output
    assert "benchmark-only extra" in result.output


def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    settings = benchmark.Settings(sizes=(3000,), probe_counts=(1, 20), repeats=3, settle_s=0.0)

    report = benchmark.run(settings, progress=lambda _: None)

    assert [(row.gallery, row.probes) for row in report.rows] == [(3000, 1), (3000, 20)]
    for row in report.rows:
        assert row.engine_qps > 0 and row.faiss_qps > 0 and row.sklearn_qps > 0
        assert row.ids_equal_sklearn > 0.99
        assert all(len(times) == 3 for times in row.times_s.values())
    assert report.compact[0].threshold_hits_equal and report.compact[0].topk_equal
    assert report.compact[0].memory_ratio <= 0.3
    assert report.snapshot is not None and report.snapshot.round_trip_equal
    assert "numpy" in report.environment and report.environment["blas"]
    assert set(report.environment["env"]) >= {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"}
    text = benchmark.format_report(report)
    assert "xFAISS" in text and "snapshot N=3000" in text
    assert json.loads(benchmark.to_json(report))["rows"][1]["probes"] == 20
