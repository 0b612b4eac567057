"""The replay guard kept in the node database, shared by every process."""

from __future__ import annotations

from biometric_exchange.store.database import Database

FORGET_EVERY_MS = 60_000
"""How often old ids are deleted (not on every message)."""


class SqliteReplayGuard:
    """Remembers (sender, message id); forgets ids older than twice ``window_ms``, the
    envelope's time window, which already refuses them (at most once a minute)."""

    def __init__(self, database: Database, *, window_ms: int) -> None:
        self._database = database
        self._keep_ms = 2 * window_ms
        self._next_forget_ms = 0

    def remember(self, message_id: str, sender: str, created_at_ms: int) -> bool:
        with self._database.transaction() as connection:
            if created_at_ms >= self._next_forget_ms:
                connection.execute(
                    "DELETE FROM seen_messages WHERE created_at_ms < ?",
                    (created_at_ms - self._keep_ms,),
                )
                self._next_forget_ms = created_at_ms + FORGET_EVERY_MS
            inserted = connection.execute(
                "INSERT INTO seen_messages (sender, message_id, created_at_ms) "
                "VALUES (?, ?, ?) ON CONFLICT (sender, message_id) DO NOTHING",
                (sender, message_id, created_at_ms),
            ).rowcount
        return inserted == 1
