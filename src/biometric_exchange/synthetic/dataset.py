"""The two-country (Chile, Panama) demo dataset, with its ground truth.

Planted cases, present for every seed:

* PAN encounters: two extra-regional people on CHL's watchlist, one regional
  person on CHL's watchlist (who must not be sent), one extra-regional person
  on PAN's own watchlist;
* CHL encounters: one extra-regional person on PAN's watchlist, one
  extra-regional person on CHL's own watchlist.

Every other encounter is an unrelated new person, mostly extra-regional.
Watchlist captures pass an enrolment quality gate. Encounter captures are
redrawn until planted pairs lie below ``MATCH_CEILING`` and all
other encounter/watchlist pairs above ``NON_MATCH_FLOOR``, so a matcher at
face_recognition's 0.6 tolerance finds exactly the ground truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from biometric_exchange import __version__
from biometric_exchange.domain import (
    Encounter,
    Person,
    Provenance,
    Template,
    WatchlistCategory,
    WatchlistEntry,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.people import (
    MINOR_SHARE,
    FakerPool,
    draw_nationality,
    generate_person,
)
from biometric_exchange.synthetic.templates import TemplateModel, distance

CHL, PAN = "CHL", "PAN"
BORDER_POINTS: dict[str, tuple[str, ...]] = {
    PAN: ("PAN-DARIEN-LAJAS-BLANCAS", "PAN-DARIEN-SAN-VICENTE", "PAN-TOCUMEN-AIRPORT"),
    CHL: ("CHL-COLCHANE", "CHL-CHACALLUTA", "CHL-SANTIAGO-AIRPORT"),
}
BORDER_WEIGHTS = (0.45, 0.35, 0.2)
WINDOW_ANCHOR = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
WINDOW_DAYS = 14
MATCH_CEILING = 0.55
ENROLMENT_MAX_DEVIATION = 0.4
"""Enrolment quality gate: a watchlist capture lies this close to its latent."""
NON_MATCH_FLOOR = 0.65
UNRELATED_EXTRA_REGIONAL_SHARE = 0.8
WATCHLIST_EXTRA_REGIONAL_SHARE = 0.6
MIN_ENCOUNTERS = 4
MIN_WATCHLIST = 4
_MAX_DRAWS = 1000

# Planted watchlist identities: (holder, extra_regional) per role.
_WATCHLIST_ROLES: dict[str, tuple[str, bool]] = {
    "chl_extra_a": (CHL, True),
    "chl_extra_b": (CHL, True),
    "chl_regional": (CHL, False),
    "chl_local": (CHL, True),
    "pan_local": (PAN, True),
    "pan_extra": (PAN, True),
}
_ENCOUNTER_ROLES: dict[str, tuple[str, ...]] = {
    PAN: ("chl_extra_a", "chl_extra_b", "chl_regional", "pan_local"),
    CHL: ("pan_extra", "chl_local"),
}


@dataclass(frozen=True)
class GroundTruth:
    """What a correct matcher should find for one encounter."""

    encounter_id: str
    enrolling_country: str
    holder_country: str | None
    watchlist_entry_id: str | None
    extra_regional: bool


@dataclass(frozen=True)
class DemoDataset:
    """Watchlists and encounters keyed "CHL" and "PAN", plus the ground truth."""

    watchlists: dict[str, list[WatchlistEntry]]
    encounters: dict[str, list[Encounter]]
    ground_truth: list[GroundTruth]


@dataclass(frozen=True)
class _Identity:
    person: Person
    latent: Template
    extra_regional: bool


@dataclass(frozen=True)
class _Draft:
    identity: _Identity
    holder: str | None
    entry: WatchlistEntry | None


def window_start(seed: int) -> dt.datetime:
    """Start (UTC) of the seed's fixed 14-day encounter window, within 2025."""
    return WINDOW_ANCHOR + dt.timedelta(days=seed % (365 - WINDOW_DAYS))


class _Builder:
    def __init__(self, seed: int, start: dt.datetime | None) -> None:
        self.rng = np.random.default_rng(seed)
        self.model = TemplateModel()
        self.faker_pool = FakerPool()
        self.start = start or window_start(seed)
        self.provenance = Provenance(
            synthetic=True, generator=f"biometric-exchange {__version__}", seed=seed
        )

    def identity(self, extra_regional: bool, *, minor_share: float = MINOR_SHARE) -> _Identity:
        code = draw_nationality(self.rng, extra_regional=extra_regional)
        person = generate_person(
            self.rng,
            self.faker_pool,
            code,
            reference_date=self.start.date(),
            minor_share=minor_share,
        )
        return _Identity(person, self.model.latent(self.rng), extra_regional)

    def category(self) -> WatchlistCategory:
        categories = list(WatchlistCategory)
        return categories[int(self.rng.integers(len(categories)))]

    def watchlist(self, country: str, planted: list[_Identity], size: int) -> list[WatchlistEntry]:
        """Planted (adult) identities plus new ones; only missing persons may be minors."""
        listed = [(ident, self.category()) for ident in planted]
        while len(listed) < size:
            category = self.category()
            minor_share = MINOR_SHARE if category is WatchlistCategory.MISSING_PERSON else 0.0
            extra = self.rng.random() < WATCHLIST_EXTRA_REGIONAL_SHARE
            listed.append((self.identity(extra, minor_share=minor_share), category))
        entries = []
        for number, index in enumerate(self.rng.permutation(size), start=1):
            ident, category = listed[int(index)]
            valid_until = None
            if self.rng.random() < 0.8:
                days = WINDOW_DAYS + int(self.rng.integers(180, 1800))
                valid_until = self.start.date() + dt.timedelta(days=days)
            entries.append(
                WatchlistEntry(
                    entry_id=f"{country}-WL-{number:04d}",
                    category=category,
                    person=ident.person,
                    template=self.enrolment_capture(ident.latent),
                    valid_until=valid_until,
                    provenance=self.provenance,
                )
            )
        return entries

    def enrolment_capture(self, latent: Template) -> Template:
        """A capture passing the enrolment quality gate (no poor watchlist photos)."""
        for _ in range(_MAX_DRAWS):
            template = self.model.capture(latent, self.rng)
            if distance(template, latent) < ENROLMENT_MAX_DEVIATION:
                return template
        raise RuntimeError("could not draw an enrolment-quality capture")  # pragma: no cover

    def capture(self, draft: _Draft, all_entries: list[WatchlistEntry]) -> Template:
        """A capture that matches its own entry only, with margins both sides."""
        for _ in range(_MAX_DRAWS):
            template = self.model.capture(draft.identity.latent, self.rng)
            if all(
                distance(template, entry.template) < MATCH_CEILING
                if entry is draft.entry
                else distance(template, entry.template) > NON_MATCH_FLOOR
                for entry in all_entries
            ):
                return template
        raise RuntimeError("could not draw a capture with clear match margins")  # pragma: no cover

    def encounters(
        self, country: str, drafts: list[_Draft], all_entries: list[WatchlistEntry]
    ) -> tuple[list[Encounter], list[GroundTruth]]:
        seconds = self.rng.integers(0, WINDOW_DAYS * 86400, len(drafts))
        points = self.rng.choice(len(BORDER_POINTS[country]), len(drafts), p=BORDER_WEIGHTS)
        order = np.argsort(seconds, kind="stable")
        encounters, truth = [], []
        for number, index in enumerate(order, start=1):
            draft = drafts[int(index)]
            encounter_id = f"{country}-ENC-{number:04d}"
            encounters.append(
                Encounter(
                    encounter_id=encounter_id,
                    person=draft.identity.person,
                    encountered_at=self.start + dt.timedelta(seconds=int(seconds[index])),
                    border_point=BORDER_POINTS[country][int(points[index])],
                    template=self.capture(draft, all_entries),
                    provenance=self.provenance,
                )
            )
            truth.append(
                GroundTruth(
                    encounter_id=encounter_id,
                    enrolling_country=country,
                    holder_country=draft.holder,
                    watchlist_entry_id=draft.entry.entry_id if draft.entry else None,
                    extra_regional=draft.identity.extra_regional,
                )
            )
        return encounters, truth


def build_demo_dataset(
    seed: int,
    *,
    encounters_per_country: int = 12,
    watchlist_size: int = 20,
    start: dt.datetime | None = None,
) -> DemoDataset:
    """Build the seeded CHL/PAN demo dataset; the same seed gives identical output.

    ``start`` (timezone-aware) places the 14-day encounter window; by default
    it is fixed by the seed. Watchlist entries stay valid at least 180 days
    after the window, so a dataset started recently is in force today.
    """
    if start is not None and start.tzinfo is None:
        raise InvalidInput("start: needs a time zone")
    if seed < 0:
        raise InvalidInput("seed: must not be negative")
    if encounters_per_country < MIN_ENCOUNTERS:
        raise InvalidInput(f"encounters_per_country: must be at least {MIN_ENCOUNTERS}")
    if watchlist_size < MIN_WATCHLIST:
        raise InvalidInput(f"watchlist_size: must be at least {MIN_WATCHLIST}")
    builder = _Builder(seed, start)
    planted = {
        role: builder.identity(extra, minor_share=0.0)
        for role, (_, extra) in _WATCHLIST_ROLES.items()
    }
    watchlists = {
        country: builder.watchlist(
            country,
            [ident for role, ident in planted.items() if _WATCHLIST_ROLES[role][0] == country],
            watchlist_size,
        )
        for country in (CHL, PAN)
    }
    all_entries = watchlists[CHL] + watchlists[PAN]
    entry_of = {
        role: next(e for e in all_entries if e.person is ident.person)
        for role, ident in planted.items()
    }
    encounters: dict[str, list[Encounter]] = {}
    ground_truth: list[GroundTruth] = []
    for country in (CHL, PAN):
        drafts = [
            _Draft(planted[role], _WATCHLIST_ROLES[role][0], entry_of[role])
            for role in _ENCOUNTER_ROLES[country]
        ]
        while len(drafts) < encounters_per_country:
            extra = builder.rng.random() < UNRELATED_EXTRA_REGIONAL_SHARE
            drafts.append(_Draft(builder.identity(extra), None, None))
        encounters[country], truth = builder.encounters(country, drafts, all_entries)
        ground_truth.extend(truth)
    return DemoDataset(watchlists=watchlists, encounters=encounters, ground_truth=ground_truth)
