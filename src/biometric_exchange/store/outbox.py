"""The outbox: an enrolment and its pending exchanges are committed together.

One item per encounter and partner. A node's worker takes due items, runs the
early-warning checks and the exchange, and marks them done; a partner that
cannot be reached means a retry with exponential back-off, so nothing
enrolled is lost. Where several processes serve the node (PostgreSQL), each
claims the items it takes (``claim``): a lease keeps them its own until they
are settled, or until the lease runs out when the process died.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import zip_longest

from biometric_exchange.domain import utc_now
from biometric_exchange.store.database import Database
from biometric_exchange.store.dialect import Connection, Row

MAX_BACKOFF_MS = 60_000
BASE_BACKOFF_MS = 500


class OutboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    OUT_OF_SCOPE = "out_of_scope"
    """Checked locally; the agreement's scope forbids sending it."""
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxItem:
    encounter_id: str
    partner: str
    probe_ref: str
    state: OutboxState
    attempts: int
    last_error: str | None


JITTER = 0.2
_DUE_QUERY = (
    "SELECT * FROM outbox WHERE state = ? AND partner = ? AND next_attempt_at_ms <= ? "
    "ORDER BY next_attempt_at_ms, encounter_id LIMIT ?"
)


def backoff_ms(attempts: int) -> int:
    """The wait before attempt ``attempts + 1``: doubling, capped, jittered."""
    delay = min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** max(0, attempts - 1))
    spread = 1 - JITTER + 2 * JITTER * secrets.randbelow(1001) / 1000
    return int(delay * spread)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _item(row: Row) -> OutboxItem:
    return OutboxItem(
        row["encounter_id"],
        row["partner"],
        row["probe_ref"],
        OutboxState(row["state"]),
        row["attempts"],
        row["last_error"],
    )


class Outbox:
    def __init__(
        self, database: Database, clock: Callable[[], int] | None = None, *, lease_ms: int = 0
    ) -> None:
        """``clock`` gives milliseconds since the epoch (the node's clock; the system's
        by default); ``lease_ms``: how long a claimed item stays this process's own
        (0: one process serves the node, and ``claim`` is ``due``)."""
        self._database = database
        self._clock = clock
        self._lease_ms = lease_ms
        self._leases: dict[tuple[str, str], int] = {}
        """Each item this process claimed: the time its lease runs to (its mark)."""

    def _now(self) -> int:
        return self._clock() if self._clock is not None else now_ms()

    @staticmethod
    def enqueue(
        connection: Connection, encounter_id: str, partners: Sequence[str]
    ) -> dict[str, str]:
        """Queue an encounter for each partner inside the caller's transaction;
        return the probe ref per partner (each partner sees its own)."""
        refs = {partner: secrets.token_urlsafe(16) for partner in partners}
        connection.executemany(
            "INSERT INTO outbox (encounter_id, partner, probe_ref, state, next_attempt_at_ms, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (encounter_id, partner, ref, OutboxState.PENDING.value, 0, utc_now().isoformat())
                for partner, ref in refs.items()
            ],
        )
        return refs

    def assign_unaddressed(self, partner: str) -> int:
        """Items queued before the outbox named partners go to ``partner`` (a read
        only, when there are none: every process opening the node calls this)."""
        unaddressed = self._database.connection.execute(
            "SELECT 1 FROM outbox WHERE partner = '' LIMIT 1"
        ).fetchone()
        if unaddressed is None:
            return 0
        with self._database.transaction() as connection:
            return connection.execute(
                "UPDATE outbox SET partner = ? WHERE partner = ''", (partner,)
            ).rowcount

    def due(self, *, limit: int = 32) -> list[OutboxItem]:
        """Up to ``limit`` items due now, taken in turn from each partner's queue
        (oldest first within a partner), so that one partner's backlog never keeps
        another's items waiting."""
        return self._due(self._database.connection, limit, lock="")

    def claim(self, *, limit: int = 32) -> list[OutboxItem]:
        """``due``, for this process alone: each item returned is leased (its next
        attempt moved ``lease_ms`` on), so no other process takes it meanwhile. Rows
        another process is claiming are skipped, not waited for (``FOR UPDATE SKIP
        LOCKED``); the claim does not wait for the node's write lock either."""
        if self._lease_ms == 0:
            return self.due(limit=limit)
        until = self._now() + self._lease_ms
        with self._database.transaction(exclusive=False) as connection:
            items = self._due(connection, limit, lock=self._database.skip_locked)
            connection.executemany(
                "UPDATE outbox SET next_attempt_at_ms = ? WHERE encounter_id = ? AND partner = ?",
                [(until, item.encounter_id, item.partner) for item in items],
            )
        self._leases.update({(item.encounter_id, item.partner): until for item in items})
        return items

    def renew(self, items: Sequence[OutboxItem], *, at_least_ms: int = 0) -> list[OutboxItem]:
        """Those of ``items`` still this process's own, each leased ``lease_ms`` (or
        ``at_least_ms``, if longer: a call about to be made must not outlive its lease)
        on from now. An item whose lease ran out and that another process claimed since
        is left to it (sending it here too would send it twice)."""
        if self._lease_ms == 0:
            return list(items)
        until = self._now() + max(self._lease_ms, at_least_ms)
        kept = []
        with self._database.transaction(exclusive=False) as connection:
            for item in items:
                key = (item.encounter_id, item.partner)
                if self._still_held(connection, key, until):
                    self._leases[key] = until
                    kept.append(item)
                else:
                    self._leases.pop(key, None)
        return kept

    def release(self, items: Sequence[OutboxItem]) -> None:
        """Claimed items this process will not take after all: due again now (those
        another process claimed since are left to it)."""
        if self._lease_ms == 0 or not items:
            return
        with self._database.transaction() as connection:
            for item in items:
                key = (item.encounter_id, item.partner)
                self._still_held(connection, key, self._now())
                self._leases.pop(key, None)

    def _still_held(self, connection: Connection, key: tuple[str, str], until: int) -> bool:
        """Move ``key``'s lease to ``until`` if it is still the one this process set."""
        held = self._leases.get(key)
        if held is None:
            return False
        updated = connection.execute(
            "UPDATE outbox SET next_attempt_at_ms = ? WHERE encounter_id = ? AND partner = ? "
            "AND state = ? AND next_attempt_at_ms = ?",
            (until, *key, OutboxState.PENDING.value, held),
        ).rowcount
        return updated == 1

    def _due(self, connection: Connection, limit: int, *, lock: str) -> list[OutboxItem]:
        pending, now = OutboxState.PENDING.value, self._now()
        partners = [
            str(row[0])
            for row in connection.execute(
                "SELECT DISTINCT partner FROM outbox WHERE state = ? ORDER BY partner", (pending,)
            )
        ]
        queues = [
            [
                _item(row)
                for row in connection.execute(
                    _DUE_QUERY + lock,
                    (pending, partner, now, limit),
                )
            ]
            for partner in partners
        ]
        return [item for turn in zip_longest(*queues) for item in turn if item][:limit]

    def items(self, encounter_id: str) -> list[OutboxItem]:
        """The encounter's items, one per partner."""
        rows = self._database.connection.execute(
            "SELECT * FROM outbox WHERE encounter_id = ? ORDER BY partner", (encounter_id,)
        ).fetchall()
        return [_item(row) for row in rows]

    def get(self, encounter_id: str, partner: str | None = None) -> OutboxItem | None:
        """The item for ``partner`` (the first partner's when not given)."""
        items = [i for i in self.items(encounter_id) if partner in (None, i.partner)]
        return items[0] if items else None

    def depth(self) -> int:
        return int(
            self._database.connection.execute(
                "SELECT count(*) FROM outbox WHERE state = ?", (OutboxState.PENDING.value,)
            ).fetchone()[0]
        )

    def mark_done(self, item: OutboxItem) -> None:
        self._set(item, OutboxState.DONE, None, 0)

    def mark_out_of_scope(self, item: OutboxItem, reason: str) -> None:
        self._set(item, OutboxState.OUT_OF_SCOPE, reason, 0)

    def hold(self, item: OutboxItem, reason: str, due_ms: int) -> None:
        """Keep pending until ``due_ms`` (a local refusal that may lift later)."""
        self._set(item, OutboxState.PENDING, reason, due_ms)

    def mark_failed(self, item: OutboxItem, error: str) -> None:
        self._set(item, OutboxState.FAILED, error, 0)

    def retry_later(self, item: OutboxItem, error: str) -> None:
        """Exponential back-off (0.5 s doubling to 60 s) with ±20 % jitter, so that
        items held back by one outage do not all hit the partner at the same instant."""
        due = self._now() + backoff_ms(item.attempts + 1)
        self._set(item, OutboxState.PENDING, error, due)

    def retry_if_pending(self, item: OutboxItem, error: str) -> None:
        """``retry_later`` unless the item was settled meanwhile (done, failed…): after
        an unexpected error, nothing already sent may be queued again."""
        due = self._now() + backoff_ms(item.attempts + 1)
        self._set(item, OutboxState.PENDING, error, due, only_pending=True)

    def _set(
        self,
        item: OutboxItem,
        state: OutboxState,
        error: str | None,
        due_ms: int,
        *,
        only_pending: bool = False,
    ) -> None:
        self._leases.pop((item.encounter_id, item.partner), None)
        with self._database.transaction() as connection:
            connection.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt_at_ms = ?, updated_at = ? WHERE encounter_id = ? AND partner = ? "
                "AND (? = 0 OR state = ?)",
                (
                    state.value,
                    error,
                    due_ms,
                    utc_now().isoformat(),
                    item.encounter_id,
                    item.partner,
                    int(only_pending),
                    OutboxState.PENDING.value,
                ),
            )
