"""The replay guard kept in the node database, shared by every process."""

from __future__ import annotations

import sqlite3

from biometric_exchange.crypto.envelope import TIME_WINDOW_MS
from biometric_exchange.store.database import Database


class SqliteReplayGuard:
    """Remembers (sender, message id); forgets ids older than twice the time window,
    which the envelope's time check already refuses."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def remember(self, message_id: str, sender: str, created_at_ms: int) -> bool:
        with self._database.transaction() as connection:
            connection.execute(
                "DELETE FROM seen_messages WHERE created_at_ms < ?",
                (created_at_ms - 2 * TIME_WINDOW_MS,),
            )
            try:
                connection.execute(
                    "INSERT INTO seen_messages (sender, message_id, created_at_ms) "
                    "VALUES (?, ?, ?)",
                    (sender, message_id, created_at_ms),
                )
            except sqlite3.IntegrityError:
                return False
        return True
