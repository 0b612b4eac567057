"""A gallery is built from the watchlist's templates alone: no personal field is opened."""

from __future__ import annotations

import numpy as np

from biometric_exchange.node.runtime import Node


def test_watchlist_templates_are_the_entries_templates(nodes: dict[str, Node]) -> None:
    chile = nodes["CHL"]
    entries = sorted(chile.records.watchlist(), key=lambda e: e.entry_id)

    ids, templates = chile.records.watchlist_templates()

    assert ids == [e.entry_id for e in entries]
    assert np.array_equal(np.stack(templates), np.stack([e.template for e in entries]))


def test_watchlist_templates_open_no_personal_field(nodes: dict[str, Node]) -> None:
    chile = nodes["CHL"]
    with chile.database.transaction() as connection:
        connection.execute("UPDATE watchlist SET given_name = X'00'")  # no longer opens

    ids, templates = chile.records.watchlist_templates()

    assert len(ids) == len(templates) > 0
    for snapshot in chile.database.path.parent.glob("watchlist-g*.snapshot"):
        snapshot.unlink()  # no snapshot: the index rebuilds its gallery from the rows
    rebuilt = chile.watchlist_index()
    assert len(rebuilt) == len(ids)
