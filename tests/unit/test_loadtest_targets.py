"""The load run's targets follow the watchlist's size; the holder's settings reach it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from biometric_exchange.loadtest import LoadConfig
from biometric_exchange.loadtest.config import single_targets
from biometric_exchange.loadtest.pair import prepare_pair


def test_national_scale_has_its_own_targets() -> None:
    assert single_targets(100_000) == (300.0, 50.0)
    assert single_targets(999_999) == (300.0, 50.0)
    assert single_targets(1_000_000) == (100.0, 100.0)
    assert single_targets(10_000_000) == (100.0, 100.0)


def test_the_holder_gets_the_runs_matching_settings(tmp_path: Path) -> None:
    config = LoadConfig(watchlist=10, calls=5, compact_from=0, batch_window_ms=2.0)
    holder, _caller = prepare_pair(config, tmp_path)
    matching = tomllib.loads((holder / "node.toml").read_text())["matching"]
    assert matching["compact_from"] == 0 and matching["batch_window_ms"] == 2.0
    assert LoadConfig().holder_matching() == {}
