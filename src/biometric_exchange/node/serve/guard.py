"""The holder's defences against a partner rebuilding watchlist templates from
step-1 answers, one ``ExtractionGuard`` per partner.

Two attacks are in view: trilateration from one-axis perturbations of a probe
that hit, and a boundary search (bisection along rays from a hit probe, then a
sphere fitted to the boundary points). The guard refuses probes that are no
plausible face template (``plausibility``), that repeat or copy but for one or
two coordinates a recent probe of the partner (``recent_probes``), and hits
past a daily cap per watchlist entry; every such refusal is a strike, and
after ``strikes_before_hold`` strikes in a UTC day (at once for the hit cap)
step 1 is held for that partner until midnight UTC, with one
``EXTRACTION_SUSPECTED`` alert. Counts, strikes and holds are in the node
database (``store.extraction``); the recent probes in memory only.

Order of use by the identify handler: ``check_not_held`` and ``screen`` before
the search, ``count_hits`` inside the accepting transaction, ``suspect`` after
a refusal that ``ExtractionRefusal`` marks.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.alerts.rules import extraction_suspected
from biometric_exchange.config import ExtractionSettings
from biometric_exchange.domain import Alert
from biometric_exchange.exceptions import (
    ExchangeError,
    ExtractionRefusal,
    HitCapExceeded,
    ImplausibleProbe,
    InvalidInput,
    StepOneSuspended,
)
from biometric_exchange.node.serve.plausibility import PopulationModel
from biometric_exchange.node.serve.recent_probes import RecentProbes
from biometric_exchange.store.extraction import ExtractionStore

__all__ = ["ExtractionGuard", "ExtractionSettings", "PopulationModel"]


class ExtractionGuard:
    """Guards step 1 for one partner. Safe to share between threads."""

    def __init__(
        self,
        *,
        partner: str,
        store: ExtractionStore,
        settings: ExtractionSettings,
        population: PopulationModel | Callable[[], PopulationModel | None],
        threshold: float,
    ) -> None:
        """``population`` is the plausibility model, or what gives the current one
        (None while the gallery is too small to fit one: plausibility is then not
        checked)."""
        if not threshold > 0:
            raise InvalidInput("threshold: must be positive")
        self.partner = partner
        self.settings = settings
        self._population = population
        self._radius = settings.near_duplicate_fraction * threshold
        self._store = store
        self._recent: RecentProbes | None = None
        self._lock = threading.Lock()
        self._standing: tuple[dt.date | None, int, bool] = (None, 0, False)
        """(day, strikes, held) as last read or set."""

    @property
    def population(self) -> PopulationModel | None:
        source = self._population
        return source if isinstance(source, PopulationModel) else source()

    @property
    def remembered(self) -> int:
        """How many of the partner's probes are remembered."""
        return 0 if self._recent is None else len(self._recent)

    def _recent_probes(self, dim: int, population: PopulationModel | None) -> RecentProbes:
        """The ring of recent probes, made on first use (centred on the population mean
        when there is one, for float32 precision)."""
        with self._lock:
            if self._recent is None:
                origin = (
                    population.mean
                    if population is not None and population.dim == dim
                    else np.zeros(dim, np.float32)
                )
                self._recent = RecentProbes(
                    capacity=self.settings.recent_probes,
                    origin=origin,
                    radius=self._radius,
                    axis_share=self.settings.axis_share,
                )
            return self._recent

    def check_not_held(self, today: dt.date) -> None:
        """Raise StepOneSuspended while step 1 is held for the partner on ``today``.
        The day's standing is read from the store once, then kept here: only this
        guard (``suspect``) holds its partner, and the node serves from one process."""
        with self._lock:
            standing = self._standing if self._standing[0] == today else None
        if standing is None:
            strikes, held = self._store.standing(self.partner, today)
            with self._lock:
                if self._standing[0] != today:
                    self._standing = (today, strikes, held)
                standing = self._standing
        _day, strikes, held = standing
        if held:
            raise StepOneSuspended(
                f"step 1 for {self.partner} held for the rest of {today.isoformat()} (UTC) "
                f"after {strikes} guard refusal{'s' if strikes != 1 else ''}"
            )

    def screen(self, probe_refs: Sequence[str], templates: NDArray[Any]) -> None:
        """Refuse an implausible probe (ImplausibleProbe), or one that repeats or copies
        a recent probe of the partner or an earlier probe of the request
        (NearDuplicateProbe); remember the request's probes when all pass."""
        rows = np.asarray(templates, dtype=np.float32)
        if rows.ndim != 2 or len(rows) != len(probe_refs):
            raise InvalidInput(
                f"{len(probe_refs)} probe references for templates of shape {rows.shape}"
            )
        population = self.population
        if population is not None:
            for index, reason in enumerate(population.refusals(rows)):
                if reason is not None:
                    raise ImplausibleProbe(f"probes[{index}] ({probe_refs[index]}): {reason}")
        recent = self._recent_probes(rows.shape[1], population)
        recent.admit(probe_refs, recent.centred(rows))

    def count_hits(self, today: dt.date, entry_ids: Sequence[str]) -> None:
        """Count one hit per id (ids may repeat) for the partner on ``today``; raise
        HitCapExceeded when an entry would pass ``max_hits_per_entry_per_day``.
        Runs inside the accepting transaction, never committing on its own; a raise
        undoes the request's counts."""
        self._store.count_hits(
            self.partner, today, entry_ids, limit=self.settings.max_hits_per_entry_per_day
        )

    def suspect(self, today: dt.date, error: ExchangeError) -> Alert | None:
        """One strike for the partner on ``today`` after a guard refusal (in its own
        transaction); the alert to raise when this strike holds the partner, else
        None. Errors the guard did not raise, and StepOneSuspended (the hold has
        begun already), count nothing."""
        if not isinstance(error, ExtractionRefusal) or isinstance(error, StepOneSuspended):
            return None
        standing = self._store.strike(
            self.partner,
            today,
            hold_at=self.settings.strikes_before_hold,
            hold_now=isinstance(error, HitCapExceeded),
        )
        with self._lock:
            self._standing = (today, standing.strikes, standing.held)
        if not standing.newly_held:
            return None
        return extraction_suspected(
            partner=self.partner, day=today, reason=str(error), strikes=standing.strikes
        )
