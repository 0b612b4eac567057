"""Opening the watchlist from its snapshot: one read of the store's labels, and a
snapshot that lacks an entry in force (or holds one the store has not) never shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biometric_exchange.matching import Gallery, load_snapshot, save_snapshot
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset


def _snapshot(node: Node) -> Path:
    (path,) = node.database.path.parent.glob("watchlist-*.snapshot")
    return Path(path)


def test_a_snapshot_with_an_entry_the_store_lacks_opens_without_it(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    chl.watchlist_index()
    path = _snapshot(chl)
    gallery = load_snapshot(path, chl.current_data_key())
    stray = np.asarray(dataset.watchlists["CHL"][0].template) + np.float32(0.001)
    gallery.add(["NOT-IN-THE-STORE"], stray[None, :])
    save_snapshot(path, gallery, chl.current_data_key())
    index = chl.watchlist_index()
    assert len(index) == len(dataset.watchlists["CHL"])
    (matches,) = index.search([stray], threshold=0.6, max_candidates=3)
    assert "NOT-IN-THE-STORE" not in [m.entry_id for m in matches]


def test_a_snapshot_missing_an_entry_in_force_is_rebuilt(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    chl.watchlist_index()
    path = _snapshot(chl)
    short = Gallery()
    entries = dataset.watchlists["CHL"][1:]
    short.add([e.entry_id for e in entries], np.stack([e.template for e in entries]))
    save_snapshot(path, short, chl.current_data_key())
    index = chl.watchlist_index()
    assert len(index) == len(dataset.watchlists["CHL"])
    first = dataset.watchlists["CHL"][0]
    (matches,) = index.search([np.asarray(first.template)], threshold=0.6, max_candidates=1)
    assert [m.entry_id for m in matches] == [first.entry_id]
