"""Open a node's database: SQLite in its folder, or PostgreSQL (``[store] url``)."""

from __future__ import annotations

from pathlib import Path

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.store.database import Database

POSTGRES_EXTRA = "pip install 'biometric-exchange[postgres]'"


def open_database(path: Path, url: str | None = None) -> Database:
    """SQLite at ``path`` without ``url``; with it, the PostgreSQL database it names
    (the node's other files stay in ``path``'s folder)."""
    if url is None:
        return Database(path)
    try:
        from biometric_exchange.store.postgres import PostgresDatabase  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            f"[store] url: a PostgreSQL store needs psycopg ({POSTGRES_EXTRA}): {exc}"
        ) from exc
    return PostgresDatabase(url, path.parent)
