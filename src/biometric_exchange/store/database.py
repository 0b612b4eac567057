"""One SQLite database per node, in WAL mode, one connection per thread.

(``store.postgres`` holds the same on a PostgreSQL server, for several
processes of one node.)

Writers of one process queue on a lock shared by every ``Database`` of the same
file, so a thread waiting to write is woken the moment the previous
transaction ends, instead of SQLite's busy handler sleeping and retrying
(1, 2, 5, 10… ms); the busy timeout still arbitrates between processes.
``group`` commits the work of concurrent callers in one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from biometric_exchange.combine import Combiner
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.store.dialect import Connection
from biometric_exchange.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
GROUP_MAX_WORKS = 64
"""Most callers' works committed in one transaction."""
T = TypeVar("T")
Work = Callable[[], Any]

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")
"""SQLite's companions of the database file (they take its mode when created)."""

_WRITE_LOCKS: dict[Path, threading.RLock] = {}
_REGISTRY_LOCK = threading.Lock()


def _create_private(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) when missing, so
    the -wal and -shm files SQLite makes beside it get mode 0600 as well."""
    if not path.parent.exists():
        path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        path.parent.chmod(FOLDER_MODE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create database {path}: {exc}") from exc
    os.close(fd)


def database_files(path: Path) -> list[Path]:
    """The database file and whichever of SQLite's companion files exist."""
    candidates = [path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)]
    return [candidate for candidate in candidates if candidate.exists()]


def tighten_modes(path: Path) -> None:
    """Take group and other access off the database and its companion files."""
    for file in database_files(path):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                file.chmod(mode & ~0o077)
        except FileNotFoundError:  # a companion file removed meanwhile
            continue


def _write_lock(path: Path) -> threading.RLock:
    """The lock every writer of ``path`` in this process takes (re-entrant: a thread
    writing through a second ``Database`` of the same file meets SQLite's busy
    timeout, as before, not a deadlock)."""
    key = path.resolve()
    with _REGISTRY_LOCK:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


def check_version(current: int, where: str) -> None:
    """Refuse a schema newer than this code's migrations (a newer release wrote it)."""
    if current > len(MIGRATIONS):
        raise ConfigError(
            f"{where}: schema version {current} is newer than this release's "
            f"({len(MIGRATIONS)}); run the release that wrote it"
        )


class Database:
    """A node's database. Safe to share between threads and processes."""

    shared = False
    """True when several node processes may serve one database (PostgreSQL)."""
    skip_locked = ""
    """Appended to a ``SELECT`` that claims rows: PostgreSQL's ``FOR UPDATE SKIP
    LOCKED``; nothing on SQLite, where one writer at a time is the rule."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._group: Combiner[Work, Any] = Combiner(self._commit_group, max_items=GROUP_MAX_WORKS)
        self._write = self._prepare()
        self._migrate()
        self._ready()

    @property
    def folder(self) -> Path:
        """The node's data folder (snapshots and other files beside the database)."""
        return self.path.parent

    @property
    def where(self) -> str:
        """The database, as messages name it."""
        return str(self.path)

    def _prepare(self) -> threading.RLock:
        """Make the database reachable; return the lock this process's writers take."""
        _create_private(self.path)
        return _write_lock(self.path)

    def _ready(self) -> None:
        tighten_modes(self.path)

    def _connect(self) -> Connection:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open database {self.path}: {exc}") from exc
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @property
    def connection(self) -> Connection:
        """This thread's connection (autocommit; use ``transaction`` to write)."""
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or self._lost(connection):
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _lost(self, connection: Connection) -> bool:
        """Whether ``connection`` can no longer be used (its server went away)."""
        return False

    def _begin(self, connection: Connection, exclusive: bool) -> None:
        """Start a writing transaction: SQLite's IMMEDIATE takes the write lock."""
        connection.execute("BEGIN IMMEDIATE")

    @contextmanager
    def transaction(self, *, exclusive: bool = True) -> Iterator[Connection]:
        """An IMMEDIATE transaction: committed on success, rolled back on error.

        On PostgreSQL it holds the node's write lock too (one writer at a time, as
        on SQLite, whichever process writes), unless ``exclusive`` is false: then it
        writes only rows it has locked itself (``skip_locked``).

        Inside another transaction of this thread it is a savepoint: its work is
        undone on error and kept, for the outer transaction to commit, on
        success. So a call's writes can share one transaction (one commit)
        while each store still writes atomically on its own. Inside a ``group``
        work it is nothing more: the work's own savepoint undoes the whole work.
        """
        connection = self.connection
        if getattr(self._local, "grouped", False):
            yield connection
            return
        if connection.in_transaction:
            depth = getattr(self._local, "depth", 0) + 1
            self._local.depth = depth
            savepoint = f"nested_{depth}"
            connection.execute(f"SAVEPOINT {savepoint}")
            try:
                yield connection
            except BaseException:
                connection.execute(f"ROLLBACK TO {savepoint}")
                connection.execute(f"RELEASE {savepoint}")
                raise
            finally:
                self._local.depth = depth - 1
            connection.execute(f"RELEASE {savepoint}")
            return
        with self._write:
            try:
                self._begin(connection, exclusive)
            except BaseException:
                # PostgreSQL: BEGIN ran, the write lock was not had (lock_timeout);
                # end that transaction, or every later call of this thread fails.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def group(self, work: Callable[[], T]) -> T:
        """``work()`` in a transaction shared with the works of concurrent callers
        (group commit): each runs in a savepoint of its own, so one that raises is
        undone alone and its exception raised in its caller's thread. Works may run
        in another caller's thread: they must write through this database only."""
        if self.connection.in_transaction:
            with self.transaction():
                return work()
        result: T = self._group.submit(work)
        return result

    def _commit_group(self, works: Sequence[Work]) -> list[Any]:
        outcomes: list[Any] = []
        with self.transaction():
            for work in works:
                try:
                    with self.transaction():
                        self._local.grouped = True
                        try:
                            outcomes.append(work())
                        finally:
                            self._local.grouped = False
                except Exception as exc:  # that caller's refusal, raised in its thread
                    outcomes.append(exc)
        return outcomes

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, in order; refuse a newer schema."""
        with self.transaction() as connection:
            current = self._version(connection)
            check_version(current, self.where)
            for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        self._apply(connection, statement)
                self._set_version(connection, number)

    def _version(self, connection: Connection) -> int:
        return int(connection.execute("PRAGMA user_version").fetchone()[0])

    def _set_version(self, connection: Connection, number: int) -> None:
        connection.execute(f"PRAGMA user_version = {number}")

    def _apply(self, connection: Connection, statement: str) -> None:
        connection.execute(statement)

    def tables(self) -> set[str]:
        """The names of the tables the database holds."""
        rows = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
        return {str(row[0]) for row in rows}

    def size_bytes(self) -> int:
        """The space the database takes (its file, once the write-ahead log is
        checkpointed into it)."""
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return os.path.getsize(self.path)

    @contextmanager
    def overwriting(self) -> Iterator[None]:
        """For the block, SQLite's ``secure_delete`` on this thread's connection, then a
        checkpoint of the write-ahead log: values replaced or deleted meanwhile leave
        no bytes behind in the database file or its log."""
        connection = self.connection
        (before,) = connection.execute("PRAGMA secure_delete").fetchone()
        connection.execute("PRAGMA secure_delete = ON")
        try:
            yield
        finally:
            connection.execute(f"PRAGMA secure_delete = {int(before)}")
        if not connection.in_transaction:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def close(self) -> None:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
