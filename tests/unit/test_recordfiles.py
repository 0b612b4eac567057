"""Encounter and watchlist files: round trips, and errors that name source and field."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from biometric_exchange.domain import TEMPLATE_DIM, Encounter, WatchlistEntry
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.recordfiles import (
    encounter_from_dict,
    encounter_to_dict,
    read_encounter,
    read_watchlist,
    watchlist_entry_from_dict,
    watchlist_entry_to_dict,
)
from biometric_exchange.synthetic import DemoDataset

SOURCE = "encounter.json"


def _all_encounters(dataset: DemoDataset) -> list[Encounter]:
    return [e for encounters in dataset.encounters.values() for e in encounters]


def _all_entries(dataset: DemoDataset) -> list[WatchlistEntry]:
    return [e for entries in dataset.watchlists.values() for e in entries]


def _assert_same_template(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == (TEMPLATE_DIM,)
    assert actual.tobytes() == np.asarray(expected, dtype=np.float32).tobytes()


# --- round trips -------------------------------------------------------------


def test_encounters_round_trip_through_json(dataset: DemoDataset) -> None:
    encounters = _all_encounters(dataset)
    assert len(encounters) >= 8
    for original in encounters:
        text = json.dumps(encounter_to_dict(original))
        loaded = encounter_from_dict(json.loads(text), SOURCE)
        _assert_same_template(loaded.template, original.template)
        assert loaded.encounter_id == original.encounter_id
        assert loaded.person == original.person
        assert loaded.encountered_at == original.encountered_at
        assert loaded.encountered_at.utcoffset() is not None
        assert loaded.border_point == original.border_point
        assert loaded.provenance == original.provenance
        assert loaded.provenance.synthetic is True


def test_watchlist_entries_round_trip_through_json(dataset: DemoDataset) -> None:
    entries = _all_entries(dataset)
    assert len(entries) >= 8
    for original in entries:
        text = json.dumps(watchlist_entry_to_dict(original))
        loaded = watchlist_entry_from_dict(json.loads(text), "watchlist.jsonl:1")
        _assert_same_template(loaded.template, original.template)
        assert loaded.entry_id == original.entry_id
        assert loaded.category is original.category
        assert loaded.person == original.person
        assert loaded.valid_until == original.valid_until
        assert loaded.provenance == original.provenance


def test_encounter_file_round_trip(dataset: DemoDataset, tmp_path: Path) -> None:
    original = dataset.encounters["PAN"][0]
    path = tmp_path / "enc.json"
    path.write_text(json.dumps(encounter_to_dict(original), indent=1), encoding="utf-8")
    loaded = read_encounter(path)
    _assert_same_template(loaded.template, original.template)
    assert loaded.person == original.person
    assert loaded.encountered_at == original.encountered_at


def test_times_in_other_zones_are_stored_as_utc(dataset: DemoDataset) -> None:
    raw = encounter_to_dict(dataset.encounters["CHL"][0])
    raw["encountered_at"] = "2026-03-01T07:30:00-03:00"
    loaded = encounter_from_dict(raw, SOURCE)
    assert loaded.encountered_at.isoformat() == "2026-03-01T10:30:00+00:00"


def test_templates_are_read_only(dataset: DemoDataset) -> None:
    loaded = encounter_from_dict(encounter_to_dict(dataset.encounters["CHL"][0]), SOURCE)
    with pytest.raises(ValueError, match="read-only"):
        loaded.template[0] = 1.0


# --- bad encounters ----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(*path_and_value: Any) -> Mutation:
    *path, value = path_and_value

    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(*path: str) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _shorten_template(raw: dict[str, Any]) -> None:
    raw["template"]["values"] = raw["template"]["values"][:127]


def _lengthen_template(raw: dict[str, Any]) -> None:
    raw["template"]["values"] = [*raw["template"]["values"], 0.0]


BAD_ENCOUNTERS: list[tuple[str, Mutation, str]] = [
    ("127-values", _shorten_template, r"template\.values: expected 128 values, got 127"),
    ("129-values", _lengthen_template, r"template\.values: expected 128 values, got 129"),
    ("huge-value", _set("template", "values", [1e39] * 128), r"template\.values: .*float32"),
    (
        "nationality",
        _set("person", "nationality", "ZZZ"),
        r"person\.nationality: 'ZZZ' is not an ISO 3166-1 alpha-3 code",
    ),
    ("birth-date", _drop("person", "birth_date"), r"person\.birth_date: Field required"),
    (
        "not-synthetic",
        _set("provenance", "synthetic", False),
        r"provenance\.synthetic: this system enrols synthetic records only",
    ),
    (
        "naive-time",
        _set("encountered_at", "2026-11-20T10:00:00"),
        r"encountered_at: needs a time zone",
    ),
    (
        "template-model",
        _set("template", "model", "arcface_r100"),
        r"template\.model: unsupported template model",
    ),
    ("template-dim", _set("template", "dim", 512), r"template\.dim: expected 128"),
    ("extra-field", _set("eye_colour", "brown"), r"eye_colour: Extra inputs are not permitted"),
    (
        "extra-person-field",
        _set("person", "religion", "none"),
        r"person\.religion: Extra inputs are not permitted",
    ),
    ("bad-id", _set("encounter_id", "../../etc"), r"encounter_id: String should match pattern"),
    ("bad-sex", _set("person", "sex", "Q"), r"person\.sex: Input should be"),
]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [pytest.param(m, msg, id=name) for name, m, msg in BAD_ENCOUNTERS],
)
def test_bad_encounter_names_source_and_field(
    dataset: DemoDataset, mutate: Mutation, message: str
) -> None:
    raw = copy.deepcopy(encounter_to_dict(dataset.encounters["PAN"][1]))
    mutate(raw)
    with pytest.raises(InvalidInput, match=rf"^{re.escape(SOURCE)}: {message}"):
        encounter_from_dict(raw, SOURCE)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_template_values_are_refused(
    dataset: DemoDataset, tmp_path: Path, literal: str
) -> None:
    raw = encounter_to_dict(dataset.encounters["PAN"][1])
    raw["template"]["values"][7] = 123456.5  # a unique token to replace in the text
    text = json.dumps(raw).replace("123456.5", literal)
    assert literal in text
    assert not np.isfinite(json.loads(text)["template"]["values"][7])  # Python's json accepts it
    path = tmp_path / "non_finite.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        InvalidInput,
        match=rf"^{re.escape(str(path))}: template\.values: values must be finite",
    ):
        read_encounter(path)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"encounter_id": "X-1",\n  "person": ', encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"^{re.escape(str(path))}: not valid JSON \(.* line 2"):
        read_encounter(path)


def test_a_json_array_is_not_an_encounter(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"^{re.escape(str(path))}: "):
        read_encounter(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(
        InvalidInput,
        match=rf"^{re.escape(str(path))}: cannot read an encounter file \(FileNotFoundError\)",
    ):
        read_encounter(path)


def test_a_directory_is_not_an_encounter_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot read an encounter file \(IsADirectoryError\)"):
        read_encounter(tmp_path)


def test_bad_watchlist_entry_names_source_and_field(dataset: DemoDataset) -> None:
    raw = watchlist_entry_to_dict(dataset.watchlists["CHL"][0])
    raw["category"] = "jaywalking"
    with pytest.raises(InvalidInput, match=r"^wl\.jsonl:3: category: Input should be"):
        watchlist_entry_from_dict(raw, "wl.jsonl:3")


# --- watchlist files ---------------------------------------------------------


def _watchlist_lines(dataset: DemoDataset) -> list[str]:
    return [json.dumps(watchlist_entry_to_dict(e)) for e in dataset.watchlists["CHL"]]


def test_read_watchlist_returns_every_entry_in_order(dataset: DemoDataset, tmp_path: Path) -> None:
    lines = _watchlist_lines(dataset)
    path = tmp_path / "wl.jsonl"
    path.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n", encoding="utf-8")
    entries = read_watchlist(path)
    assert [e.entry_id for e in entries] == [e.entry_id for e in dataset.watchlists["CHL"]]
    for loaded, original in zip(entries, dataset.watchlists["CHL"], strict=True):
        _assert_same_template(loaded.template, original.template)


def test_read_watchlist_stops_at_the_first_bad_line(dataset: DemoDataset, tmp_path: Path) -> None:
    lines = _watchlist_lines(dataset)[:6]
    bad_nationality = json.loads(lines[3])
    bad_nationality["person"]["nationality"] = "ZZZ"
    bad_dim = json.loads(lines[4])
    bad_dim["template"]["values"] = bad_dim["template"]["values"][:127]
    # Line 1, line 2, a blank line 3, then the bad entries on lines 5 and 6.
    text = "\n".join(
        [lines[0], lines[1], "", lines[2], json.dumps(bad_nationality), json.dumps(bad_dim)]
    )
    path = tmp_path / "wl.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        read_watchlist(path)
    message = str(info.value)
    assert message.startswith(f"{path}:5: person.nationality: 'ZZZ'")
    assert ":6:" not in message


def test_read_watchlist_reports_invalid_json_with_its_line(
    dataset: DemoDataset, tmp_path: Path
) -> None:
    lines = _watchlist_lines(dataset)[:3]
    path = tmp_path / "wl.jsonl"
    path.write_text("\n".join([lines[0], lines[1][:-5], lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"^{re.escape(str(path))}:2: not valid JSON"):
        read_watchlist(path)


def test_read_watchlist_refuses_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=rf"^{re.escape(str(path))}: no watchlist entries$"):
        read_watchlist(path)


def test_read_watchlist_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    with pytest.raises(
        InvalidInput,
        match=rf"^{re.escape(str(path))}: cannot read a watchlist file \(FileNotFoundError\)",
    ):
        read_watchlist(path)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r["provenance"].__setitem__("synthetic", "yes"), "provenance.synthetic"),
        (lambda r: r["template"]["values"].__setitem__(0, True), "not true/false"),
        (lambda r: r.__setitem__("record_type", "watchlist_entry"), "record_type"),
        (
            lambda r: r.__setitem__("encountered_at", "2099-01-01T00:00:00Z"),
            "encountered_at: lies in the future",
        ),
        (
            lambda r: r["person"].__setitem__("birth_date", "2099-01-01"),
            "person.birth_date: lies in the future",
        ),
    ],
)
def test_loosely_typed_or_impossible_values_are_refused(
    dataset: DemoDataset, change: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    record = encounter_to_dict(dataset.encounters["PAN"][0])
    change(record)
    with pytest.raises(InvalidInput, match=re.escape(fragment)):
        encounter_from_dict(record, "enc.json")
