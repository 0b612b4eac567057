"""Shared fixtures: node folders with real keys and a signed agreement."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Tables the commands print in tests are 200 columns wide, so that an assertion on a
# row sees it on one line. Rich reads COLUMNS when ``cli.common`` makes its consoles
# (pytest-xdist's workers set 80); tests of the width itself run ``bx`` as a process.
os.environ["COLUMNS"] = "200"

from biometric_exchange import workspace
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset, build_demo_dataset
from biometric_exchange.workspace import create_pair

SEED = 2017
STORE_ENV = "BX_TEST_STORE"
"""``postgresql``: every node folder the tests make keeps its state on a throwaway
PostgreSQL cluster (``loadtest.cluster``) instead of SQLite."""


def _store() -> str:
    store = os.environ.get(STORE_ENV, "sqlite")
    if store not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"{STORE_ENV}: sqlite or postgresql, not {store!r}")
    return store


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out the tests of SQLite's own files (``sqlite_files``)."""
    if _store() == "sqlite":
        return
    left = [item for item in items if item.get_closest_marker("sqlite_files")]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if not item.get_closest_marker("sqlite_files")]


def pytest_report_header() -> str:
    return f"node store: {_store()} ({STORE_ENV})"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster for the session (``Cluster.new_url`` per node)."""
    from biometric_exchange.loadtest.cluster import start_cluster

    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", autouse=True)
def _store_switch(request: pytest.FixtureRequest) -> Iterator[None]:
    """With ``BX_TEST_STORE=postgresql``, node folders get a ``[store] url`` each."""
    if _store() == "sqlite":
        yield
        return
    cluster = request.getfixturevalue("pg_cluster")
    plain = workspace.write_node_config

    def with_store(spec: workspace.NodeSpec, **kwargs: Any) -> None:
        plain(spec, **kwargs)
        path = spec.directory / workspace.CONFIG_FILENAME
        with path.open("a", encoding="utf-8") as out:
            out.write(f'\n[store]\nurl = "{cluster.new_url()}"\n')

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workspace, "write_node_config", with_store)
        yield


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
