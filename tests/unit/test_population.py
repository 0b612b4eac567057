"""Unit tests for the synthetic population: mix, provenance, ground truth, files, CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from biometric_exchange import __version__, regions
from biometric_exchange.cli.main import app
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.recordfiles import read_encounter, read_watchlist
from biometric_exchange.synthetic.mix import POPULATION_MIX
from biometric_exchange.synthetic.nodefiles import export_node_files, ground_truth_encounters
from biometric_exchange.synthetic.population import (
    JSONL_FILES,
    NPY_FILES,
    PopulationSpec,
    generate_population,
)

SEED = 11
SIZE = 20_000
TOLERANCE = 0.6
GENERATOR = f"biometric-exchange {__version__}"


def _read(folder: Path, name: str) -> list[dict[str, Any]]:
    with (folder / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _npy(folder: Path, name: str) -> np.ndarray[Any, Any]:
    return np.load(folder / name, allow_pickle=False, mmap_mode="r")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("population")
    generate_population(PopulationSpec(size=SIZE, seed=SEED), out)
    return out


@pytest.fixture(scope="module")
def records(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: _read(folder, name) for name in JSONL_FILES}


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


# --- content ---------------------------------------------------------------------------


def test_nationality_mix_follows_the_weights(records: dict[str, list[dict[str, Any]]]) -> None:
    identities = records["identities.jsonl"]
    assert len(identities) == SIZE
    observed = Counter(r["person"]["nationality"] for r in identities)
    total = sum(POPULATION_MIX.values())
    for code, weight in POPULATION_MIX.items():
        expected = weight / total
        margin = 0.004 + 4 * (expected * (1 - expected) / SIZE) ** 0.5
        assert abs(observed[code] / SIZE - expected) < margin, code
    assert set(observed) <= set(POPULATION_MIX)
    for record in identities[:500]:
        code = record["person"]["nationality"]
        assert record["extra_regional"] == regions.is_extra_regional(code)


def test_identities_are_plausible_and_unique(records: dict[str, list[dict[str, Any]]]) -> None:
    identities = records["identities.jsonl"]
    assert [r["identity_id"] for r in identities] == [f"ID-{n:08d}" for n in range(1, SIZE + 1)]
    documents = [r["person"]["document_number"] for r in identities]
    assert len(set(documents)) == SIZE
    assert all(d.startswith("SYN-") and len(d) == 12 for d in documents)
    minors = sum(r["minor"] for r in identities) / SIZE
    assert 0.15 < minors < 0.25
    statuses = Counter(r["person"]["legal_status"] for r in identities)
    assert set(statuses) == {"none", "asylum_seeker", "refugee"}
    unaccompanied = [r for r in identities if r["person"]["unaccompanied_minor"]]
    assert unaccompanied and all(r["minor"] for r in unaccompanied)
    start = dt.date(2023, 1, 1)
    for record in identities:
        born = dt.date.fromisoformat(record["person"]["birth_date"])
        age = start.year - born.year - ((start.month, start.day) < (born.month, born.day))
        assert (age < 18) == record["minor"]
        assert 0 <= age <= 65
        assert record["person"]["given_name"] and record["person"]["family_name"]


def test_names_follow_the_nationality_locale(records: dict[str, list[dict[str, Any]]]) -> None:
    by_code = {r["person"]["nationality"]: r["person"] for r in records["identities.jsonl"]}
    assert all("\u4e00" <= ch <= "\u9fff" for ch in by_code["CHN"]["family_name"])
    assert " " in by_code["VEN"]["family_name"]  # two surnames
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in by_code["CHL"]["family_name"])


def test_every_record_and_file_carries_provenance(
    folder: Path, records: dict[str, list[dict[str, Any]]]
) -> None:
    expected = {"synthetic": True, "generator": GENERATOR, "seed": SEED}
    for lines in records.values():
        assert lines
        for record in lines:
            assert record["provenance"] == expected
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True
    assert manifest["provenance"] == expected
    for name in (*JSONL_FILES, *NPY_FILES, "FORMAT.md"):
        entry = manifest["files"][name]
        assert entry["provenance"] == expected
        assert entry["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert "SYNTHETIC DATA ONLY" in (folder / "FORMAT.md").read_text(encoding="utf-8")


def test_arrays_load_without_pickle_and_match_the_records(
    folder: Path, records: dict[str, list[dict[str, Any]]]
) -> None:
    captures = _npy(folder, "captures.npy")
    faces = _npy(folder, "capture_faces.npy")
    assert captures.dtype == np.float32 and captures.shape[1] == 128
    assert faces.shape == (captures.shape[0],)
    rows = [row for r in records["encounters.jsonl"] for row in r["template_rows"]]
    assert sorted(rows) == list(range(captures.shape[0]))
    for record in records["encounters.jsonl"][:2000]:
        assert all(faces[row] == record["face_id"] for row in record["template_rows"])
    listed = _npy(folder, "watchlist_templates.npy")
    assert [r["template_row"] for r in records["watchlists.jsonl"]] == list(range(listed.shape[0]))


def test_journeys_run_along_the_corridor(records: dict[str, list[dict[str, Any]]]) -> None:
    journeys = {r["journey_id"]: r for r in records["journeys.jsonl"]}
    for journey in journeys.values():
        days = [dt.date.fromisoformat(day) for _, day in journey["stops"]]
        assert days == sorted(days)
        points = [point for point, _ in journey["stops"]]
        assert "COL-NECOCLI" in points
    for encounter in records["encounters.jsonl"]:
        journey = journeys[encounter["journey_id"]]
        stops = dict(journey["stops"])
        assert encounter["border_point"].startswith(encounter["country"])
        assert stops[encounter["border_point"]] == encounter["encountered_at"][:10]
        if encounter["country"] == "CHL":
            assert journey["route"].startswith("chile-")
    countries = Counter(r["country"] for r in records["encounters.jsonl"])
    assert countries["PAN"] > countries["CHL"] > 0


def test_watchlists_have_every_category_owner_and_validity(
    records: dict[str, list[dict[str, Any]]],
) -> None:
    entries = records["watchlists.jsonl"]
    assert {e["owner"] for e in entries} == {"CHL", "PAN"}
    assert len({e["category"] for e in entries}) == 6
    assert any(e["valid_until"] is None for e in entries)
    assert any(e["valid_until"] is not None for e in entries)
    minors = {r["identity_id"] for r in records["identities.jsonl"] if r["minor"]}
    for entry in entries:
        if entry["identity_id"] in minors:
            assert entry["category"] == "missing_person"


# --- ground truth ----------------------------------------------------------------------


def test_watchlisted_travellers_match_their_entry(
    folder: Path, records: dict[str, list[dict[str, Any]]]
) -> None:
    captures = _npy(folder, "captures.npy")
    listed = _npy(folder, "watchlist_templates.npy")
    entries = {e["entry_id"]: e for e in records["watchlists.jsonl"]}
    encounters = {e["encounter_id"]: e for e in records["encounters.jsonl"]}
    cases = [
        r for r in records["ground_truth.jsonl"] if r["record_type"] == "watchlisted_traveller"
    ]
    assert len(cases) > 100
    distances = []
    for case in cases:
        entry = entries[case["entry_id"]]
        assert entry["face_id"] == case["face_id"]
        template = listed[entry["template_row"]].astype(np.float64)
        for seen in case["encounters"]:
            encounter = encounters[seen["encounter_id"]]
            assert encounter["face_id"] == case["face_id"]
            block = captures[encounter["template_rows"]].astype(np.float64)
            best = float(np.linalg.norm(block - template, axis=1).min())
            assert best == pytest.approx(seen["distance"], abs=1e-6)
            assert seen["match"] == (best < TOLERANCE)
            distances.append(best)
    assert np.mean(np.asarray(distances) < TOLERANCE) >= 0.98
    assert np.median(distances) < 0.45
    # Other people's captures stay above the tolerance.
    others = captures[:5000].astype(np.float64)
    faces = _npy(folder, "capture_faces.npy")[:5000]
    impostor = np.concatenate(
        [
            np.linalg.norm(others - listed[e["template_row"]], axis=1)[faces != e["face_id"]]
            for e in list(entries.values())[:50]
        ]
    )
    assert np.mean(impostor < TOLERANCE) < 1e-4


def test_fraud_cases_share_a_face_under_two_identities(
    folder: Path, records: dict[str, list[dict[str, Any]]]
) -> None:
    identities = {r["identity_id"]: r for r in records["identities.jsonl"]}
    encounters = {e["encounter_id"]: e for e in records["encounters.jsonl"]}
    captures = _npy(folder, "captures.npy")
    cases = [r for r in records["ground_truth.jsonl"] if r["record_type"] == "identity_fraud"]
    assert len(cases) == SIZE // 200
    faces = Counter(r["face_id"] for r in identities.values())
    assert sum(count == 2 for count in faces.values()) == len(cases)
    genuine = []
    for case in cases:
        first, second = (identities[i] for i in case["identity_ids"])
        assert first["face_id"] == second["face_id"] == case["face_id"]
        assert first["person"]["document_number"] != second["person"]["document_number"]
        assert first["person"] != second["person"]
        under_first, under_second = case["encounter_ids"]
        assert under_first and under_second
        for ids, identity in ((under_first, first), (under_second, second)):
            for encounter_id in ids:
                assert encounters[encounter_id]["identity_id"] == identity["identity_id"]
                assert encounters[encounter_id]["person"] == identity["person"]
        a = captures[encounters[under_first[0]]["template_rows"][0]].astype(np.float64)
        b = captures[encounters[under_second[0]]["template_rows"][0]].astype(np.float64)
        genuine.append(np.linalg.norm(a - b))
    assert np.mean(np.asarray(genuine) < TOLERANCE) >= 0.95  # the same face: genuine pairs


# --- node files ------------------------------------------------------------------------


def test_node_files_round_trip_through_recordfiles(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "node_files"
    counts = export_node_files(folder, out, per_country=12)
    assert counts["encounters_CHL"] == counts["encounters_PAN"] == 12
    captures = _npy(folder, "captures.npy")
    listed = _npy(folder, "watchlist_templates.npy")
    population = {e["encounter_id"]: e for e in _read(folder, "encounters.jsonl")}
    named = ground_truth_encounters(folder)
    for country in ("CHL", "PAN"):
        entries = read_watchlist(out / f"watchlist_{country}.jsonl")
        assert len(entries) == counts[f"watchlist_{country}"]
        source = {e["entry_id"]: e for e in _read(folder, "watchlists.jsonl")}
        for entry in entries:
            assert entry.provenance.synthetic and entry.provenance.seed == SEED
            np.testing.assert_array_equal(
                entry.template, listed[source[entry.entry_id]["template_row"]]
            )
        files = sorted((out / f"encounters_{country}").glob("*.json"))
        assert len(files) == 12
        for path in files:
            encounter = read_encounter(path)
            record = population[encounter.encounter_id]
            assert encounter.encounter_id in named  # ground-truth cases come first
            assert encounter.person.document_number == record["person"]["document_number"]
            np.testing.assert_array_equal(encounter.template, captures[record["template_rows"][0]])
    with pytest.raises(InvalidInput, match="not empty"):
        export_node_files(folder, out, per_country=1)


# --- determinism, validation and the CLI ---------------------------------------------


def test_cli_population_is_deterministic_per_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    cli_out = tmp_path / "cli"
    result = runner.invoke(
        app,
        [
            "synth",
            "population",
            "--size",
            "2000",
            "--seed",
            "5",
            "--output",
            str(cli_out),
            "--node-files",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC DATA ONLY" in result.output
    assert (cli_out / "node_files" / "watchlist_PAN.jsonl").exists()
    assert len(list((cli_out / "node_files" / "encounters_PAN").glob("*.json"))) == 3
    same = tmp_path / "same"
    generate_population(PopulationSpec(size=2000, seed=5), same)
    cli_digests = _digests(cli_out)
    assert cli_digests == _digests(same)
    assert len(_read(same, "identities.jsonl")) == 2000
    other = tmp_path / "other"
    generate_population(PopulationSpec(size=2000, seed=6), other)
    other_digests = _digests(other)
    for name in (*JSONL_FILES, "captures.npy", "watchlist_templates.npy"):
        assert other_digests[name] != cli_digests[name], name


def test_spec_rejects_bad_inputs() -> None:
    with pytest.raises(InvalidInput, match="size"):
        PopulationSpec(size=0, seed=1)
    with pytest.raises(InvalidInput, match="seed"):
        PopulationSpec(size=10, seed=-1)
    with pytest.raises(InvalidInput, match="start"):
        PopulationSpec(size=10, seed=1, start=dt.datetime.now(dt.UTC).date())


def test_cli_reports_a_bad_effect(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["synth", "population", "--size", "10", "--output", str(tmp_path), "--effect", "x:ZZ"],
    )
    assert result.exit_code == 2
    assert "--effect" in result.output
