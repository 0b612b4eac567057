"""A restart takes the watchlist's labels from its snapshot: the watchlist table is not
read, the matches are those of labels read from the store, expiry by date holds (an
injected clock), and labels of another generation are never used."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pytest

from biometric_exchange.agreement.policy import category_of
from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.config import MatchingSection
from biometric_exchange.domain import LegalStatus, WatchlistEntry
from biometric_exchange.node.index.watchlist import WatchlistIndex, WatchlistMatch
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset

DAY = dt.date(2031, 5, 20)


class Reads:
    """The statements a connection runs that read the watchlist table."""

    def __init__(self, connection: Any) -> None:
        self.seen: list[str] = []
        self._connection = connection

    def __enter__(self) -> Reads:
        self._connection.set_trace_callback(self.seen.append)
        return self

    def __exit__(self, *_: object) -> None:
        self._connection.set_trace_callback(None)

    @property
    def of_the_watchlist(self) -> list[str]:
        return [s for s in self.seen if "from watchlist" in " ".join(s.lower().split())]


def _entry(base: WatchlistEntry, entry_id: str, **changes: Any) -> WatchlistEntry:
    until = changes.pop("valid_until", None)
    person = dataclasses.replace(base.person, **changes)
    return dataclasses.replace(base, entry_id=entry_id, person=person, valid_until=until)


@pytest.fixture
def chl(nodes: dict[str, Node], dataset: DemoDataset) -> Node:
    """CHL with entries of every protected kind and of every validity around DAY."""
    node = nodes["CHL"]
    donors = dataset.watchlists["PAN"]
    node.records.add_watchlist(
        [
            _entry(donors[0], "CHL-MINOR", unaccompanied_minor=True),
            _entry(donors[1], "CHL-REFUGEE", legal_status=LegalStatus.REFUGEE),
            _entry(donors[2], "CHL-ASYLUM", legal_status=LegalStatus.ASYLUM_SEEKER),
            _entry(donors[3], "CHL-XXB", nationality="XXB"),
            _entry(donors[4], "CHL-ENDED", valid_until=DAY - dt.timedelta(days=1)),
            _entry(donors[5], "CHL-ENDS-TODAY", valid_until=DAY),
            _entry(donors[6], "CHL-ENDS-TOMORROW", valid_until=DAY + dt.timedelta(days=1)),
        ]
    )
    return node


def _index(
    node: Node, day: dt.date, *, cached: bool = True, compact: bool = False
) -> WatchlistIndex:
    return WatchlistIndex(
        node.records,
        cache_dir=node.database.folder if cached else None,
        data_key=node.current_data_key if cached else None,
        today=lambda: day,
        settings=MatchingSection(compact_from=0 if compact else 100_000),
    )


def _probes(node: Node, dataset: DemoDataset) -> list[np.ndarray]:
    listed = [np.asarray(e.template) for e in node.records.watchlist()]
    return listed + [np.asarray(e.template) for e in dataset.encounters["CHL"][:10]]


def _matches(index: WatchlistIndex, probes: list[np.ndarray]) -> list[list[WatchlistMatch]]:
    return index.search(probes, threshold=0.6, max_candidates=3)


def _in_force(node: Node, day: dt.date) -> set[str]:
    return {label.entry_id for label in node.records.watchlist_labels(valid_on=day)}


@pytest.mark.parametrize("compact", [False, True])
def test_a_restart_reads_no_watchlist_row_and_matches_as_the_store_labels_do(
    chl: Node, dataset: DemoDataset, compact: bool
) -> None:
    probes = _probes(chl, dataset)
    expected = _matches(_index(chl, DAY, cached=False, compact=compact), probes)
    _index(chl, DAY, compact=compact)  # built from the rows, saved with its labels
    with Reads(chl.database.connection) as reads:
        restarted = _index(chl, DAY, compact=compact)
    assert reads.seen, "the store was asked its generation"
    assert reads.of_the_watchlist == []
    assert _matches(restarted, probes) == expected
    found = {m.entry_id: m for matches in expected for m in matches}
    assert found["CHL-MINOR"].protected is ProtectedCategory.UNACCOMPANIED_MINOR
    assert found["CHL-MINOR"].unaccompanied_minor
    assert found["CHL-REFUGEE"].protected is ProtectedCategory.REFUGEE
    assert found["CHL-XXB"].protected is ProtectedCategory.REFUGEE
    assert found["CHL-ASYLUM"].protected is ProtectedCategory.ASYLUM_SEEKER
    for match in found.values():  # as the store's own records say
        entry = chl.records.watchlist_entry(match.entry_id)
        assert entry is not None
        person = entry.person
        assert (match.category, match.protected) == (
            entry.category,
            category_of(
                nationality_code=person.nationality,
                legal_status=person.legal_status,
                unaccompanied_minor=person.unaccompanied_minor,
            ),
        )
    entries = restarted.entries()
    assert set(entries.ids) == _in_force(chl, DAY)
    assert entries.protected["CHL-MINOR"] is ProtectedCategory.UNACCOMPANIED_MINOR


@pytest.mark.parametrize("compact", [False, True])
def test_expiry_follows_the_clock_on_every_restart_from_the_snapshot(
    chl: Node, dataset: DemoDataset, compact: bool
) -> None:
    probes = _probes(chl, dataset)
    for offset in (0, 1, 2, -1):
        day = DAY + dt.timedelta(days=offset)
        with Reads(chl.database.connection) as reads:
            index = _index(chl, day, compact=compact)
        if offset:
            assert reads.of_the_watchlist == [], "the labels came from the snapshot"
        assert set(index.entries().ids) == _in_force(chl, day)
        hits = {m.entry_id for matches in _matches(index, probes) for m in matches}
        assert ("CHL-ENDS-TODAY" in hits) is (day <= DAY)
        assert ("CHL-ENDS-TOMORROW" in hits) is (day <= DAY + dt.timedelta(days=1))
        assert ("CHL-ENDED" in hits) is (day < DAY)
        assert "CHL-MINOR" in hits
        assert _matches(index, probes) == _matches(
            _index(chl, day, cached=False, compact=compact), probes
        )
    assert len(list(chl.database.folder.glob("watchlist-*.snapshot"))) == 1


def test_labels_of_another_generation_are_never_used(chl: Node, dataset: DemoDataset) -> None:
    index = _index(chl, DAY)
    (old,) = chl.database.folder.glob("watchlist-*.snapshot")
    stale = old.read_bytes()
    chl.records.add_watchlist(
        [_entry(dataset.watchlists["PAN"][8], "CHL-LATE", legal_status=LegalStatus.REFUGEE)]
    )
    index.refresh()
    (new,) = chl.database.folder.glob("watchlist-*.snapshot")
    assert new != old
    new.write_bytes(stale)  # the previous generation's content under the current name
    with Reads(chl.database.connection) as reads:
        restarted = _index(chl, DAY)
    assert reads.of_the_watchlist, "rebuilt from the rows"
    late = np.asarray(dataset.watchlists["PAN"][8].template)
    (matches,) = _matches(restarted, [late])
    assert matches[0].entry_id == "CHL-LATE"
    assert matches[0].protected is ProtectedCategory.REFUGEE
    assert new.read_bytes() != stale, "saved again with the current generation"
    with Reads(chl.database.connection) as reads:
        _index(chl, DAY)
    assert reads.of_the_watchlist == []


def test_a_store_at_the_same_generation_by_another_history_rebuilds(chl: Node) -> None:
    """A store restored from a backup and changed again reaches the generation of a
    snapshot it never made: the token drawn with every change tells them apart."""
    _index(chl, DAY)
    with chl.database.transaction() as connection:
        connection.execute("UPDATE meta SET value = 'elsewhere' WHERE key = 'watchlist_token'")
    with Reads(chl.database.connection) as reads:
        _index(chl, DAY)
    assert reads.of_the_watchlist, "rebuilt from the rows"
    with Reads(chl.database.connection) as reads:
        _index(chl, DAY)
    assert reads.of_the_watchlist == []
