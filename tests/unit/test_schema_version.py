"""A database written by a newer release is refused, not migrated backwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.store.database import Database
from biometric_exchange.store.schema import MIGRATIONS


def test_a_sqlite_schema_newer_than_the_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    Database(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    connection.close()
    with pytest.raises(ConfigError, match=f"schema version {len(MIGRATIONS) + 1} is newer"):
        Database(path)


def test_the_current_schema_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite3"
    Database(path).close()
    database = Database(path)
    (version,) = database.connection.execute("PRAGMA user_version").fetchone()
    assert version == len(MIGRATIONS)
    database.close()
