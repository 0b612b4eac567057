"""What the holder keeps for one partner's blind step 1, shared by its two handlers.

* The partner's public contexts, by digest (a few; each about 1.1 MB of keys, sent once
  per partner session): ``PublicContext`` has no secret key.
* Open rounds: for each probe answered, the private slot order, until the partner's
  reveal or ``ROUND_TTL_MS`` (memory only: a restart loses them, and the partner asks
  again from the start).
* The gallery a purpose may search (entries in force, protected subjects withheld when
  the purpose does not cover them), remade when the watchlist changes.
* The extraction guard's hold, hit cap and strikes for the partner. Plausibility and
  near-duplicate screening need the template, which the holder never sees here.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from biometric_exchange.agreement.terms import Purpose, ScopeRule
from biometric_exchange.blind.holder import BlindGallery
from biometric_exchange.blind.packing import Layout
from biometric_exchange.blind.public import PublicContext
from biometric_exchange.node.index.watchlist import WatchlistEntries
from biometric_exchange.node.link import Link
from biometric_exchange.node.serve.guard import ExtractionGuard
from biometric_exchange.node.services import Services

CONTEXTS_KEPT = 4
ROUNDS_KEPT = 64
ROUND_TTL_MS = 5 * 60 * 1000
"""A round waits this long for its reveal (the envelope window)."""


@dataclass(frozen=True)
class SearchedRows:
    """The rows a purpose may search: which watchlist entries, as a gallery."""

    version: int
    """``WatchlistEntries.version`` of the entries it was made from."""
    protected_included: bool
    entries: WatchlistEntries
    rows: tuple[int, ...]
    """Row i of ``gallery`` is entry ``entries.ids[rows[i]]``."""
    gallery: BlindGallery
    withheld: int
    """Entries of protected subjects of ours left out for the purpose."""


@dataclass(frozen=True)
class RoundProbe:
    probe_ref: str
    scope_rule: ScopeRule
    commitment: bytes
    layout: Layout


def new_round_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Round:
    round_id: str
    created_ms: int
    purpose: str
    max_hits: int
    probes: tuple[RoundProbe, ...]
    searched: SearchedRows


class BlindHolder:
    """One partner's blind step 1 on our side. Safe to share between threads."""

    def __init__(self, link: Link, services: Services) -> None:
        self.link = link
        self._watchlist = services.watchlist
        self.threshold = link.node.config.matching.threshold
        self.guard = ExtractionGuard(
            partner=link.code,
            store=link.node.extraction,
            settings=link.node.config.extraction,
            population=lambda: None,
            threshold=self.threshold,
        )
        self._contexts: OrderedDict[str, PublicContext] = OrderedDict()
        self._rounds: OrderedDict[str, Round] = OrderedDict()
        self._searched: dict[bool, SearchedRows] = {}
        self._lock = threading.Lock()

    # --- contexts -----------------------------------------------------------------

    def context(self, digest: str) -> PublicContext | None:
        with self._lock:
            found = self._contexts.get(digest)
            if found is not None:
                self._contexts.move_to_end(digest)
            return found

    def keep_context(self, context: PublicContext) -> None:
        if context.is_private():  # pragma: no cover - a PublicContext never is
            raise TypeError("a holder keeps public contexts only")
        with self._lock:
            self._contexts[context.digest] = context
            while len(self._contexts) > CONTEXTS_KEPT:
                self._contexts.popitem(last=False)

    # --- rounds -------------------------------------------------------------------

    def keep_round(self, opened: Round) -> None:
        """Hold ``opened`` for its reveal (the oldest round goes past ``ROUNDS_KEPT``)."""
        with self._lock:
            self._rounds[opened.round_id] = opened
            while len(self._rounds) > ROUNDS_KEPT:
                self._rounds.popitem(last=False)

    def take_round(self, round_id: str, now_ms: int) -> Round | None:
        """The round, removed (a reveal is answered once); None if unknown or expired."""
        with self._lock:
            found = self._rounds.pop(round_id, None)
        if found is None or now_ms - found.created_ms > ROUND_TTL_MS:
            return None
        return found

    # --- the searched gallery -----------------------------------------------------

    def searched(self, purpose: Purpose) -> SearchedRows:
        """The rows ``purpose`` may search, as of the watchlist now."""
        policy = self.link.policy
        included = purpose in policy.terms.protection.purposes
        entries = self._watchlist.entries()
        held = self._searched.get(included)
        if held is not None and held.version == entries.version:
            return held
        rows = tuple(
            index
            for index, entry_id in enumerate(entries.ids)
            if not policy.withholds_hit(entries.protected.get(entry_id), purpose)
        )
        templates = entries.templates[np.asarray(rows, dtype=np.int64)]
        made = SearchedRows(
            entries.version,
            included,
            entries,
            rows,
            BlindGallery(templates, self.threshold),
            len(entries.ids) - len(rows),
        )
        with self._lock:
            self._searched[included] = made
        return made


_HOLDERS: weakref.WeakKeyDictionary[Link, BlindHolder] = weakref.WeakKeyDictionary()
_HOLDERS_LOCK = threading.Lock()


def blind_holder(link: Link, services: Services) -> BlindHolder:
    """The one ``BlindHolder`` of ``link`` (its two handlers share it)."""
    with _HOLDERS_LOCK:
        holder = _HOLDERS.get(link)
        if holder is None:
            holder = BlindHolder(link, services)
            _HOLDERS[link] = holder
        return holder
