"""The watchlist gallery kept as a sealed snapshot beside the node database."""

from __future__ import annotations

import numpy as np

from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset


def _snapshots(node: Node) -> list[str]:
    return sorted(p.name for p in node.database.path.parent.glob("watchlist-*.snapshot"))


def _search(index: WatchlistIndex, dataset: DemoDataset) -> list[list[str]]:
    probes = [e.template for e in dataset.encounters["CHL"]] + [
        e.template for e in dataset.watchlists["CHL"][:3]
    ]
    return [
        [m.entry_id for m in matches]
        for matches in index.search(probes, threshold=0.6, max_candidates=3)
    ]


def test_a_restart_loads_the_snapshot_and_finds_the_same(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    first = chl.watchlist_index()
    (name,) = _snapshots(chl)
    assert name == f"watchlist-g{chl.records.watchlist_generation()}.snapshot"
    raw = (chl.database.path.parent / name).read_bytes()
    assert dataset.watchlists["CHL"][0].template.astype("<f4").tobytes()[:16] not in raw

    again = chl.watchlist_index()
    assert _search(again, dataset) == _search(first, dataset)
    assert any(_search(again, dataset)), "the planted hits are found"
    assert len(again) == len(dataset.watchlists["CHL"])


def test_a_damaged_snapshot_is_rebuilt_from_the_rows(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    expected = _search(chl.watchlist_index(), dataset)
    (name,) = _snapshots(chl)
    path = chl.database.path.parent / name
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert _search(chl.watchlist_index(), dataset) == expected
    assert path.read_bytes() != bytes(damaged), "rewritten from the rows"


def test_a_watchlist_change_makes_a_new_snapshot(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    index = chl.watchlist_index()
    before = _snapshots(chl)
    moved = [
        type(dataset.watchlists["PAN"][0])(
            entry_id=f"CHL-EXTRA-{n}",
            category=e.category,
            person=e.person,
            template=e.template,
            valid_until=e.valid_until,
            provenance=e.provenance,
        )
        for n, e in enumerate(dataset.watchlists["PAN"][:2])
    ]
    chl.records.add_watchlist(moved)
    index.refresh()
    after = _snapshots(chl)
    assert after != before and len(after) == 1
    assert len(index) == len(dataset.watchlists["CHL"]) + 2
    (matches,) = index.search([np.asarray(moved[0].template)], threshold=0.6, max_candidates=1)
    assert [m.entry_id for m in matches] == ["CHL-EXTRA-0"]


def test_expired_entries_stay_out_when_loading_the_snapshot(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    import dataclasses
    import datetime as dt

    chl = nodes["CHL"]
    expired = dataclasses.replace(
        dataset.watchlists["PAN"][0],
        entry_id="CHL-EXPIRED",
        valid_until=dt.date.today() - dt.timedelta(days=1),
    )
    chl.records.add_watchlist([expired])
    for index in (chl.watchlist_index(), chl.watchlist_index()):  # rows, then snapshot
        assert len(index) == len(dataset.watchlists["CHL"])
        (matches,) = index.search([expired.template], threshold=0.6, max_candidates=3)
        assert "CHL-EXPIRED" not in [m.entry_id for m in matches]
    assert len(_snapshots(chl)) == 1
