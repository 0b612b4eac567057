"""The watchlist generation moves with every change of what a search reads, so a
snapshot's labels can be trusted for the generation they are stamped with.

The store changes the watchlist only by adding entries (``add_watchlist``);
nothing removes an entry or changes its category, validity or protected facts.
The other writers of the table (data key rotation, sealing of clear rows) and
retention leave every field a search reads as it was; these tests hold them to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from biometric_exchange.crypto.keys import keys_dir
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.records import WatchlistLabel, WatchlistVersion
from biometric_exchange.store.rekey import rotate_data_key
from biometric_exchange.store.retention import run_retention
from biometric_exchange.synthetic import DemoDataset


def _read(node: Node) -> tuple[WatchlistVersion, list[WatchlistLabel], list[bytes]]:
    """The version and everything a gallery and its labels are built from."""
    labels: list[WatchlistLabel] = []
    templates: list[bytes] = []
    for chunk_labels, chunk_templates in node.records.watchlist_rows(batch=7):
        labels.extend(chunk_labels)
        templates.extend(np.asarray(t).tobytes() for t in chunk_templates)
    return node.records.watchlist_version(), labels, templates


def test_each_add_moves_the_generation_and_a_refused_one_changes_nothing(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    before = _read(chl)
    new = [
        dataclasses.replace(e, entry_id=f"CHL-NEW-{n}")
        for n, e in enumerate(dataset.watchlists["PAN"][:3])
    ]
    chl.records.add_watchlist(new[:2])
    after = _read(chl)
    assert after[0].generation == before[0].generation + 1
    assert after[0].token != before[0].token
    assert chl.records.watchlist_generation() == after[0].generation
    assert len(after[1]) == len(before[1]) + 2
    with pytest.raises(InvalidInput, match="already on this node's watchlist"):
        chl.records.add_watchlist([new[2], new[0]])
    assert _read(chl) == after
    chl.records.add_watchlist([])
    assert _read(chl) == after


def test_rotating_the_data_key_changes_nothing_a_search_reads(
    nodes: dict[str, Node],
) -> None:
    pan = nodes["PAN"]
    before = _read(pan)
    rotation = rotate_data_key(keys_dir(pan.node_dir), pan.database, pan.audit)
    assert rotation.resealed["watchlist"] == len(before[1])
    assert _read(pan) == before


def test_retention_changes_nothing_a_search_reads(nodes: dict[str, Node]) -> None:
    chl = nodes["CHL"]
    before = _read(chl)
    run_retention(
        chl.database,
        chl.audit,
        exchanged_data_days={"PAN": 1},
        audit_days=1,
        now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3650),
    )
    assert _read(chl) == before
