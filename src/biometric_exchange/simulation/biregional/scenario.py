"""A bi-regional scenario file: the federation, the routes and the world's sizes.

``[federation]`` is a federation description (``federation.description``);
``[world]`` says how many migrants travel, along which routes (each a path of
member states, south to north, with its share of the travellers), how likely
each member is to encounter a traveller who crosses it, and the watchlists.
A bad file is one error naming the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.federation.description import Federation, parse_federation
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe

KIND = "bi_regional"
"""``kind`` of a scenario file run by this package rather than the corridor runner."""

Share = Annotated[float, Field(ge=0, le=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RouteSection(_Frozen):
    share: Annotated[float, Field(gt=0)]
    path: Annotated[tuple[str, ...], Field(min_length=2)]


class WorldSection(_Frozen):
    migrants: Annotated[int, Field(ge=1, le=200_000)]
    lead_days: Annotated[int, Field(ge=0, le=120)] = 20
    """Journeys start up to this many days before the first simulated day."""
    hop_days: tuple[int, int] = (1, 4)
    """Days from one member to the next on a route (uniform, inclusive)."""
    routes: Annotated[tuple[RouteSection, ...], Field(min_length=1)]
    encounter_rate: dict[str, Share] = {}
    """Chance that a member records a traveller crossing it (default ``default_rate``)."""
    default_rate: Share = 0.5
    listed_share: Share = 0.05
    """Share of travellers on one member's watchlist (the member drawn at random)."""
    fillers: Annotated[int, Field(ge=0, le=100_000)] = 200
    """Entries per member on people who never travel."""


class BiRegionalScenario(_Frozen):
    kind: str = KIND
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)]
    days: Annotated[int, Field(ge=1, le=60)]
    threshold: Annotated[float, Field(gt=0, le=2)] = 0.6
    federation: dict[str, Any]
    world: WorldSection
    grpc_subset: tuple[str, ...] = ()
    """The members of the gRPC run (``bx federation run``)."""

    @model_validator(mode="after")
    def _routes_are_members(self) -> BiRegionalScenario:
        members = set(self.federation.get("members", ()))
        for index, route in enumerate(self.world.routes):
            for code in route.path:
                if code not in members:
                    raise ValueError(f"world.routes.{index}.path: {code} is not a member")
        for code in (*self.world.encounter_rate, *self.grpc_subset):
            if code not in members:
                raise ValueError(f"{code} is not a member of the federation")
        return self


def load_bi_regional(path: Path) -> tuple[BiRegionalScenario, Federation]:
    """The scenario and its validated federation."""
    raw = read_toml(path, missing="no scenario file here", error=InvalidInput)
    try:
        scenario = BiRegionalScenario.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, str(path))) from exc
    federation = parse_federation(scenario.federation, f"{path}: federation", path=path)
    return scenario, federation


def is_bi_regional(path: Path) -> bool:
    """True for a scenario file of this kind (``kind = "bi_regional"``)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return raw.get("kind") == KIND
