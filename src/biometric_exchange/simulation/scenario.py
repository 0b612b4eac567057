"""A simulation scenario: a TOML file in, a frozen, validated model out.

A scenario names the population (migrants drawn, lead-in days, fraud share),
the simulated days, the nodes, the watchlists (prevalence, filler entries),
the agreement (a terms file and overrides merged into its ``[agreement]``
table), the matching threshold, the seed, and optionally a surge, step-2
follow-ups and a threshold sweep. A bad file is one error naming the field.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from biometric_exchange.agreement import Purpose, load_terms
from biometric_exchange.agreement.terms import DetailField, Terms
from biometric_exchange.exceptions import ConfigError, InvalidInput
from biometric_exchange.regions import code_for_validator
from biometric_exchange.synthetic.corridor import PAN_EXIT, RECEPTION_STATIONS
from biometric_exchange.validation import describe
from biometric_exchange.workspace import TERMS_FILE

SHIPPED_TERMS = "chile_panama"
"""``agreement.terms`` naming the terms shipped with the project."""
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
    countries: tuple[str, ...] = ("CHL", "PAN")

    @field_validator("countries")
    @classmethod
    def _pair(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code_for_validator(code) for code in value)
        if sorted(codes) != ["CHL", "PAN"]:
            raise ValueError("the corridor model has two nodes: CHL and PAN")
        return codes


class AgreementSection(_Frozen):
    terms: str = SHIPPED_TERMS
    """``chile_panama`` (the shipped terms) or a terms file, relative to the scenario."""
    overrides: dict[str, Any] = {}
    """Merged into the terms' ``[agreement]`` table, e.g. ``{scope = {population = "all"}}``."""


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
    step2: Step2Section = Step2Section()
    surge: SurgeSection | None = None
    sweep: SweepSection | None = None
    source: Path | None = Field(default=None, exclude=True)
    """The file the scenario came from (terms paths are relative to it)."""

    @model_validator(mode="after")
    def _surge_inside(self) -> Scenario:
        if self.surge is not None and self.surge.start_day >= self.days:
            raise ValueError(f"surge.start_day must be below days ({self.days})")
        return self

    def with_seed(self, seed: int) -> Scenario:
        return self.model_copy(update={"seed": seed})

    def terms_path(self) -> Path:
        if self.agreement.terms == SHIPPED_TERMS:
            return TERMS_FILE
        base = self.source.parent if self.source else Path.cwd()
        return base / self.agreement.terms

    def terms(self) -> dict[str, Any]:
        """The agreement's terms: the terms file's ``[agreement]`` with the overrides merged."""
        return merge(load_terms(self.terms_path()), self.agreement.overrides)


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, tables recursively."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_scenario(raw: dict[str, Any], source: str) -> Scenario:
    """Validate a scenario's table (``source`` names it in errors)."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, source)) from exc


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file, including its agreement terms."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no scenario file here") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from exc
    scenario = parse_scenario(raw, str(path)).model_copy(update={"source": path})
    try:
        check_terms(scenario)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    return scenario


def check_terms(scenario: Scenario) -> None:
    """Validate the merged terms as the agreement will (errors name the field)."""
    try:
        terms = scenario.terms()
    except ConfigError as exc:
        raise InvalidInput(f"agreement.terms: {exc}") from exc
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
        raise InvalidInput(describe(exc, "agreement.overrides")) from exc


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
