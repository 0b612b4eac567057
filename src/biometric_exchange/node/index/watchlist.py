"""The node's watchlist as a searchable gallery, rebuilt when the store changes."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.agreement.policy import category_of
from biometric_exchange.agreement.terms import ProtectedCategory
from biometric_exchange.combine import Combiner
from biometric_exchange.config import MatchingSection
from biometric_exchange.domain import Template, WatchlistCategory, utc_now
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.matching import CompactGallery, Gallery, load_snapshot, save_snapshot
from biometric_exchange.matching.snapshot import discard_images
from biometric_exchange.store.records import RecordStore, WatchlistLabel

log = logging.getLogger(__name__)
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
    generation: int
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
    categories: dict[str, WatchlistCategory]
    protected: dict[str, ProtectedCategory]


def _protected(labels: list[WatchlistLabel]) -> dict[str, ProtectedCategory]:
    """The entries whose subject is a protected person, and their category."""
    found = {}
    for label in labels:
        category = category_of(
            nationality_code=label.nationality,
            legal_status=label.legal_status,
            unaccompanied_minor=label.unaccompanied_minor,
        )
        if category is not None:
            found[label.entry_id] = category
    return found


class WatchlistIndex:
    """Thread-safe: searches read an immutable snapshot; a reload swaps it.

    With a ``cache_dir``, every entry's template is also kept as a sealed
    snapshot file named by the watchlist generation, so a restart loads the
    gallery in one read instead of opening every row (1M entries: about 7 s
    instead of a minute); entries no longer in force are then removed from the
    loaded gallery (and so would entries the store no longer has: the store's
    labels are read once, for the entries in force). A snapshot that does not
    open or lacks an entry in force is rebuilt from the rows.

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
        self._shared = shared_dir if shared_dir is not None and shared_dir.is_dir() else None
        self._today = today or (lambda: utc_now().date())
        self._records = records
        self._cache_dir = cache_dir
        self._data_key = data_key
        self._settings = settings or MatchingSection()
        self._lock = threading.Lock()
        self._snapshot = self._build()
        self._entries: WatchlistEntries | None = None
        """``entries()`` as last made (remade when the snapshot's generation moves on)."""
        self._combiners: dict[tuple[float, int], Combiner[list[Template], _Matches]] = {}

    def _build(self) -> _Snapshot:
        generation = self._records.watchlist_generation()
        today = self._today()
        labels = self._records.watchlist_labels(valid_on=today)
        in_force = {label.entry_id for label in labels}
        found = self._cached(generation, in_force)
        if found is None:
            entry_ids, templates = self._records.watchlist_templates()
            gallery = self._new_gallery(len(entry_ids))
            if entry_ids:
                gallery.add(entry_ids, np.stack(templates))
            self._store(gallery, generation)
            ids = gallery.ids
        else:
            gallery, ids = found
        expired = [entry_id for entry_id in ids if entry_id not in in_force]
        if expired:
            gallery.remove(expired)
        return _Snapshot(
            generation,
            gallery,
            {label.entry_id: label.category for label in labels},
            _protected(labels),
        )

    def _new_gallery(self, size: int) -> Gallery:
        """An empty gallery for ``size`` entries: compact from ``compact_from`` on. Its
        float32 originals (read only to re-rank a shortlist) go to an unlinked file in
        shared memory (``/dev/shm``, RAM), so no plaintext template reaches the disk."""
        if size and size >= self._settings.compact_from:
            return CompactGallery(directory=self._shared)
        return Gallery()

    def _path(self, generation: int) -> Path | None:
        if self._cache_dir is None or self._data_key is None:
            return None
        return self._cache_dir / f"watchlist-g{generation}.snapshot"

    def _cached(
        self, generation: int, in_force: set[str]
    ) -> tuple[Gallery, tuple[str, ...]] | None:
        """The snapshot of ``generation`` and its ids, if it opens and holds every entry in
        force (entries it holds beyond those are removed as expired ones are)."""
        path = self._path(generation)
        if path is None or self._data_key is None or not path.exists():
            return None
        try:
            gallery = load_snapshot(
                path,
                self._data_key(),
                gallery=self._new_gallery,
                image_dir=self._shared,
                keep_image=self._settings.shared_snapshot,
            )
        except ExchangeError as exc:
            log.warning("watchlist snapshot %s not used (%s); rebuilding", path.name, exc)
            return None
        ids = gallery.ids
        if not in_force.issubset(ids):
            log.warning("watchlist snapshot %s does not match the store; rebuilding", path.name)
            return None
        return gallery, ids

    def _store(self, gallery: Gallery, generation: int) -> None:
        path = self._path(generation)
        if path is None or self._data_key is None:
            return
        for old in path.parent.glob("watchlist-*.snapshot"):
            old.unlink(missing_ok=True)
        save_snapshot(path, gallery, self._data_key())
        if self._shared is not None:
            discard_images(self._shared, path.parent, keep=path)

    def refresh(self) -> None:
        """Rebuild when another process changed the watchlist."""
        if self._records.watchlist_generation() != self._snapshot.generation:
            with self._lock:
                if self._records.watchlist_generation() != self._snapshot.generation:
                    self._snapshot = self._build()

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
            if entries is None or entries.generation != snapshot.generation:
                ids, templates = snapshot.gallery.export()
                entries = WatchlistEntries(
                    snapshot.generation, ids, templates, snapshot.categories, snapshot.protected
                )
                self._entries = entries
        return entries

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
        found = [
            [
                WatchlistMatch(
                    c.id,
                    snapshot.categories[c.id],
                    c.distance,
                    c.rank,
                    snapshot.protected.get(c.id),
                )
                for c in result.candidates(index)
            ]
            for index in range(len(stacked))
        ]
        answers: list[_Matches] = []
        start = 0
        for templates in batch:
            answers.append(found[start : start + len(templates)])
            start += len(templates)
        return answers
