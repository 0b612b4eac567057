"""A running node's watchlist follows the date: an entry stops matching the day after its
last day in force, without a restart or a change of the watchlist, and a day that ends
no entry rebuilds nothing."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from biometric_exchange.config import MatchingSection
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from tests.unit.test_watchlist_labels_start import DAY, _in_force, _matches, _probes, chl

__all__ = ["chl"]  # the fixture, for pytest


@pytest.mark.parametrize("compact", [False, True])
def test_entries_leave_the_running_index_as_the_days_pass(
    chl: Node, dataset: DemoDataset, compact: bool
) -> None:
    today = [DAY - dt.timedelta(days=2)]
    index = WatchlistIndex(
        chl.records,
        cache_dir=chl.database.folder,
        data_key=chl.current_data_key,
        today=lambda: today[0],
        settings=MatchingSection(compact_from=0 if compact else 100_000),
    )
    probes = _probes(chl, dataset)
    generation = chl.records.watchlist_generation()
    seen = []
    for offset in (-2, -1, 0, 1, 2, 3):
        today[0] = DAY + dt.timedelta(days=offset)
        hits = {m.entry_id for matches in _matches(index, probes) for m in matches}
        assert ("CHL-ENDED" in hits) is (offset < 0)
        assert ("CHL-ENDS-TODAY" in hits) is (offset <= 0)
        assert ("CHL-ENDS-TOMORROW" in hits) is (offset <= 1)
        assert "CHL-MINOR" in hits
        assert set(index.entries(refresh=False).ids) == _in_force(chl, today[0])
        seen.append(index._snapshot.gallery)
    assert chl.records.watchlist_generation() == generation  # nothing changed in the store
    # Rebuilt only on the days that ended an entry (-1 → 0, 0 → 1, 1 → 2).
    rebuilt = [a is not b for a, b in itertools.pairwise(seen)]
    assert rebuilt == [False, True, True, True, False]


def test_the_plausibility_sample_of_a_large_watchlist_is_uniform_and_repeatable(
    chl: Node, dataset: DemoDataset
) -> None:
    index = WatchlistIndex(chl.records, today=lambda: DAY)
    version, everything = index.sample(10_000)
    entries = index.entries(refresh=False)
    assert version == entries.version and len(everything) == len(entries.ids)
    limit = len(entries.ids) // 2
    drawn_version, drawn = index.sample(limit)
    assert drawn_version == version and drawn.shape == (limit, everything.shape[1])
    rows = {row.tobytes() for row in everything}
    assert all(row.tobytes() in rows for row in drawn)  # templates in force, no others
    assert len({row.tobytes() for row in drawn}) == limit  # without replacement
    np.testing.assert_array_equal(index.sample(limit)[1], drawn)  # the same draw again
