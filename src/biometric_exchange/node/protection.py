"""Template protection on a partner link (ISO/IEC 24745), as the agreement sets it.

When an agreement's ``template_protection`` names a scheme, every template
that crosses the border under it is protected: the sender protects its
probes, the holder matches them against a protected view of its watchlist
(and of its own encounters, for MOVEMENT), and hit distances are scores in
the protected domain. The key is derived by each party alone from the two
key-agreement keys the agreement pins, the agreement id, the scheme and the
epoch (``protection.secret``): never sent, never stored. A new epoch gives
a new key, and views built under the old one are dropped.

Nothing a partner sends is kept in template form: probes are matched and
discarded, so a new epoch leaves no retained protected template to purge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.agreement.terms import TemplateProtectionScheme
from biometric_exchange.domain import Encounter, Template
from biometric_exchange.node.index.encounters import EncounterIndex, EncounterMatch
from biometric_exchange.node.index.watchlist import WatchlistEntries, WatchlistIndex, WatchlistMatch
from biometric_exchange.node.link import Link
from biometric_exchange.protection.scheme import ProtectionScheme, scheme_for
from biometric_exchange.protection.secret import derive_protection_key
from biometric_exchange.serde.common import PROTECTED_MODEL_PREFIX

GALLERY_CHUNK = 65_536
"""Gallery rows compared at once (bounds the score matrix's memory)."""


@dataclass(frozen=True)
class LinkProtection:
    """The scheme, keyed for one agreement and epoch."""

    scheme: ProtectionScheme
    epoch: int

    @property
    def model_id(self) -> str:
        """What protected templates say they are on the wire."""
        return f"{PROTECTED_MODEL_PREFIX}{self.scheme.name}/epoch-{self.epoch}"

    def protect(self, templates: NDArray[Any]) -> NDArray[np.float32]:
        """Protected templates as float32 rows, the wire's template form."""
        return np.asarray(self.scheme.protect(templates), dtype=np.float32)


def link_protection(link: Link) -> LinkProtection | None:
    """The protection ``link``'s agreement asks for, or None when it asks for none."""
    term = link.policy.template_protection
    if term.scheme is TemplateProtectionScheme.NONE:
        return None
    scheme = term.scheme.value
    key = derive_protection_key(
        link.node.keys.kex_key, link.partner.kex_public, link.agreement.id, scheme, term.epoch
    )
    return LinkProtection(scheme_for(scheme, key), term.epoch)


def _best(
    scheme: ProtectionScheme, probes: NDArray[Any], gallery: NDArray[Any], k: int
) -> list[list[tuple[int, float]]]:
    """Per probe, up to ``k`` (row, score) strictly below the threshold, best first
    (ties by row, which follows the gallery's id order)."""
    found: list[list[tuple[int, float]]] = [[] for _ in range(len(probes))]
    for start in range(0, len(gallery), GALLERY_CHUNK):
        scores = scheme.compare(probes, gallery[start : start + GALLERY_CHUNK])
        for index, row in enumerate(scores):
            hits = np.flatnonzero(row < scheme.threshold)
            found[index].extend((start + int(j), float(row[j])) for j in hits)
    return [sorted(hits, key=lambda hit: (hit[1], hit[0]))[:k] for hits in found]


@dataclass
class ProtectedWatchlist:
    """The watchlist in one link's protected domain, rebuilt when the watchlist changes."""

    index: WatchlistIndex
    protection: LinkProtection
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _view: tuple[int, NDArray[Any]] | None = None

    def view(self, *, refresh: bool = True) -> tuple[WatchlistEntries, NDArray[Any]]:
        """The entries in force and their protected templates (one row per entry)."""
        entries = self.index.entries(refresh=refresh)
        with self._lock:
            if self._view is None or self._view[0] != entries.version:
                protected = (
                    self.protection.protect(entries.templates)
                    if len(entries.ids)
                    else np.empty((0, 0), dtype=np.float32)
                )
                self._view = (entries.version, protected)
            return entries, self._view[1]

    def search(self, probes: list[Template], *, max_candidates: int) -> list[list[WatchlistMatch]]:
        entries, gallery = self.view()
        if not probes or not len(entries.ids):
            return [[] for _ in probes]
        best = _best(self.protection.scheme, np.stack(probes), gallery, max_candidates)
        return [
            [entries.match(row, score, rank) for rank, (row, score) in enumerate(hits, start=1)]
            for hits in best
        ]


@dataclass
class ProtectedEncounters:
    """Our encounters in one link's protected domain, extended as encounters are added."""

    index: EncounterIndex
    protection: LinkProtection
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _encounters: list[Encounter] = field(default_factory=list)
    _rows: list[NDArray[Any]] = field(default_factory=list)

    def search(self, probe: Template, *, k: int = 5) -> list[EncounterMatch]:
        with self._lock:
            new = self.index.since(len(self._encounters))
            if new:
                self._rows.append(self.protection.protect(np.stack([e.template for e in new])))
                self._encounters.extend(new)
            if not self._encounters:
                return []
            gallery = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
            self._rows = [gallery]
            encounters = list(self._encounters)
        (best,) = _best(self.protection.scheme, probe[None, :], gallery, k)
        return [EncounterMatch(encounters[row], score) for row, score in best]
