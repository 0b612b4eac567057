"""Combining: concurrent callers served by one batched operation.

A caller hands its item to a ``Combiner`` and waits. When no batch is
running, the caller becomes the leader: it takes every item waiting (its own
first, up to ``max_items``), runs ``run_batch`` on them once and hands each
caller its own result or exception. Callers that arrive meanwhile wait for the
next batch, which the oldest of them leads. A lone caller runs at once, so
sparse calls wait for nothing; under load a batch forms by itself from the
calls that arrived while the previous batch ran. With a ``window``, a leader
whose call arrived less than ``window`` seconds ago first waits out the rest of
it (or until the batch is full) for more calls to join: calls that reach the
combiner one after another (through a lock upstream) still share a pass, and
no call waits longer than the window for it. Each caller waits on its own
event: finishing a batch wakes exactly its callers and the next leader. Used to
search the watchlist for concurrent probes in one pass and to commit
concurrent calls' writes in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Slot(Generic[Item, Result]):
    item: Item
    size: int
    arrived: float = field(default_factory=time.monotonic)
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None


class Combiner(Generic[Item, Result]):
    """Runs ``run_batch(items)`` for concurrent callers of ``submit``.

    ``run_batch`` returns one outcome per item, in order: a result, or an
    exception that ``submit`` raises in that caller's thread. An exception
    raised by ``run_batch`` itself is raised in every caller of the batch.
    ``size(item)`` weighs an item against ``max_items`` (1 each by default);
    an item heavier than ``max_items`` runs alone.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Sequence[Result | BaseException]],
        *,
        max_items: int = 256,
        size: Callable[[Item], int] = lambda _item: 1,
        window: float = 0.0,
    ) -> None:
        """``window``: seconds a new batch's leader may wait for company (see above)."""
        if not 0.0 <= window <= 1.0:
            raise ValueError("window: between 0 and 1 second")
        self._run_batch = run_batch
        self._max_items = max_items
        self._size = size
        self._window = window
        self._joined = threading.Condition()
        self._weight = 0
        """Weight of the callers waiting (for the window's early end)."""
        self._lock = threading.Lock()
        self._waiting: deque[_Slot[Item, Result]] = deque()
        self._running = False
        self.batches = 0
        """Batches run so far (for measurements)."""
        self.items = 0
        """Items served so far."""

    @property
    def waiting(self) -> int:
        """Callers queued for a batch (not counting one running)."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> Result:
        """``item``'s outcome, computed in a batch with whatever else is waiting."""
        slot: _Slot[Item, Result] = _Slot(item, self._size(item))
        with self._lock:
            leading = not self._running
            if leading:
                self._running = True
            else:
                self._waiting.append(slot)
                self._weight += slot.size
        if not leading and self._window:
            with self._joined:
                self._joined.notify()
        if not leading:
            slot.woken.wait()
        if not slot.done:  # this caller leads the next batch
            self._lead(slot)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self, leader: _Slot[Item, Result]) -> None:
        """Run one batch led by ``leader``, then hand the lead to the oldest waiter."""
        try:
            self._await_company(leader)
            self._run(self._take(leader))
        finally:
            with self._lock:
                if self._waiting:
                    successor = self._waiting.popleft()
                    self._weight -= successor.size
                    successor.woken.set()  # not done: it leads next
                else:
                    self._running = False

    def _await_company(self, leader: _Slot[Item, Result]) -> None:
        """Wait until ``window`` after the leader's arrival, or until the batch is full."""
        if not self._window:
            return
        deadline = leader.arrived + self._window
        with self._joined:
            while True:
                left = deadline - time.monotonic()
                with self._lock:
                    full = leader.size + self._weight >= self._max_items
                if left <= 0 or full:
                    return
                self._joined.wait(left)

    def _take(self, leader: _Slot[Item, Result]) -> list[_Slot[Item, Result]]:
        """The leader's own slot first, then the oldest waiting, up to ``max_items``."""
        with self._lock:
            batch, weight = [leader], leader.size
            while self._waiting and weight + self._waiting[0].size <= self._max_items:
                slot = self._waiting.popleft()
                self._weight -= slot.size
                batch.append(slot)
                weight += slot.size
            return batch

    def _run(self, batch: list[_Slot[Item, Result]]) -> None:
        try:
            outcomes = self._run_batch([slot.item for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(outcomes)} outcomes")
        except BaseException as exc:  # every caller of the batch learns of it
            outcomes = [exc] * len(batch)
        with self._lock:
            self.batches += 1
            self.items += len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                slot.error = outcome
            else:
                slot.result = outcome
            slot.done = True
            slot.woken.set()
