"""The federation description: member states, a multilateral baseline of terms, bilateral
overrides, pairs without terms, and the router's per-member quota.

One TOML table in, a frozen, validated model out; a bad table is one error naming the
field. Pairs are written ``"PAN-MEX"`` (either order). Every pair of members signs the
baseline terms with its own overrides merged in, except the pairs listed in
``without_terms``: those hold no agreement and may not exchange, directly or through
the router.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from biometric_exchange.agreement import load_terms, merge_terms
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.federation.members import conference_of
from biometric_exchange.regions import code_for_validator
from biometric_exchange.tomlfile import read_toml
from biometric_exchange.validation import describe
from biometric_exchange.workspace import SHIPPED_TERMS

BASELINE_TERMS = "chile_panama"
"""The shipped terms the 2017 minutes present as the model."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TermsSection(_Frozen):
    terms: str = BASELINE_TERMS
    """A shipped terms name (``chile_panama``, ``panama_mexico``, ``chile_mexico``) or a
    terms file relative to the description."""
    overrides: dict[str, Any] = {}
    """Merged into the terms' ``[agreement]`` table, tables recursively."""


class PairSection(_Frozen):
    """A bilateral override of the baseline for one pair."""

    terms: str | None = None
    """Another terms file for this pair instead of the baseline's."""
    overrides: dict[str, Any] = {}


class RouterSection(_Frozen):
    calls_per_member_per_day: Annotated[int, Field(ge=1, le=100_000_000)] = 100_000
    """Envelopes the router forwards for one member in one UTC day."""


def pair_of(key: str, members: tuple[str, ...]) -> tuple[str, str]:
    """``"PAN-MEX"`` as two members in the description's order."""
    parts = key.split("-")
    if len(parts) != 2 or parts[0] == parts[1] or not all(p in members for p in parts):
        raise ValueError(f'{key!r}: name a pair as two different members, e.g. "PAN-MEX"')
    first, second = sorted(parts, key=members.index)
    return first, second


class Federation(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]{0,63}$")]
    members: Annotated[tuple[str, ...], Field(min_length=2, max_length=23)]
    """Member states of the RCM or the SACM, ISO alpha-3."""
    baseline: TermsSection = TermsSection()
    pairs: dict[str, PairSection] = {}
    without_terms: tuple[str, ...] = ()
    """Pairs that sign nothing (``"VEN-USA"``)."""
    router: RouterSection = RouterSection()
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code_for_validator(code) for code in value)
        if len(set(codes)) != len(codes):
            raise ValueError("each member at most once")
        for code in codes:
            conference_of(code)
        return codes

    @model_validator(mode="after")
    def _pairs_are_members(self) -> Federation:
        seen: set[tuple[str, str]] = set()
        for field, keys in (("pairs", list(self.pairs)), ("without_terms", self.without_terms)):
            for key in keys:
                try:
                    pair = pair_of(key, self.members)
                except ValueError as exc:
                    raise ValueError(f"{field}.{key}: {exc}") from None
                if pair in seen:
                    raise ValueError(f"{field}.{key}: the pair is named twice")
                seen.add(pair)
        return self

    def conference(self, code: str) -> str:
        return conference_of(code)

    def all_pairs(self) -> list[tuple[str, str]]:
        members = self.members
        return [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]

    def agreed_pairs(self) -> list[tuple[str, str]]:
        """Every pair that signs an agreement, in the description's order."""
        refused = {pair_of(key, self.members) for key in self.without_terms}
        return [pair for pair in self.all_pairs() if pair not in refused]

    def overrides_for(self, first: str, second: str) -> PairSection | None:
        for key, section in self.pairs.items():
            if pair_of(key, self.members) == (first, second):
                return section
        return None

    def terms(self, first: str, second: str) -> dict[str, Any]:
        """A pair's terms: the baseline (or the pair's own file) with the baseline's
        overrides and then the pair's merged in."""
        pair = self.overrides_for(*sorted((first, second), key=self.members.index))
        name = pair.terms if pair is not None and pair.terms else self.baseline.terms
        merged = merge_terms(load_terms(self._terms_path(name)), self.baseline.overrides)
        return merge_terms(merged, pair.overrides) if pair is not None else merged

    def _terms_path(self, name: str) -> Path:
        shipped = {path.stem: path for path in SHIPPED_TERMS.values()}
        if name in shipped:
            return shipped[name]
        base = self.source.parent if self.source else Path.cwd()
        return base / name


def parse_federation(raw: dict[str, Any], source: str, *, path: Path | None = None) -> Federation:
    """Validate a federation table (``source`` names it in errors)."""
    try:
        federation = Federation.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, source)) from exc
    return federation.model_copy(update={"source": path})


def load_federation(path: Path) -> Federation:
    """A federation description file (its ``[federation]`` table, or the whole file)."""
    raw = read_toml(path, missing="no federation file here", error=InvalidInput)
    table = raw.get("federation", raw)
    if not isinstance(table, dict):
        raise InvalidInput(f"{path}: federation: a table is required")
    return parse_federation(table, str(path), path=path)
