"""A node enrols synthetic records only; unmarked ones need a loudly named override."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.domain import UNMARKED, Provenance
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.recordfiles import encounter_from_dict, encounter_to_dict
from biometric_exchange.synthetic import DemoDataset


def _unmarked_record(dataset: DemoDataset) -> dict[str, object]:
    record = encounter_to_dict(dataset.encounters["PAN"][0])
    del record["provenance"]
    return record


def _with_override(node_dir: Path) -> Node:
    config = node_dir / CONFIG_FILENAME
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[records]\nunsafe_accept_unmarked_records = true\n",
        encoding="utf-8",
    )
    return Node.open(node_dir)


def test_a_record_without_provenance_reads_as_unmarked_and_is_refused(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    encounter = encounter_from_dict(_unmarked_record(dataset), "enc.json")
    assert encounter.provenance == UNMARKED
    with pytest.raises(InvalidInput, match="unsafe_accept_unmarked_records overrides this"):
        enrol(nodes["PAN"], encounter)
    assert nodes["PAN"].records.count_encounters() == 0


def test_the_override_accepts_unmarked_records_and_says_so(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset, caplog: pytest.LogCaptureFixture
) -> None:
    node = _with_override(pair_dirs[1])
    encounter = encounter_from_dict(_unmarked_record(dataset), "enc.json")
    with caplog.at_level(logging.WARNING):
        enrol(node, encounter)
    assert "UNSAFE" in caplog.text and encounter.encounter_id in caplog.text
    stored = node.records.encounter(encounter.encounter_id)
    assert stored is not None and stored.provenance == UNMARKED
    node.database.close()


def test_records_marked_not_synthetic_are_refused_even_with_the_override(
    pair_dirs: tuple[Path, Path], dataset: DemoDataset
) -> None:
    node = _with_override(pair_dirs[1])
    real = Provenance(synthetic=False, generator="someone's registry")
    encounter = dataclasses.replace(dataset.encounters["PAN"][0], provenance=real)
    with pytest.raises(InvalidInput, match="synthetic records only"):
        enrol(node, encounter)
    entry = dataclasses.replace(dataset.watchlists["PAN"][0], provenance=real)
    with pytest.raises(InvalidInput, match="synthetic records only"):
        add_watchlist(node, [entry])
    assert node.records.count_encounters() == 0
    node.database.close()


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
