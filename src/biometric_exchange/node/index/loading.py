"""Where the watchlist's gallery and labels come from: its snapshot, or the store's rows.

A snapshot (``data/watchlist-g<generation>.snapshot``) holds every entry of
one watchlist version (in force or not) and their labels stamped with it
(generation and token: ``store.records.WatchlistVersion``). Opened when the
store is at that version, it is the whole answer: the watchlist table is not
read. One that does not open, or whose labels carry another stamp, is
rebuilt from the rows (read by one statement, a chunk at a
time) and saved with labels. One written before labels were kept is used
with the store's labels, read once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biometric_exchange.config import MatchingSection
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.matching import CompactGallery, Gallery, save_snapshot
from biometric_exchange.matching.labels import EntryLabels, LabelError, LabelsBuilder
from biometric_exchange.matching.snapshot import discard_images, open_snapshot
from biometric_exchange.node.index.labels import WatchlistLabels, by_position, kind_of, last_day
from biometric_exchange.store.records import RecordStore, WatchlistLabel, WatchlistVersion

log = logging.getLogger(__name__)
READ_ROWS = 20_000
"""Rows read from the store at a time when the gallery is built from them."""


@dataclass(frozen=True)
class Loaded:
    """A gallery of every entry of one generation, and their labels."""

    gallery: Gallery
    labels: WatchlistLabels
    names: Callable[[Sequence[int]], list[str]]
    """The ids of label numbers."""


class GalleryLoader:
    """Opens the snapshot of a generation, or builds (and saves) it from the rows."""

    def __init__(
        self,
        records: RecordStore,
        *,
        cache_dir: Path | None,
        data_key: Callable[[], bytes] | None,
        settings: MatchingSection,
        shared: Path | None,
    ) -> None:
        self._records = records
        self._cache_dir = cache_dir
        self._data_key = data_key
        self._settings = settings
        self._shared = shared

    def load(self, version: WatchlistVersion) -> Loaded:
        return self._cached(version) or self._from_rows(version)

    def new_gallery(self, size: int) -> Gallery:
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

    def _cached(self, version: WatchlistVersion) -> Loaded | None:
        path = self._path(version.generation)
        if path is None or self._data_key is None or not path.exists():
            return None
        try:
            opened = open_snapshot(
                path,
                self._data_key(),
                gallery=self.new_gallery,
                image_dir=self._shared,
                keep_image=self._settings.shared_snapshot,
            )
        except ExchangeError as exc:
            log.warning("watchlist snapshot %s not used (%s); rebuilding", path.name, exc)
            return None
        if opened.labels is None or opened.ids is None:
            return self._with_store_labels(path, opened.gallery)
        try:
            labels = WatchlistLabels(opened.labels, opened.ids.numbers)
        except LabelError as exc:
            log.warning("watchlist snapshot %s not used (%s); rebuilding", path.name, exc)
            return None
        if opened.labels.stamp != version.stamp or opened.labels.count != len(opened.gallery):
            log.warning("watchlist snapshot %s does not match the store; rebuilding", path.name)
            return None
        return Loaded(opened.gallery, labels, opened.ids.decode)

    def _with_store_labels(self, path: Path, gallery: Gallery) -> Loaded | None:
        """A snapshot older than labels, with the store's (read once): entries it holds
        that the store lacks are removed; one lacking an entry of the store is rebuilt."""
        stored = self._records.watchlist_labels()
        ids = [label.entry_id for label in stored]
        held = gallery.ids
        if not set(ids).issubset(held):
            log.warning("watchlist snapshot %s does not match the store; rebuilding", path.name)
            return None
        stray = set(held).difference(ids)
        if stray:
            gallery.remove(sorted(stray))
        return Loaded(gallery, WatchlistLabels(_labels(stored), by_position(ids)), _at(ids))

    def _from_rows(self, version: WatchlistVersion) -> Loaded:
        """Every entry read from the store, saved as the snapshot of ``version``."""
        builder = LabelsBuilder(version.stamp)
        ids: list[str] = []
        gallery = self.new_gallery(self._records.count_watchlist())
        for labels, templates in self._records.watchlist_rows(batch=READ_ROWS):
            chunk = [label.entry_id for label in labels]
            gallery.add(chunk, np.stack(templates))
            builder.add([kind_of(label) for label in labels], [last_day(label) for label in labels])
            ids.extend(chunk)
        built = builder.build()
        self._store(gallery, version.generation, built)
        return Loaded(gallery, WatchlistLabels(built, by_position(ids)), _at(ids))

    def _store(self, gallery: Gallery, generation: int, labels: EntryLabels) -> None:
        path = self._path(generation)
        if path is None or self._data_key is None:
            return
        for old in path.parent.glob("watchlist-*.snapshot"):
            old.unlink(missing_ok=True)
        save_snapshot(path, gallery, self._data_key(), labels=labels)
        if self._shared is not None:
            discard_images(self._shared, path.parent, keep=path)


def _labels(stored: list[WatchlistLabel]) -> EntryLabels:
    builder = LabelsBuilder("")
    builder.add([kind_of(label) for label in stored], [last_day(label) for label in stored])
    return builder.build()


def _at(ids: list[str]) -> Callable[[Sequence[int]], list[str]]:
    return lambda numbers: [ids[number] for number in numbers]
