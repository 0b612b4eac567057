"""A node takes in records marked synthetic only; no configuration overrides it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.domain import UNMARKED, Provenance
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.recordfiles import encounter_from_dict, encounter_to_dict
from biometric_exchange.synthetic import DemoDataset


def _unmarked_record(dataset: DemoDataset) -> dict[str, object]:
    record = encounter_to_dict(dataset.encounters["PAN"][0])
    del record["provenance"]
    return record


def test_a_record_without_provenance_reads_as_unmarked_and_is_refused(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    encounter = encounter_from_dict(_unmarked_record(dataset), "enc.json")
    assert encounter.provenance == UNMARKED
    with pytest.raises(InvalidInput, match=r"provenance: missing; .* marked synthetic only"):
        enrol(nodes["PAN"], encounter)
    assert nodes["PAN"].records.count_encounters() == 0


def test_the_former_override_setting_is_refused_at_startup(pair_dirs: tuple[Path, Path]) -> None:
    config = pair_dirs[1] / CONFIG_FILENAME
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[records]\nunsafe_accept_unmarked_records = true\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="records"):
        Node.open(pair_dirs[1])


def test_records_marked_not_synthetic_are_refused(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    node = nodes["PAN"]
    real = Provenance(synthetic=False, generator="someone's registry")
    encounter = dataclasses.replace(dataset.encounters["PAN"][0], provenance=real)
    with pytest.raises(InvalidInput, match="synthetic records only"):
        enrol(node, encounter)
    entry = dataclasses.replace(dataset.watchlists["PAN"][0], entry_id="W-REAL", provenance=real)
    with pytest.raises(InvalidInput, match="synthetic records only"):
        add_watchlist(node, [entry])
    assert node.records.count_encounters() == 0
    assert node.records.watchlist_entry("W-REAL") is None


def test_watchlist_entries_follow_the_same_rule(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    unmarked = dataclasses.replace(
        dataset.watchlists["CHL"][0], entry_id="W-UNMARKED", provenance=UNMARKED
    )
    before = len(list(nodes["CHL"].records.watchlist()))
    with pytest.raises(InvalidInput, match="provenance: missing"):
        add_watchlist(nodes["CHL"], [unmarked])
    assert len(list(nodes["CHL"].records.watchlist())) == before
