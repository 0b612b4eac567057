"""Our own encounters as a searchable gallery: the memory behind
``IDENTITY_CONFLICT`` (same face, another identity) and ``MOVEMENT`` (a person
we saw, now seen by the partner)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from biometric_exchange.domain import Encounter, Template
from biometric_exchange.matching import Gallery
from biometric_exchange.store.records import RecordStore


@dataclass(frozen=True)
class EncounterMatch:
    encounter: Encounter
    distance: float


class EncounterIndex:
    """Thread-safe: one lock guards the gallery for adds and searches."""

    def __init__(self, records: RecordStore) -> None:
        self._lock = threading.Lock()
        self._gallery = Gallery()
        self._encounters: dict[str, Encounter] = {}
        self._in_order: list[Encounter] = []
        """The same encounters in the order they were added (``since`` slices it)."""
        checked = list(records.checked_encounters())
        if checked:
            self._gallery.add(
                [e.encounter_id for e in checked], np.stack([e.template for e in checked])
            )
            self._encounters = {e.encounter_id: e for e in checked}
            self._in_order = list(self._encounters.values())

    def __len__(self) -> int:
        return len(self._encounters)

    def add(self, encounter: Encounter) -> None:
        """Remember a checked encounter (a second add of the same id is ignored)."""
        with self._lock:
            if encounter.encounter_id in self._encounters:
                return
            self._gallery.add([encounter.encounter_id], encounter.template[None, :])
            self._encounters[encounter.encounter_id] = encounter
            self._in_order.append(encounter)

    def since(self, start: int) -> list[Encounter]:
        """The encounters added after the first ``start`` (in the order they were added)."""
        with self._lock:
            return self._in_order[start:]

    def search(self, template: Template, *, threshold: float, k: int = 5) -> list[EncounterMatch]:
        """Our encounters strictly below ``threshold``, best first."""
        with self._lock:
            if not self._encounters:
                return []
            result = self._gallery.search(template, k=k, threshold=threshold)
            return [
                EncounterMatch(self._encounters[c.id], c.distance) for c in result.candidates(0)
            ]
