"""The holder's batching window and the int8 gallery of a large watchlist."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from biometric_exchange.combine import Combiner
from biometric_exchange.config import MatchingSection, load_config
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.matching import CompactGallery, Gallery
from biometric_exchange.node.index.watchlist import WatchlistIndex
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from tests.unit.test_agreement_and_config import GOOD_CONFIG


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        return [item * 2 for item in items]


def test_calls_arriving_one_after_another_share_a_pass() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder, window=0.5)
    answers: dict[int, int] = {}

    def call(number: int) -> None:
        answers[number] = combiner.submit(number)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
    for thread in threads:  # one after another, as through the guard's lock
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(10)
    assert answers == {n: 2 * n for n in range(4)}
    assert recorder.batches == [[0, 1, 2, 3]]


def test_a_full_batch_does_not_wait_out_the_window() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder, max_items=2, window=1.0)
    done = threading.Event()
    first = threading.Thread(target=lambda: (combiner.submit(1), done.set()))
    first.start()
    assert combiner.submit(2) == 4
    assert done.wait(10)
    first.join(10)
    assert sorted(item for batch in recorder.batches for item in batch) == [1, 2]
    assert [len(batch) for batch in recorder.batches] == [2]


def test_without_a_window_a_lone_call_runs_alone() -> None:
    recorder = Recorder()
    combiner: Combiner[int, int] = Combiner(recorder)
    assert [combiner.submit(n) for n in range(3)] == [0, 2, 4]
    assert recorder.batches == [[0], [1], [2]]


def test_a_window_is_bounded() -> None:
    with pytest.raises(ValueError, match="window"):
        Combiner(Recorder(), window=2.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("batch_window_ms = 2.5", r"matching\.batch_window_ms: .*less than or equal to 2"),
        ("batch_window_ms = -1", r"matching\.batch_window_ms: .*greater than or equal to 0"),
        ("compact_from = -5", r"matching\.compact_from: .*greater than or equal to 0"),
    ],
)
def test_matching_settings_are_validated(extra: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text(GOOD_CONFIG + f"\n[matching]\n{extra}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path)


def test_defaults_batch_and_go_compact_for_large_watchlists() -> None:
    settings = MatchingSection()
    assert 0 < settings.batch_window_ms <= 2
    assert settings.compact_from == 100_000


def _ids(index: WatchlistIndex, dataset: DemoDataset) -> list[list[str]]:
    probes = [e.template for e in dataset.encounters["CHL"]]
    return [
        [m.entry_id for m in found]
        for found in index.search(probes, threshold=0.6, max_candidates=3)
    ]


def test_a_large_watchlist_is_searched_compact_with_the_same_hits(
    nodes: dict[str, Node], dataset: DemoDataset
) -> None:
    chl = nodes["CHL"]
    records, folder, key = chl.records, chl.database.path.parent, chl.current_data_key
    exact = WatchlistIndex(records, settings=MatchingSection(compact_from=10**9))
    compact = WatchlistIndex(records, settings=MatchingSection(compact_from=1))
    cached = WatchlistIndex(
        records, cache_dir=folder, data_key=key, settings=MatchingSection(compact_from=1)
    )
    reloaded = WatchlistIndex(
        records, cache_dir=folder, data_key=key, settings=MatchingSection(compact_from=1)
    )
    assert type(exact._snapshot.gallery) is Gallery
    for index in (compact, cached, reloaded):
        assert isinstance(index._snapshot.gallery, CompactGallery)
        assert _ids(index, dataset) == _ids(exact, dataset)
    assert any(_ids(exact, dataset)), "the demo dataset plants hits"
