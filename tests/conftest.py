"""Shared fixtures: node folders with real keys and a signed agreement."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tables the commands print in tests are 200 columns wide, so that an assertion on a
# row sees it on one line. Rich reads COLUMNS when ``cli.common`` makes its consoles
# (pytest-xdist's workers set 80); tests of the width itself run ``bx`` as a process.
os.environ["COLUMNS"] = "200"

from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset, build_demo_dataset
from biometric_exchange.workspace import create_pair

SEED = 2017


@pytest.fixture(scope="session")
def dataset() -> DemoDataset:
    """The seeded demo dataset, its encounter window ending yesterday."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=15)
    return build_demo_dataset(SEED, start=start)


@pytest.fixture
def pair_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """(node_chile, node_panama) folders: configs on free ports, keys, agreement."""
    return create_pair(tmp_path)


@pytest.fixture
def nodes(pair_dirs: tuple[Path, Path], dataset: DemoDataset) -> Iterator[dict[str, Node]]:
    """Both nodes opened in this process, each with its synthetic watchlist."""
    opened = {"CHL": Node.open(pair_dirs[0]), "PAN": Node.open(pair_dirs[1])}
    for country, node in opened.items():
        node.records.add_watchlist(dataset.watchlists[country])
    yield opened
    for node in opened.values():
        node.database.close()
