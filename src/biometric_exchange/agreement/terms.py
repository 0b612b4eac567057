"""The terms of a bilateral agreement: what may be asked, why, how often, and
what may be disclosed. Pure data with validation; no I/O."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Scope(StrEnum):
    EXTRA_REGIONAL = "extra_regional"
    """Only migrants whose nationality lies outside the Americas are exchanged."""
    ALL = "all"


class Disclosure(StrEnum):
    HIT_ONLY = "hit_only"
    HIT_AND_CATEGORY = "hit_and_category"


class Confidence(StrEnum):
    """What a step-1 hit says about how close it was."""

    NONE = "none"
    """Hit or no hit, nothing continuous (the default)."""
    BANDED = "banded"
    """A named band of the holder's threshold (``step1.bands``)."""


class Step1Mode(StrEnum):
    """How a step-1 probe crosses (docs/blind.md)."""

    PLAIN = "plain"
    """The template inside the sealed envelope; the holder matches it (the default)."""
    BLIND = "blind"
    """The template encrypted under the requester's own key (CKKS): the holder computes
    masked decisions it cannot read, the requester reads only which slots hit."""


class ScopeRule(StrEnum):
    """The scope rule a sender applied to a probe; the facts stay with the sender."""

    STANDARD = "standard"
    """Population and minimum age met, and no protected category: any purpose."""
    PROTECTION = "protection"
    """Population and minimum age met, protected categories included: only under the
    purposes the agreement names for them. Stated for every probe under such a
    purpose, so the rule tells nothing about the person the purpose does not."""


class Purpose(StrEnum):
    BORDER_SECURITY = "border_security"
    ANTI_TRAFFICKING = "anti_trafficking"
    ANTI_SMUGGLING = "anti_smuggling"
    MISSING_PERSONS = "missing_persons"
    HUMANITARIAN_PROTECTION = "humanitarian_protection"


class ProtectedCategory(StrEnum):
    ASYLUM_SEEKER = "asylum_seeker"
    REFUGEE = "refugee"
    UNACCOMPANIED_MINOR = "unaccompanied_minor"


class DetailField(StrEnum):
    """What step 2 can disclose about a hit."""

    NAMES = "names"
    BIRTH_DATE = "birth_date"
    NATIONALITY = "nationality"
    DOCUMENT_NUMBERS = "document_numbers"
    ENCOUNTER_PLACE_DATE = "encounter_place_date"
    WATCHLIST_CATEGORY = "watchlist_category"


class Approval(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScopeTerms(_Frozen):
    population: Scope = Scope.EXTRA_REGIONAL
    minimum_age: Annotated[int, Field(ge=0, le=120)] = 0
    """Persons younger than this (whole years at the encounter) are not exchanged."""


class ConfidenceBand(_Frozen):
    """A hit closer than ``up_to`` times the holder's threshold (and not in a closer band)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,23}$")]
    up_to: Annotated[float, Field(gt=0.0, le=1.0)]


MIN_BAND_WIDTH = 0.2
"""The narrowest band, as a share of the threshold: a band edge is a sphere around the
watchlist template, and narrow bands would be a distance by another name."""
MAX_BANDS = 3


def _default_bands() -> tuple[ConfidenceBand, ...]:
    return (
        ConfidenceBand(name="strong", up_to=0.5),
        ConfidenceBand(name="probable", up_to=0.75),
        ConfidenceBand(name="possible", up_to=1.0),
    )


class Step1Terms(_Frozen):
    mode: Annotated[Step1Mode, Field(exclude_if=lambda value: value is Step1Mode.PLAIN)] = (
        Step1Mode.PLAIN
    )
    """Left out of the canonical form while "plain", like every default added later."""
    disclosure: Disclosure = Disclosure.HIT_AND_CATEGORY
    max_candidates: Annotated[int, Field(ge=1, le=20)] = 3
    max_probes_per_request: Annotated[int, Field(ge=1, le=1000)] = 64
    hit_reference_ttl_hours: Annotated[int, Field(ge=1, le=24 * 365)] = 24 * 30
    """A hit reference expires this long after it was issued; each request gets new ones."""
    confidence: Annotated[Confidence, Field(exclude_if=lambda value: value is Confidence.NONE)] = (
        Confidence.NONE
    )
    """Left out of the canonical form while "none", like every default added later."""
    bands: Annotated[
        tuple[ConfidenceBand, ...],
        Field(exclude_if=lambda value: value == _default_bands()),
    ] = Field(default_factory=_default_bands)
    """Used when ``confidence`` is "banded": at most three, widening to the threshold."""

    @model_validator(mode="after")
    def _bands_wide(self) -> Step1Terms:
        if self.mode is Step1Mode.BLIND and self.confidence is not Confidence.NONE:
            raise ValueError("step1.confidence: a blind step 1 has no distance to band")
        bands = self.bands
        if not 1 <= len(bands) <= MAX_BANDS:
            raise ValueError(f"step1.bands: 1 to {MAX_BANDS} bands")
        if len({band.name for band in bands}) != len(bands):
            raise ValueError("step1.bands: names must differ")
        if bands[-1].up_to != 1.0:
            raise ValueError("step1.bands: the last band must reach the threshold (up_to = 1.0)")
        lower = 0.0
        for band in bands:
            if band.up_to - lower < MIN_BAND_WIDTH - 1e-9:
                raise ValueError(
                    f"step1.bands: band {band.name!r} is narrower than {MIN_BAND_WIDTH} of the "
                    "threshold"
                )
            lower = band.up_to
        return self


def _default_fields() -> dict[Purpose, tuple[DetailField, ...]]:
    everything = tuple(DetailField)
    return {
        Purpose.BORDER_SECURITY: (
            DetailField.NATIONALITY,
            DetailField.WATCHLIST_CATEGORY,
            DetailField.ENCOUNTER_PLACE_DATE,
        ),
        Purpose.ANTI_TRAFFICKING: everything,
        Purpose.ANTI_SMUGGLING: everything,
        Purpose.MISSING_PERSONS: (
            DetailField.NAMES,
            DetailField.BIRTH_DATE,
            DetailField.NATIONALITY,
            DetailField.ENCOUNTER_PLACE_DATE,
        ),
        Purpose.HUMANITARIAN_PROTECTION: (
            DetailField.NAMES,
            DetailField.BIRTH_DATE,
            DetailField.NATIONALITY,
        ),
    }


class Step2Terms(_Frozen):
    approval: Approval = Approval.MANUAL
    sla_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 48
    """Prüm: core data within 48 hours of a match."""
    fields: dict[Purpose, tuple[DetailField, ...]] = Field(default_factory=_default_fields)


class ProtectionTerms(_Frozen):
    categories: tuple[ProtectedCategory, ...] = tuple(ProtectedCategory)
    """Never exchanged nor disclosed, except for the purposes below."""
    purposes: tuple[Purpose, ...] = (Purpose.HUMANITARIAN_PROTECTION, Purpose.MISSING_PERSONS)


class QuotaTerms(_Frozen):
    """Per requesting party and UTC day."""

    probes_per_day: Annotated[int, Field(ge=1)] = 10_000
    detail_requests_per_day: Annotated[int, Field(ge=1)] = 500


class RetentionTerms(_Frozen):
    exchanged_data_days: Annotated[int, Field(ge=1)] = 90
    audit_days: Annotated[int, Field(ge=1)] = 730
    """Prüm keeps logs two years."""


class TemplateProtectionScheme(StrEnum):
    """How templates are protected across the border (ISO/IEC 24745; docs/protection.md)."""

    NONE = "none"
    ROTATION = "rotation"
    BIOHASH = "biohash"
    IOM = "iom"


class TemplateProtectionTerms(_Frozen):
    scheme: TemplateProtectionScheme = TemplateProtectionScheme.NONE
    epoch: Annotated[int, Field(ge=1)] = 1
    """Raised by one to renew every protected template (the key derives from it)."""


class Terms(_Frozen):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{3,64}$")]
    version: Annotated[int, Field(ge=1)]
    title: str
    effective_from: dt.date
    effective_until: dt.date
    purposes: Annotated[tuple[Purpose, ...], Field(min_length=1)]
    scope: ScopeTerms = ScopeTerms()
    step1: Step1Terms = Step1Terms()
    step2: Step2Terms = Step2Terms()
    protection: ProtectionTerms = ProtectionTerms()
    quotas: QuotaTerms = QuotaTerms()
    retention: RetentionTerms = RetentionTerms()
    template_protection: Annotated[
        TemplateProtectionTerms, Field(exclude_if=lambda term: term == TemplateProtectionTerms())
    ] = TemplateProtectionTerms()
    """Left out of the canonical form while it is the default, so agreements signed
    before this term existed keep their hash and signatures."""
    revoked_keys: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = ()
    """Key ids (hex SHA-256 of a raw public key) or CA fingerprints no longer valid."""

    @model_validator(mode="after")
    def _consistent(self) -> Terms:
        if self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        protected = self.template_protection.scheme is not TemplateProtectionScheme.NONE
        if self.step1.mode is Step1Mode.BLIND and protected:
            raise ValueError("step1.mode: blind step 1 and template_protection exclude each other")
        unknown = [p.value for p in self.step2.fields if p not in self.purposes]
        if unknown:
            raise ValueError(f"step2.fields names purposes not allowed: {', '.join(unknown)}")
        return self
