"""A node's database on a PostgreSQL server, shared by several node processes.

The same stores, queries and migrations as on SQLite (``store.dialect``
translates them). Each writing transaction holds the node's advisory lock, so
that writers follow one another as on SQLite, whichever process they run in:
read-modify-write steps (the audit chain's head, quotas, alert merging) stay
correct without a change, and the audit log stays one chain. The outbox is
claimed without that lock (``FOR UPDATE SKIP LOCKED``), so processes taking
work never wait on each other. Migrations run under the same lock, so
processes starting at once apply each migration once.

psycopg is imported here only: a node without ``[store] url`` never loads it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper, Loader

from biometric_exchange.exceptions import ConfigError
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import (
    ADVISORY_WRITE_LOCK,
    FUNCTIONS,
    Connection,
    ddl,
    query,
)

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT = "30s"
"""A writer waits this long for the node's write lock before its call fails."""


class Row:
    """A result row read by position or by column name, as ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: Any) -> Any:
    """psycopg row factory making ``Row``s."""
    description = cursor.description or ()
    index = {column.name: number for number, column in enumerate(description)}
    return lambda values: Row(values, index)


class _FlagDumper(Dumper):
    """Python booleans go in as 0/1, as SQLite keeps them (the columns are integers)."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _NumberLoader(Loader):
    """``numeric`` (what ``sum`` of integers gives) as an int when whole, else a float."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class PgConnection:
    """A psycopg connection speaking the stores' SQL (``Connection``)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._trace: Callable[[str], object] | None = None

    @property
    def in_transaction(self) -> bool:
        return self._connection.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def lost(self) -> bool:
        """The server closed the connection (restarted, or ended this session): the
        call that met it failed; the thread's next call gets a new connection."""
        return self._connection.broken or self._connection.closed

    def set_trace_callback(self, trace: Callable[[str], object] | None) -> None:
        """Call ``trace`` with each statement run, as ``sqlite3.Connection`` does."""
        self._trace = trace

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        """Run ``sql`` (without parameters: as written, placeholders untouched)."""
        if self._trace is not None:
            self._trace(sql)
        if not parameters:
            return self._connection.execute(sql.encode())
        return self._connection.execute(query(sql), parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> psycopg.Cursor[Any]:
        rows = list(seq_of_parameters)
        if self._trace is not None:
            for _ in rows:
                self._trace(sql)
        cursor = self._connection.cursor()
        cursor.executemany(query(sql), rows)
        return cursor

    def close(self) -> None:
        self._connection.close()


_PASSWORD = re.compile(r"^[a-z]+://[^:@/?#\[]*:([^@/?#]*)@", re.IGNORECASE)


def without_password(text: str, url: str) -> str:
    """``text`` with ``url``'s password (as written and percent-decoded) masked."""
    found = _PASSWORD.match(url)
    if found is None or not found.group(1):
        return text
    password = found.group(1)
    for form in {password, unquote(password)}:
        text = text.replace(form, "***")
    return text


def connect(url: str) -> PgConnection:
    """An autocommit connection to ``url`` with the stores' row and type handling."""
    try:
        connection = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_rows
        )
    except psycopg.Error as exc:
        # libpq quotes the part of the URL it cannot read, password and all.
        raise ConfigError(
            f"[store] url: cannot connect to the database: {without_password(str(exc), url)}"
        ) from None
    connection.adapters.register_dumper(bool, _FlagDumper)
    connection.adapters.register_loader("numeric", _NumberLoader)
    connection.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'".encode())
    return PgConnection(connection)


class PostgresDatabase(Database):
    """A node's database on PostgreSQL (``[store] url``); ``folder`` keeps the node's
    files (watchlist snapshots) beside the node's other data."""

    shared = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self._folder = folder
        super().__init__(folder / "postgresql")

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def where(self) -> str:
        return "[store] url database"

    def _prepare(self) -> threading.RLock:
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return threading.RLock()

    def _ready(self) -> None:
        return None

    def _connect(self) -> Connection:
        return connect(self.url)

    def _lost(self, connection: Connection) -> bool:
        return isinstance(connection, PgConnection) and connection.lost

    def _begin(self, connection: Connection, exclusive: bool) -> None:
        connection.execute("BEGIN")
        if exclusive:
            connection.execute("SELECT pg_advisory_xact_lock(?)", (ADVISORY_WRITE_LOCK,))

    def _version(self, connection: Connection) -> int:
        for statement in FUNCTIONS:
            connection.execute(statement)
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        row: Any = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _set_version(self, connection: Connection, number: int) -> None:
        connection.execute("DELETE FROM schema_version")
        connection.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))

    def _apply(self, connection: Connection, statement: str) -> None:
        translated = ddl(statement)
        if translated is not None:
            connection.execute(translated)

    def tables(self) -> set[str]:
        rows = self.connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return {str(row[0]) for row in rows}

    def size_bytes(self) -> int:
        """The space the database takes on the server (``pg_database_size``)."""
        row: Any = self.connection.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0])

    @contextmanager
    def overwriting(self) -> Iterator[None]:
        """No file of this node holds the rows: the server reclaims replaced values at
        its next VACUUM (docs/operations.md); the block runs as it is."""
        yield
