"""Ground truth of a run, from the world that was drawn (never from the nodes).

Who each encounter really is (face) and which identity they presented, who is
on which country's watchlist and whether the entry is in force, who
committed identity fraud, when and where the surge began. ``eligible``
applies each agreement's exchange rules as written (scope, minimum age,
protected categories, the purpose stated) to the link it governs, to explain
why a listed traveller was not caught.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from biometric_exchange.agreement.policy import category_of, scope_facts
from biometric_exchange.agreement.terms import Disclosure, ProtectedCategory, Purpose, Scope
from biometric_exchange.domain import WatchlistCategory
from biometric_exchange.regions import is_extra_regional
from biometric_exchange.simulation.scenario import Scenario
from biometric_exchange.simulation.world import World


@dataclass(frozen=True)
class EncounterFacts:
    encounter_id: str
    country: str
    day: int
    face: int
    alias: bool
    nationality: str
    age: int
    protected: str | None
    """The protected category the agreement knows (asylum seeker, refugee, unaccompanied minor)."""
    unaccompanied_minor: bool
    row: int
    time: dt.datetime


@dataclass(frozen=True)
class EntryFacts:
    entry_id: str
    owner: str
    face: int
    category: str
    in_force: bool
    unaccompanied_minor: bool
    row: int
    protected: str | None = None
    """The listed person's protected category, if any (the holder withholds such hits
    under purposes the agreement does not name for protected categories)."""


@dataclass(frozen=True)
class Rules:
    """One agreement's exchange rules, as the scenario's terms write them."""

    scope: Scope
    minimum_age: int
    protected: frozenset[str]
    protection_purposes: frozenset[str]
    purpose: str
    """What each node states to the other under this agreement."""
    discloses_category: bool = True
    """Step 1 replies carry the holder's watchlist category."""

    @classmethod
    def of(cls, terms: dict[str, Any]) -> Rules:
        scope = terms.get("scope", {})
        protection = terms.get("protection", {})
        purposes = [str(p) for p in terms.get("purposes", [Purpose.BORDER_SECURITY.value])]
        default = Purpose.BORDER_SECURITY.value
        disclosure = terms.get("step1", {}).get("disclosure", Disclosure.HIT_AND_CATEGORY.value)
        return cls(
            scope=Scope(scope.get("population", Scope.EXTRA_REGIONAL.value)),
            minimum_age=int(scope.get("minimum_age", 0)),
            protected=frozenset(protection.get("categories", [c.value for c in ProtectedCategory])),
            protection_purposes=frozenset(
                protection.get(
                    "purposes",
                    [Purpose.HUMANITARIAN_PROTECTION.value, Purpose.MISSING_PERSONS.value],
                )
            ),
            purpose=default if default in purposes else purposes[0],
            discloses_category=disclosure == Disclosure.HIT_AND_CATEGORY.value,
        )

    def person_rules_apply(self, facts: EncounterFacts) -> bool:
        return self.scope is Scope.ALL or is_extra_regional(facts.nationality)

    def refusal(self, facts: EncounterFacts) -> str | None:
        """Why this encounter is not sent to the partner (None: it is sent)."""
        if self.scope is Scope.EXTRA_REGIONAL and not is_extra_regional(facts.nationality):
            return "out of scope (nationality in the Americas)"
        if facts.age < self.minimum_age:
            return f"out of scope (younger than {self.minimum_age})"
        if facts.protected in self.protected and self.purpose not in self.protection_purposes:
            return f"protected category ({facts.protected})"
        return None

    def withheld(self, entry: EntryFacts) -> str | None:
        """Why the holder does not report a hit on ``entry`` (None: it does)."""
        if entry.protected in self.protected and self.purpose not in self.protection_purposes:
            return f"holder's subject protected ({entry.protected})"
        return None


@dataclass(frozen=True)
class LinkRules:
    """The rules of every agreement of a run, by pair of countries."""

    by_pair: dict[frozenset[str], Rules]
    movement_days: int = 30

    @classmethod
    def of(cls, scenario: Scenario) -> LinkRules:
        return cls({frozenset(pair): Rules.of(scenario.terms(*pair)) for pair in scenario.pairs()})

    def between(self, sender: str, holder: str) -> Rules:
        return self.by_pair[frozenset({sender, holder})]

    def person_rules_apply(self, facts: EncounterFacts) -> bool:
        """Whether the node that met ``facts`` checks them: any of its agreements'
        population covers them."""
        return any(
            rules.person_rules_apply(facts)
            for pair, rules in self.by_pair.items()
            if facts.country in pair
        )

    def refusal(self, facts: EncounterFacts, holder: str) -> str | None:
        """Why this encounter is not sent to ``holder`` (None: it is sent)."""
        return self.between(facts.country, holder).refusal(facts)


class GroundTruth:
    """Look-ups over a world's encounters and watchlists."""

    def __init__(self, world: World, rules: LinkRules) -> None:
        self.world = world
        self.rules = rules
        self.threshold = world.scenario.threshold

    @classmethod
    def of(cls, world: World) -> GroundTruth:
        """The truth of ``world`` under its scenario's agreements."""
        return cls(world, LinkRules.of(world.scenario))

    @cached_property
    def encounters(self) -> dict[str, EncounterFacts]:
        world, e = self.world, self.world.encounters
        times = [t.replace(tzinfo=dt.UTC) for t in e.time.astype(dt.datetime).tolist()]
        facts = {}
        for row in range(len(e)):
            face, alias = int(e.face[row]), bool(e.alias[row])
            person = world.person(face, alias=alias)
            day = world.calendar.date(int(e.day[row]))
            scope = scope_facts(person, day)
            protected = scope.protected_category
            encounter_id = str(e.encounter_id[row])
            facts[encounter_id] = EncounterFacts(
                encounter_id,
                str(e.country[row]),
                int(e.day[row]),
                face,
                alias,
                person.nationality,
                scope.age_years,
                protected.value if protected else None,
                person.unaccompanied_minor,
                row,
                times[row],
            )
        return facts

    @cached_property
    def entries(self) -> dict[str, EntryFacts]:
        listings = self.world.listings
        in_force = listings.in_force(self.world.calendar)
        minor = self.world.people.unaccompanied_minor
        return {
            str(listings.entry_id[row]): EntryFacts(
                str(listings.entry_id[row]),
                str(listings.owner[row]),
                int(listings.face[row]),
                str(listings.category[row]),
                bool(in_force[row]),
                bool(minor[int(listings.face[row])]),
                row,
                self._protected(int(listings.face[row])),
            )
            for row in range(len(listings))
        }

    def _protected(self, face: int) -> str | None:
        person = self.world.person(face)
        category = category_of(
            nationality_code=person.nationality,
            legal_status=person.legal_status,
            unaccompanied_minor=person.unaccompanied_minor,
        )
        return category.value if category else None

    @cached_property
    def entries_by_face(self) -> dict[int, list[EntryFacts]]:
        grouped: dict[int, list[EntryFacts]] = defaultdict(list)
        for entry in self.entries.values():
            grouped[entry.face].append(entry)
        return grouped

    def listed(self, face: int, owner: str) -> list[EntryFacts]:
        """``owner``'s entries in force on ``face``."""
        return [e for e in self.entries_by_face.get(face, []) if e.owner == owner and e.in_force]

    def distance(self, encounter_id: str, entry_id: str) -> float:
        a = self.world.encounters.template[self.encounters[encounter_id].row]
        b = self.world.listings.template[self.entries[entry_id].row]
        return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))

    def capture_distance(self, first: str, second: str) -> float:
        templates = self.world.encounters.template
        a = templates[self.encounters[first].row].astype(np.float64)
        b = templates[self.encounters[second].row].astype(np.float64)
        return float(np.linalg.norm(a - b))

    def protection_route(
        self, encounter: EncounterFacts, entry: EntryFacts, *, category_known: bool = True
    ) -> bool:
        """Whether a hit goes to the protection queue (missing person, unaccompanied minor).
        ``category_known``: False for a requester whose agreement discloses the hit only."""
        if not category_known:
            return encounter.unaccompanied_minor
        return (
            entry.category == WatchlistCategory.MISSING_PERSON.value
            or encounter.unaccompanied_minor
            or entry.unaccompanied_minor
        )

    @cached_property
    def frauds(self) -> dict[int, list[EncounterFacts]]:
        """Fraud faces met in the run → their encounters (both identities)."""
        fraud = set(self.world.fraud_faces.tolist())
        grouped: dict[int, list[EncounterFacts]] = defaultdict(list)
        for facts in self.encounters.values():
            if facts.face in fraud:
                grouped[facts.face].append(facts)
        return dict(grouped)

    def processing_order(self, facts: EncounterFacts) -> tuple[int, int, str]:
        """The order in which the run checks encounters: day, country, id."""
        countries = self.world.scenario.nodes.countries
        return (facts.day, countries.index(facts.country), facts.encounter_id)

    def day_of(self, moment: dt.datetime) -> int:
        return self.world.calendar.day_of(moment)
