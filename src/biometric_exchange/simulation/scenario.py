"""A simulation scenario: a TOML file in, a frozen, validated model out.

A scenario names the population (migrants drawn, lead-in days, fraud share),
the simulated days, the nodes (Chile and Panama, and optionally Mexico), the
watchlists (prevalence, filler entries), the agreements (Chile-Panama's in
``[agreement]``, every other pair's in ``[agreements."PAN-MEX"]`` and the like,
each a terms file and overrides merged into its ``[agreement]`` table), the
matching threshold, the seed, and optionally a surge, step-2 follow-ups and a
threshold sweep. A bad file is one error naming the field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from biometric_exchange.agreement import Purpose, load_terms, merge_terms
from biometric_exchange.agreement.terms import DetailField, Terms
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.regions import code_for_validator
from biometric_exchange.synthetic.corridor import PAN_EXIT, RECEPTION_STATIONS
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe
from biometric_exchange.workspace import CORRIDOR, SHIPPED_TERMS

SHIPPED_NAME = "chile_panama"
"""``agreement.terms`` naming the Chile-Panama terms shipped with the project."""
CORRIDOR_COUNTRIES = tuple(country for _, country in CORRIDOR)
"""The nodes a scenario may have, south to north: the order in which each day runs."""
REQUIRED_COUNTRIES = ("CHL", "PAN")
FIRST_PAIR = ("CHL", "PAN")
"""The pair whose terms ``[agreement]`` gives; every other pair has ``[agreements."A-B"]``."""
MAX_MIGRANTS = 2_000_000
CHILE_POINTS = ("CHL-CHACALLUTA", "CHL-COLCHANE", "CHL-SANTIAGO-AIRPORT")
BORDER_POINTS = (*CHILE_POINTS, *RECEPTION_STATIONS, PAN_EXIT)
"""Where the corridor model lets the two nodes meet travellers."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Share = Annotated[float, Field(ge=0, le=1)]
Threshold = Annotated[float, Field(gt=0, le=2)]


class PopulationSection(_Frozen):
    migrants: Annotated[int, Field(ge=1, le=MAX_MIGRANTS)]
    """Travellers drawn; their journeys start over ``lead_days + days``."""
    lead_days: Annotated[int, Field(ge=0, le=120)] = 35
    """Journeys may start this many days before the first simulated day, so the
    flow through both nodes is steady from day one."""
    fraud_share: Share = 0.005
    """Travellers who show a second (alias) identity at later encounters."""
    relatives_share: Share = 0.0
    """Travellers whose face resembles a relative's among the travellers (``resemblance``)."""
    twin_share: Share = 0.0
    """Of those relatives, the share who are identical twins."""
    lookalike_share: Share = 0.0
    """Faces (travellers and watchlist fillers) that resemble an unrelated traveller."""


class ConflictsSection(_Frozen):
    fpir: Annotated[float, Field(gt=0, lt=1)]
    """Target FPIR of each ``IDENTITY_CONFLICT`` search; the nodes get thresholds per
    gallery size for it (``conflict_thresholds``) instead of the fixed threshold."""


class WatchlistSection(_Frozen):
    prevalence: Share = 0.003
    """Share of travellers on each country's watchlist (minors as missing persons)."""
    fraud_listed: Share = 0.3
    """Share of fraud travellers listed for a fraudulent document, per country."""
    fillers: Annotated[int, Field(ge=0, le=1_000_000)] = 1000
    """Entries per country on people who never travel (they make the gallery's size)."""
    no_expiry: Share = 0.25
    lapsed: Share = 0.1
    """Share of entries that lapsed before the first simulated day."""


class NodesSection(_Frozen):
    countries: tuple[str, ...] = REQUIRED_COUNTRIES
    """In any order; kept south to north (``CORRIDOR_COUNTRIES``)."""

    @field_validator("countries")
    @classmethod
    def _corridor(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = [code_for_validator(code) for code in value]
        if len(set(codes)) != len(codes):
            raise ValueError("each country at most once")
        unknown = sorted(set(codes) - set(CORRIDOR_COUNTRIES))
        if unknown or not set(REQUIRED_COUNTRIES) <= set(codes):
            raise ValueError("the corridor model has the nodes CHL and PAN, and optionally MEX")
        return tuple(code for code in CORRIDOR_COUNTRIES if code in codes)


class AgreementSection(_Frozen):
    terms: str = SHIPPED_NAME
    """A shipped terms name (``chile_panama``, ``panama_mexico``, ``chile_mexico``) or a
    terms file, relative to the scenario."""
    overrides: dict[str, Any] = {}
    """Merged into the terms' ``[agreement]`` table, e.g. ``{scope = {population = "all"}}``."""


class PairAgreementSection(_Frozen):
    """``[agreements."PAN-MEX"]``: the terms of a pair other than Chile-Panama."""

    terms: str | None = None
    """As ``agreement.terms``; by default the pair's shipped terms."""
    overrides: dict[str, Any] = {}


def pair_key(first: str, second: str) -> str:
    """``"PAN-MEX"``: a pair named south to north."""
    a, b = sorted((first, second), key=CORRIDOR_COUNTRIES.index)
    return f"{a}-{b}"


def _pair_codes(key: str) -> tuple[str, str]:
    parts = key.split("-")
    if len(parts) != 2 or not all(p in CORRIDOR_COUNTRIES for p in parts) or parts[0] == parts[1]:
        raise ValueError(
            f'{key!r}: name a pair as two of {", ".join(CORRIDOR_COUNTRIES)}, e.g. "PAN-MEX"'
        )
    return parts[0], parts[1]


class Step2Section(_Frozen):
    share: Share = 0.0
    """Share of partner hits an officer follows up with a step-2 request."""
    purpose: Purpose = Purpose.ANTI_TRAFFICKING
    fields: tuple[DetailField, ...] = (DetailField.NATIONALITY, DetailField.WATCHLIST_CATEGORY)
    decision: Annotated[str, Field(pattern="^(approve|deny)$")] = "approve"
    """What the holder's officer decides on each request."""


class SurgeSection(_Frozen):
    nationality: str
    border_point: str
    start_day: Annotated[int, Field(ge=0)]
    """Day index (0 = first simulated day) of the first extra arrivals."""
    extra_per_day: Annotated[float, Field(gt=0, le=100_000)]
    """Mean extra arrivals per day (Poisson) from ``start_day`` on."""

    @field_validator("nationality")
    @classmethod
    def _code(cls, value: str) -> str:
        return code_for_validator(value)

    @field_validator("border_point")
    @classmethod
    def _point(cls, value: str) -> str:
        if value not in BORDER_POINTS:
            raise ValueError(f"must be one of {', '.join(BORDER_POINTS)}")
        return value


class SweepSection(_Frozen):
    thresholds: Annotated[tuple[Threshold, ...], Field(min_length=1)]
    fillers: Annotated[tuple[Annotated[int, Field(ge=0, le=1_000_000)], ...], Field(min_length=1)]
    """Watchlist filler entries per country: the gallery sizes compared."""


class Scenario(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)]
    days: Annotated[int, Field(ge=1, le=90)]
    threshold: Threshold = 0.6
    population: PopulationSection
    watchlist: WatchlistSection = WatchlistSection()
    nodes: NodesSection = NodesSection()
    agreement: AgreementSection = AgreementSection()
    """Chile-Panama's terms."""
    agreements: dict[str, PairAgreementSection] = {}
    """Every other pair's terms, by pair (``"PAN-MEX"``, ``"CHL-MEX"``); a pair not named
    here signs its shipped terms."""
    step2: Step2Section = Step2Section()
    conflicts: ConflictsSection | None = None
    surge: SurgeSection | None = None
    sweep: SweepSection | None = None
    source: Path | None = Field(default=None, exclude=True)
    """The file the scenario came from (terms paths are relative to it)."""

    @field_validator("agreements")
    @classmethod
    def _pairs_named(
        cls, value: dict[str, PairAgreementSection]
    ) -> dict[str, PairAgreementSection]:
        named: dict[str, PairAgreementSection] = {}
        for key, section in value.items():
            first, second = _pair_codes(key)
            normal = pair_key(first, second)
            if normal == pair_key(*FIRST_PAIR):
                raise ValueError(f"{key!r}: Chile-Panama's terms are [agreement]'s")
            if normal in named:
                raise ValueError(f"{key!r}: {normal} is named twice")
            named[normal] = section
        return named

    @model_validator(mode="after")
    def _pairs_are_nodes(self) -> Scenario:
        for key in self.agreements:
            missing = [c for c in key.split("-") if c not in self.nodes.countries]
            if missing:
                raise ValueError(
                    f"agreements.{key}: {missing[0]} is not in nodes.countries "
                    f"({', '.join(self.nodes.countries)})"
                )
        return self

    @model_validator(mode="after")
    def _surge_inside(self) -> Scenario:
        if self.surge is not None and self.surge.start_day >= self.days:
            raise ValueError(f"surge.start_day must be below days ({self.days})")
        return self

    def with_seed(self, seed: int) -> Scenario:
        return self.model_copy(update={"seed": seed})

    def pairs(self) -> list[tuple[str, str]]:
        """Every pair of the run's nodes, each south to north, Chile-Panama first."""
        countries = self.nodes.countries
        return [(a, b) for i, a in enumerate(countries) for b in countries[i + 1 :]]

    def section(self, first: str, second: str) -> AgreementSection | PairAgreementSection:
        """The scenario's table for a pair's terms (a default one when it names none)."""
        key = pair_key(first, second)
        if key == pair_key(*FIRST_PAIR):
            return self.agreement
        return self.agreements.get(key, PairAgreementSection())

    def terms_path(self, first: str = "CHL", second: str = "PAN") -> Path:
        """The terms file a pair's agreement starts from."""
        name = self.section(first, second).terms
        if name is None:
            return SHIPPED_TERMS[frozenset({first, second})]
        shipped = {path.stem: path for path in SHIPPED_TERMS.values()}
        if name in shipped:
            return shipped[name]
        base = self.source.parent if self.source else Path.cwd()
        return base / name

    def terms(self, first: str = "CHL", second: str = "PAN") -> dict[str, Any]:
        """A pair's terms (Chile-Panama's by default): the terms file's ``[agreement]``
        with the scenario's overrides merged."""
        section = self.section(first, second)
        return merge_terms(load_terms(self.terms_path(first, second)), section.overrides)


def parse_scenario(raw: dict[str, Any], source: str) -> Scenario:
    """Validate a scenario's table (``source`` names it in errors)."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, source)) from exc


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file, including its agreement terms."""
    raw = read_toml(path, missing="no scenario file here", error=InvalidInput)
    scenario = parse_scenario(raw, str(path)).model_copy(update={"source": path})
    try:
        check_terms(scenario)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    return scenario


def check_terms(scenario: Scenario) -> None:
    """Validate every pair's merged terms as the agreement will (errors name the field)."""
    for first, second in scenario.pairs():
        key = pair_key(first, second)
        field = "agreement" if key == pair_key(*FIRST_PAIR) else f"agreements.{key}"
        _check_pair_terms(scenario, first, second, field)


def _check_pair_terms(scenario: Scenario, first: str, second: str, field: str) -> None:
    try:
        terms = scenario.terms(first, second)
    except ConfigError as exc:
        raise InvalidInput(f"{field}.terms: {exc}") from exc
    raw = {
        "id": "SIM-CHECK",
        "version": 1,
        "title": "terms check",
        "effective_from": dt.date(2000, 1, 1),
        "effective_until": dt.date(2001, 1, 1),
        "purposes": tuple(Purpose),
        **terms,
    }
    try:
        Terms.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, f"{field}.overrides")) from exc


def resolve(name_or_path: str, folder: Path) -> Path:
    """A scenario argument: a path to a file, or a name in ``folder`` (``surge`` →
    ``folder/surge.toml``)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return path
    candidate = folder / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
    hint = f" (scenarios in {folder}: {', '.join(known)})" if known else ""
    raise InvalidInput(f"scenario {name_or_path!r}: no such file{hint}")
