"""``bx bench match --sizes``: float and int8 side by side with their FAISS peers."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from biometric_exchange.bench.scale import ScaleSettings, format_scale, run_scale
from biometric_exchange.cli.bench import bench_app


def test_tiny_scale_run_reports_both_modes_and_the_check() -> None:
    settings = ScaleSettings(
        sizes=(4000,), probe_counts=(1, 50), repeats=3, check=300, settle_s=0.0, single_reads=1
    )
    report = run_scale(settings, progress=lambda _: None)
    assert [(row.gallery, row.probes) for row in report.rows] == [(4000, 1), (4000, 50)]
    for row in report.rows:
        assert set(row.qps) == {"float", "faiss-flat", "int8", "faiss-sq8"}
        assert all(value > 0 for value in row.qps.values())
    assert set(report.rows[0].ceiling_qps) == {"read-float", "read-int8"}
    assert report.identical == {4000: True}
    assert 0 < report.check_hits[4000] < 300
    assert report.memory_mib[4000]["int8"] < 0.3 * report.memory_mib[4000]["float"]
    text = format_scale(report)
    assert "identical: yes" in text and "memory-read ceiling" in text


def test_the_command_checks_its_sizes_and_modes() -> None:
    app = typer.Typer()
    app.add_typer(bench_app, name="bench")
    result = CliRunner().invoke(app, ["bench", "match", "--sizes", "1000", "--mode", "fp16"])
    assert result.exit_code == 2
    assert "modes among float, int8" in result.output
