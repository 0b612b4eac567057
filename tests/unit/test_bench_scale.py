"""``bx bench match --sizes``: float and int8 side by side with their FAISS peers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from typer.testing import CliRunner

from biometric_exchange.bench.opening import _open
from biometric_exchange.bench.scale import ScaleSettings, format_scale, run_scale
from biometric_exchange.cli.bench import bench_app
from biometric_exchange.matching import CompactGallery
from biometric_exchange.matching.snapshot import save_snapshot

KEY = bytes(range(32))


def test_tiny_scale_run_reports_both_modes_and_the_check() -> None:
    settings = ScaleSettings(
        sizes=(4000,),
        probe_counts=(1, 50),
        repeats=3,
        check=300,
        settle_s=0.0,
        single_reads=1,
        opening=False,
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


def test_opening_a_snapshot_reports_time_memory_and_the_shared_reopen(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    gallery = CompactGallery(directory=tmp_path)
    gallery.add([f"w{i}" for i in range(3000)], rng.normal(0, 0.1, (3000, 128)))
    path = tmp_path / "w.snapshot"
    save_snapshot(path, gallery, KEY)
    np.save(tmp_path / "probes.npy", rng.normal(0, 0.1, (5, 128)).astype(np.float32))
    shared = tmp_path / "shm"
    shared.mkdir()
    first = _open(str(path), KEY, str(shared), True)
    again = _open(str(path), KEY, str(shared), True)
    private = _open(str(path), KEY, "", False)
    for opened, _resident, rate in (first, again, private):
        assert opened > 0 and rate > 0
    assert len(list(shared.iterdir())) == 1
