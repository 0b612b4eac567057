"""The node's watchlist as a searchable gallery, rebuilt when the store changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.combine import Combiner
from biometric_exchange.config import MatchingSection
from biometric_exchange.domain import Template, WatchlistCategory, utc_now
from biometric_exchange.matching import Gallery
from biometric_exchange.node.index.labels import WatchlistLabels
from biometric_exchange.node.index.loading import GalleryLoader
from biometric_exchange.store.records import RecordStore

SHARED_MEMORY = Path("/dev/shm")  # noqa: S108 - tmpfs: RAM, not a shared temp dir
"""Where a compact gallery's originals live (the system's temp dir where absent)."""
MAX_BATCH_PROBES = 1024
"""Most probes searched in one pass (the engine's own block)."""


@dataclass(frozen=True)
class WatchlistMatch:
    entry_id: str
    category: WatchlistCategory
    distance: float
    rank: int
    protected: ProtectedCategory | None
    """The protected category of the entry's subject, if any."""

    @property
    def unaccompanied_minor(self) -> bool:
        return self.protected is ProtectedCategory.UNACCOMPANIED_MINOR


_Matches = list[list[WatchlistMatch]]


@dataclass(frozen=True)
class WatchlistEntries:
    version: int
    """Which build of the index these entries are: it changes whenever they do (a
    watchlist change, or a day that ends or starts an entry's time in force)."""
    ids: tuple[str, ...]
    templates: NDArray[np.float32]
    categories: dict[str, WatchlistCategory]
    protected: dict[str, ProtectedCategory]

    def match(self, index: int, distance: float, rank: int) -> WatchlistMatch:
        entry_id = self.ids[index]
        return WatchlistMatch(
            entry_id,
            self.categories[entry_id],
            distance,
            rank,
            self.protected.get(entry_id),
        )


@dataclass(frozen=True)
class _Snapshot:
    generation: int
    gallery: Gallery
    labels: WatchlistLabels
    day: dt.date
    """The day whose entries in force the gallery holds."""
    build: int
    """Counts the index's builds: ``WatchlistEntries.version``."""


class WatchlistIndex:
    """Thread-safe: searches read an immutable snapshot; a reload swaps it.

    With a ``cache_dir``, every entry's template is also kept as a sealed
    snapshot file named by the watchlist generation, with each entry's labels
    (``node.index.loading``), so a restart opens the gallery in one read and
    never reads the watchlist table; the entries not in force on ``today`` are
    then found in the labels' arrays and removed from the opened gallery.

    ``settings`` (``[matching]``): from ``compact_from`` entries on, the
    gallery is a ``CompactGallery`` (int8 codes, the same answers), which
    searches the snapshot's decrypted image in place (mapped from
    ``/dev/shm``; left there for the next process with ``shared_snapshot``);
    searches of concurrent calls wait up to ``batch_window_ms`` to share a pass.
    """

    def __init__(
        self,
        records: RecordStore,
        *,
        cache_dir: Path | None = None,
        data_key: Callable[[], bytes] | None = None,
        today: Callable[[], dt.date] | None = None,
        settings: MatchingSection | None = None,
        shared_dir: Path | None = SHARED_MEMORY,
    ) -> None:
        """``today`` dates the entries' validity (the node's clock; the system's by default);
        ``shared_dir`` holds decrypted images and originals (``/dev/shm``; the system's
        temp dir and anonymous memory when it is None or absent)."""
        self._today = today or (lambda: utc_now().date())
        self._records = records
        self._settings = settings or MatchingSection()
        self._loader = GalleryLoader(
            records,
            cache_dir=cache_dir,
            data_key=data_key,
            settings=self._settings,
            shared=shared_dir if shared_dir is not None and shared_dir.is_dir() else None,
        )
        self._lock = threading.Lock()
        self._builds = 0
        self._snapshot = self._build()
        self._entries: WatchlistEntries | None = None
        """``entries()`` as last made (remade when the index is rebuilt)."""
        self._combiners: dict[tuple[float, int], Combiner[list[Template], _Matches]] = {}

    def _build(self) -> _Snapshot:
        version = self._records.watchlist_version()
        loaded = self._loader.load(version)
        today = self._today()
        out = np.flatnonzero(~loaded.labels.in_force(today))
        if out.size:
            loaded.gallery.remove(loaded.names(out.tolist()))
        self._builds += 1
        return _Snapshot(version.generation, loaded.gallery, loaded.labels, today, self._builds)

    def refresh(self) -> None:
        """Rebuild when another process changed the watchlist, or when a new day ends or
        starts an entry's time in force (a day that changes none only moves the date)."""
        if self._stale(self._snapshot):
            with self._lock:
                snapshot = self._snapshot
                if self._records.watchlist_generation() != snapshot.generation:
                    self._snapshot = self._build()
                elif self._today() != snapshot.day:
                    labels, today = snapshot.labels, self._today()
                    if np.array_equal(labels.in_force(snapshot.day), labels.in_force(today)):
                        self._snapshot = dataclasses.replace(snapshot, day=today)
                    else:
                        self._snapshot = self._build()

    def _stale(self, snapshot: _Snapshot) -> bool:
        return (
            self._today() != snapshot.day
            or self._records.watchlist_generation() != snapshot.generation
        )

    def __len__(self) -> int:
        return len(self._snapshot.gallery)

    def entries(self, *, refresh: bool = True) -> WatchlistEntries:
        """The entries in force now, as one matrix (for views in another domain); copied
        out of the gallery once per watchlist generation, not per call. Without
        ``refresh``: as of the latest search, without asking the store."""
        if refresh:
            self.refresh()
        with self._lock:
            snapshot, entries = self._snapshot, self._entries
            if entries is None or entries.version != snapshot.build:
                ids, templates = snapshot.gallery.export()
                described = snapshot.labels.describe(ids)
                entries = WatchlistEntries(
                    snapshot.build,
                    ids,
                    templates,
                    {i: category for i, (category, _) in zip(ids, described, strict=True)},
                    {i: p for i, (_, p) in zip(ids, described, strict=True) if p is not None},
                )
                self._entries = entries
        return entries

    @property
    def version(self) -> int:
        """The current build's ``WatchlistEntries.version`` (as of the latest search)."""
        return self._snapshot.build

    def sample(self, limit: int) -> tuple[int, NDArray[np.float32]]:
        """(version, templates): up to ``limit`` templates in force, drawn uniformly (the
        same draw for the same build), every one when there are no more; as of the
        latest search, without asking the store."""
        snapshot = self._snapshot
        if len(snapshot.gallery) <= limit:
            entries = self.entries(refresh=False)
            return entries.version, entries.templates
        return snapshot.build, snapshot.gallery.sample(limit, seed=snapshot.build)

    def search(
        self, templates: list[Template], *, threshold: float, max_candidates: int
    ) -> list[list[WatchlistMatch]]:
        """For each template, candidates strictly below ``threshold``, best first.

        Concurrent searches with the same threshold and candidate count are
        answered by one pass over the gallery (``combine.Combiner``)."""
        if not templates:
            return []
        return self._combiner(threshold, max_candidates).submit(templates)

    def passes(self) -> tuple[int, int]:
        """(searches served, passes over the gallery) so far: how well calls combined."""
        with self._lock:
            combiners = list(self._combiners.values())
        return sum(c.items for c in combiners), sum(c.batches for c in combiners)

    def _combiner(self, threshold: float, k: int) -> Combiner[list[Template], _Matches]:
        key = (threshold, k)
        combiner = self._combiners.get(key)
        if combiner is None:
            with self._lock:
                combiner = self._combiners.setdefault(
                    key,
                    Combiner(
                        lambda batch: self._search_batch(batch, threshold, k),
                        max_items=MAX_BATCH_PROBES,
                        size=len,
                        window=self._settings.batch_window_ms / 1000.0,
                    ),
                )
        return combiner

    def _search_batch(
        self, batch: Sequence[list[Template]], threshold: float, k: int
    ) -> list[_Matches]:
        """Every caller's templates searched in one pass; each caller's matches."""
        self.refresh()
        snapshot = self._snapshot
        stacked = np.stack([template for templates in batch for template in templates])
        result = snapshot.gallery.search(stacked, k=k, threshold=threshold)
        found = []
        for index in range(len(stacked)):
            candidates = result.candidates(index)
            described = snapshot.labels.describe([c.id for c in candidates])
            found.append(
                [
                    WatchlistMatch(c.id, category, c.distance, c.rank, protected)
                    for c, (category, protected) in zip(candidates, described, strict=True)
                ]
            )
        answers: list[_Matches] = []
        start = 0
        for templates in batch:
            answers.append(found[start : start + len(templates)])
            start += len(templates)
        return answers
