"""Combining concurrent callers into batches: searches and commits."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.combine import Combiner
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.database import Database
from biometric_exchange.synthetic import DemoDataset


class Gate:
    """A batch function that holds its first batch until released, recording batches."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_running = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_running.set()
            assert self.release.wait(10)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_a_lone_caller_runs_at_once() -> None:
    gate = Gate()
    gate.release.set()
    combiner: Combiner[int, int] = Combiner(gate)
    assert combiner.submit(4) == 40
    assert gate.batches == [[4]]


def test_callers_arriving_during_a_batch_share_the_next_one() -> None:
    gate = Gate()
    combiner: Combiner[int, int] = Combiner(gate, max_items=3)
    results: dict[int, int | str] = {}

    def call(item: int) -> None:
        try:
            results[item] = combiner.submit(item)
        except ValueError as exc:
            results[item] = str(exc)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert gate.first_running.wait(10)
    others = [threading.Thread(target=call, args=(item,)) for item in (2, 3, 4, 6)]
    for thread in others:
        thread.start()
    while combiner.waiting < 4:  # every other caller is queued behind the running batch
        threading.Event().wait(0.001)
    gate.release.set()
    for thread in (first, *others):
        thread.join(10)
    assert gate.batches[0] == [0]
    assert sorted(len(batch) for batch in gate.batches[1:]) == [1, 3], "max_items bounds a batch"
    assert sorted(item for batch in gate.batches for item in batch) == [0, 2, 3, 4, 6]
    assert results == {0: 0, 2: 20, 3: "odd 3", 4: 40, 6: 60}
    assert (combiner.batches, combiner.items) == (3, 5)


def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def broken(items: Sequence[int]) -> list[int]:
        raise RuntimeError("the batch failed")

    combiner: Combiner[int, int] = Combiner(broken)
    with pytest.raises(RuntimeError, match="the batch failed"):
        combiner.submit(1)
    with pytest.raises(RuntimeError, match="a batch of 1 gave 0 outcomes"):
        Combiner(lambda items: []).submit(1)


def test_grouped_works_commit_together_and_a_refusal_is_undone_alone(tmp_path: Path) -> None:
    database = Database(tmp_path / "node.sqlite3")
    database.connection.execute("CREATE TABLE notes (text TEXT)")

    def note(text: str) -> str:
        database.connection.execute("INSERT INTO notes VALUES (?)", (text,))
        if text == "refused":
            raise InvalidInput("refused: undone alone")
        return text

    assert database.group(lambda: note("kept")) == "kept"
    with pytest.raises(InvalidInput, match="undone alone"):
        database.group(lambda: note("refused"))
    with database.transaction():  # inside a transaction a group work runs inline
        assert database.group(lambda: note("inline")) == "inline"
    rows = database.connection.execute("SELECT text FROM notes ORDER BY rowid").fetchall()
    assert [row[0] for row in rows] == ["kept", "inline"]
    database.close()


def test_concurrent_searches_find_what_one_search_finds(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    index: WatchlistIndex = nodes["CHL"].watchlist_index()
    probes = [e.template for e in dataset.encounters["PAN"]] * 4
    alone = [index.search([p], threshold=0.6, max_candidates=3)[0] for p in probes]
    found: dict[int, object] = {}

    def search(number: int) -> None:
        found[number] = index.search([probes[number]], threshold=0.6, max_candidates=3)[0]

    threads = [threading.Thread(target=search, args=(n,)) for n in range(len(probes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [found[n] for n in range(len(probes))] == alone
    assert any(alone), "the demo dataset plants hits on Chile's watchlist"
    assert np.isfinite([m.distance for matches in alone for m in matches]).all()
