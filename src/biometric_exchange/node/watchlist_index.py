"""The node's watchlist as a searchable gallery, rebuilt when the store changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from biometric_exchange.domain import Template, WatchlistCategory, utc_now
from biometric_exchange.matching import Gallery
from biometric_exchange.store.records import RecordStore


@dataclass(frozen=True)
class WatchlistMatch:
    entry_id: str
    category: WatchlistCategory
    distance: float
    rank: int
    unaccompanied_minor: bool


@dataclass(frozen=True)
class _Snapshot:
    generation: int
    gallery: Gallery
    categories: dict[str, WatchlistCategory]
    unaccompanied: frozenset[str]


class WatchlistIndex:
    """Thread-safe: searches read an immutable snapshot; a reload swaps it."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records
        self._lock = threading.Lock()
        self._snapshot = self._build()

    def _build(self) -> _Snapshot:
        generation = self._records.watchlist_generation()
        entries = list(self._records.watchlist(valid_on=utc_now().date()))
        gallery = Gallery()
        if entries:
            gallery.add([e.entry_id for e in entries], np.stack([e.template for e in entries]))
        return _Snapshot(
            generation,
            gallery,
            {e.entry_id: e.category for e in entries},
            frozenset(e.entry_id for e in entries if e.person.unaccompanied_minor),
        )

    def refresh(self) -> None:
        """Rebuild when another process changed the watchlist."""
        if self._records.watchlist_generation() != self._snapshot.generation:
            with self._lock:
                if self._records.watchlist_generation() != self._snapshot.generation:
                    self._snapshot = self._build()

    def __len__(self) -> int:
        return len(self._snapshot.gallery)

    def search(
        self, templates: list[Template], *, threshold: float, max_candidates: int
    ) -> list[list[WatchlistMatch]]:
        """For each template, candidates strictly below ``threshold``, best first."""
        self.refresh()
        snapshot = self._snapshot
        if not templates:
            return []
        result = snapshot.gallery.search(np.stack(templates), k=max_candidates, threshold=threshold)
        return [
            [
                WatchlistMatch(
                    c.id,
                    snapshot.categories[c.id],
                    c.distance,
                    c.rank,
                    c.id in snapshot.unaccompanied,
                )
                for c in result.candidates(index)
            ]
            for index in range(len(templates))
        ]
