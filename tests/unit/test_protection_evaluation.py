"""``bx evaluate --protection``: the measurements, the report file, bad scheme names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from biometric_exchange.cli.evaluate import evaluate
from biometric_exchange.evaluation.protection import (
    ProtectionConfig,
    calibrate_threshold,
    parse_schemes,
    run_protection_evaluation,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection import BioHashScheme

SMALL = ProtectionConfig(seed=7, identities=300, gallery_size=1_000, nonmated_searches=500)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(evaluate)
    return app


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_protection_evaluation(SMALL, ("rotation", "biohash", "iom"))


def test_rotation_keeps_unprotected_accuracy_and_inverts_exactly(report: dict[str, Any]) -> None:
    rotation = report["schemes"][0]
    assert rotation["scheme"] == "rotation"
    for name in ("fnmr_at_target_fmr", "fnir_at_target_fpir", "fnmr_at_threshold"):
        assert rotation["accuracy"][name] == report["unprotected"][name]
    assert rotation["irreversibility"]["success_rate_against_original"] == 1.0
    assert rotation["irreversibility"]["median_distance_to_original"] < 1e-9


def test_every_scheme_renews_and_unlinks(report: dict[str, Any]) -> None:
    for scheme in report["schemes"]:
        renewal = scheme["renewability"]
        assert renewal["mated_match_rate_across_epochs"] < 0.01
        unlinkability = scheme["unlinkability"]
        assert unlinkability["d_sys_across_agreements"] < 0.1
        assert unlinkability["d_sys_across_epochs"] < 0.1
        assert unlinkability["d_sys_same_key"] > 0.9  # the measure sees linkage where it is


def test_the_cli_writes_protection_json(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        _app(), ["--output", str(out), "--quick", "--seed", "3", "--protection", "biohash"]
    )
    assert result.exit_code == 0, result.output
    assert "Template protection" in result.output
    written = json.loads((out / "protection.json").read_text())
    assert written["synthetic"] is True
    assert written["quick"] is True
    assert [s["scheme"] for s in written["schemes"]] == ["biohash"]
    assert written["dataset"]["gallery_size"] == 2_000
    assert not (out / "report.json").exists()


def test_the_cli_names_an_unknown_scheme(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--output", str(tmp_path), "--protection", "xor"])
    assert result.exit_code == 2
    assert "'xor' is not a protection scheme" in result.output
    assert not (tmp_path / "protection.json").exists()


def test_scheme_lists_parse() -> None:
    assert parse_schemes("all") == ("rotation", "biohash", "iom")
    assert parse_schemes("iom, rotation,iom") == ("iom", "rotation")
    with pytest.raises(InvalidInput, match="name a scheme"):
        parse_schemes(" , ")


def test_calibration_finds_a_threshold_at_the_target() -> None:
    result = calibrate_threshold(BioHashScheme, seed=1, identities=400, keys=2, target_fmr=1e-3)
    assert result["fmr"] <= 1e-3
    assert all(rate < 2e-3 for rate in result["fmr_per_key"])
    assert (result["threshold"] * 128) % 1 == 0.5  # halfway between two Hamming counts
