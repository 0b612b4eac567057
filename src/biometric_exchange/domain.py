"""Records, templates, alerts and their enumerations. No I/O here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidTemplate, RecordRefused

TEMPLATE_DIM = 128
TEMPLATE_MODEL = "dlib_face_recognition_resnet_model_v1"
"""face_recognition's descriptor: 128 float values, same person below 0.6."""

Template = NDArray[np.float32]


def validate_template(
    values: ArrayLike, *, field_name: str = "template", dim: int = TEMPLATE_DIM
) -> Template:
    """Return ``values`` as a read-only float32 vector, or raise InvalidTemplate."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidTemplate(f"{field_name}: values must be numbers") from exc
    if array.ndim != 1:
        raise InvalidTemplate(f"{field_name}: expected a flat list of {dim} numbers")
    if array.shape[0] != dim:
        raise InvalidTemplate(f"{field_name}: expected {dim} values, got {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        raise InvalidTemplate(f"{field_name}: values must be finite (no NaN or infinity)")
    if np.any(np.abs(array) > np.finfo(np.float32).max):
        raise InvalidTemplate(f"{field_name}: values exceed the float32 range")
    template = array.astype(np.float32)
    template.setflags(write=False)
    return template


def template_to_bytes(template: Template) -> bytes:
    """Little-endian float32 bytes: the only form templates take on disk or wire."""
    return np.asarray(template, dtype="<f4").tobytes()


def template_from_bytes(
    data: bytes, *, dim: int = TEMPLATE_DIM, field_name: str = "template"
) -> Template:
    """Inverse of ``template_to_bytes``, validated (float32 values are within the
    float32 range by construction, so finiteness is all there is to check)."""
    if len(data) != dim * 4:
        raise InvalidTemplate(f"{field_name}: expected {dim * 4} bytes, got {len(data)}")
    template = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.isfinite(template).all():
        raise InvalidTemplate(f"{field_name}: values must be finite (no NaN or infinity)")
    template.setflags(write=False)
    return template


class WatchlistCategory(StrEnum):
    """Watchlist categories, after INTERPOL notices and SIS II articles."""

    ARREST_WARRANT = "arrest_warrant"
    TRAFFICKING_SUSPECT = "trafficking_suspect"
    SMUGGLING_NETWORK = "smuggling_network"
    MISSING_PERSON = "missing_person"
    DEPORTATION_ORDER = "deportation_order"
    FRAUDULENT_DOCUMENT = "fraudulent_document"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CATEGORY_SEVERITY: dict[WatchlistCategory, Severity] = {
    WatchlistCategory.ARREST_WARRANT: Severity.CRITICAL,
    WatchlistCategory.TRAFFICKING_SUSPECT: Severity.HIGH,
    WatchlistCategory.SMUGGLING_NETWORK: Severity.HIGH,
    WatchlistCategory.MISSING_PERSON: Severity.HIGH,
    WatchlistCategory.DEPORTATION_ORDER: Severity.MEDIUM,
    WatchlistCategory.FRAUDULENT_DOCUMENT: Severity.MEDIUM,
}


class AlertKind(StrEnum):
    WATCHLIST_HIT = "WATCHLIST_HIT"
    """Our encounter matches our own or the partner's watchlist."""
    SUBJECT_ENCOUNTERED_BY_PARTNER = "SUBJECT_ENCOUNTERED_BY_PARTNER"
    """Our watchlist subject was encountered by the partner (they enrolled, we hold)."""
    IDENTITY_CONFLICT = "IDENTITY_CONFLICT"
    """The same face under different biographic identities."""
    PROTECTION = "PROTECTION"
    """A hit on a missing person, or involving an unaccompanied minor."""
    MOVEMENT = "MOVEMENT"
    """A person we encountered was encountered by the partner within N days."""
    FLOW_SURGE = "FLOW_SURGE"
    """Arrivals of one nationality at one border point far above their baseline."""
    EXTRACTION_SUSPECTED = "EXTRACTION_SUSPECTED"
    """A partner's step-1 probes look like an attempt to rebuild our watchlist
    templates; step 1 is held for that partner for the rest of the UTC day."""


class AlertStatus(StrEnum):
    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    INVESTIGATING = "INVESTIGATING"
    ESCALATED = "ESCALATED"
    CONFIRMED = "CONFIRMED"
    DISMISSED = "DISMISSED"
    CLOSED = "CLOSED"


class AlertQueue(StrEnum):
    """Who reviews an alert: protection cases never reach enforcement officers."""

    ENFORCEMENT = "enforcement"
    PROTECTION = "protection"


class LegalStatus(StrEnum):
    NONE = "none"
    ASYLUM_SEEKER = "asylum_seeker"
    REFUGEE = "refugee"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNSPECIFIED = "X"


@dataclass(frozen=True)
class Provenance:
    """Where a record came from. Every record of this project is synthetic."""

    synthetic: bool
    generator: str
    seed: int | None = None


UNMARKED = Provenance(synthetic=False, generator="unmarked")
"""A record that came without provenance (which no node takes in)."""


@dataclass(frozen=True)
class Person:
    given_name: str
    family_name: str
    sex: Sex
    birth_date: dt.date
    nationality: str
    document_number: str
    legal_status: LegalStatus = LegalStatus.NONE
    unaccompanied_minor: bool = False

    def age_on(self, day: dt.date) -> int:
        """Age in whole years on ``day``."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class Encounter:
    """One person met by a border officer, with one face capture."""

    encounter_id: str
    person: Person
    encountered_at: dt.datetime
    border_point: str
    template: Template = field(repr=False)
    provenance: Provenance


@dataclass(frozen=True)
class WatchlistEntry:
    entry_id: str
    category: WatchlistCategory
    person: Person
    template: Template = field(repr=False)
    valid_until: dt.date | None
    provenance: Provenance


def check_entry(record: Encounter | WatchlistEntry, country: str) -> None:
    """The rule for every record entering a node of ``country``: marked synthetic
    with a generator, and an encounter met at one of the country's own border
    points (codes start ``CHL-``). Raises RecordRefused naming the field."""
    if isinstance(record, Encounter):
        name = f"encounter {record.encounter_id}"
    else:
        name = f"watchlist entry {record.entry_id}"
    provenance = record.provenance
    if provenance == UNMARKED:
        raise RecordRefused(
            name, ("provenance",), "missing; this system takes records marked synthetic only"
        )
    if provenance.synthetic is not True:
        raise RecordRefused(
            name, ("provenance", "synthetic"), "this system takes synthetic records only"
        )
    if not provenance.generator.strip():
        raise RecordRefused(
            name, ("provenance", "generator"), "missing; a synthetic record names its generator"
        )
    if isinstance(record, Encounter) and not record.border_point.startswith(f"{country}-"):
        raise RecordRefused(
            name,
            ("border_point",),
            f"{record.border_point!r} is not a border point of {country} "
            f"(its codes start {country + '-'!r})",
        )


Evidence = dict[str, Any]
"""One piece of evidence (JSON-able); its ``key`` makes adding it twice a no-op."""


@dataclass(frozen=True)
class EvidenceOverflow:
    """The items an alert did not keep once it held its cap of evidence: how many, by
    rule and (identity conflicts) by differing field."""

    items: int
    by_rule: dict[str, int] = field(default_factory=dict)
    by_field: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An early-warning alert: one per subject and cause while open, with its evidence."""

    alert_id: str
    kind: AlertKind
    severity: Severity
    created_at: dt.datetime
    summary: str
    subject_key: str
    queue: AlertQueue = AlertQueue.ENFORCEMENT
    partner: str | None = None
    encounter_id: str | None = None
    watchlist_entry_id: str | None = None
    hit_reference: str | None = None
    category: str | None = None
    distance: float | None = None
    status: AlertStatus = AlertStatus.NEW
    evidence: tuple[Evidence, ...] = ()
    updated_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    due_at: dt.datetime | None = None
    evidence_overflow: EvidenceOverflow | None = None
    """Items beyond the alert's evidence cap, counted rather than kept."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RequestStatus(StrEnum):
    """A step-2 request's state; the holder uses the first three only."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REFUSED = "refused"
    """The holder refused the call (a gRPC error status); stored by the requester."""
    FAILED = "failed"
    """The holder's reply could not be opened; stored by the requester."""


@dataclass(frozen=True)
class RecordDigest:
    """One audit entry as the partner may see it: no detail, no peer."""

    message_id: str
    event: str
    outcome: str
    at_ms: int
    commitments: str = ""
    """For Identify: the digest of the request's scope commitments ("" otherwise)."""


@dataclass(frozen=True)
class DailyCount:
    """Encounters of one nationality at one border point on one UTC day."""

    day: dt.date
    nationality: str
    border_point: str
    count: int
