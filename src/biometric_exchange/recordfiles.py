"""Encounter and watchlist files (JSON) ↔ domain records, validated.

An encounter file is one JSON object; a watchlist file is JSON Lines, one
entry per line. Every record must carry ``provenance.synthetic: true`` and a
generator; one without provenance reads as *unmarked*, which every node
refuses (``domain.check_entry``), and one marked ``synthetic: false`` is
refused here already.
Validation errors name the field, e.g. ``template.values: expected 128 values``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)

from biometric_exchange.domain import (
    TEMPLATE_DIM,
    TEMPLATE_MODEL,
    UNMARKED,
    Encounter,
    LegalStatus,
    Person,
    Provenance,
    Sex,
    WatchlistCategory,
    WatchlistEntry,
    validate_template,
)
from biometric_exchange.exceptions import InvalidInput, InvalidTemplate
from biometric_exchange.regions import code_for_validator
from biometric_exchange.validation import describe

CLOCK_TOLERANCE = dt.timedelta(minutes=5)
"""How far in the future an encounter time may lie (clock skew between hosts)."""

RecordId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProvenanceModel(_Strict):
    synthetic: StrictBool
    generator: ShortText
    seed: int | None = None

    @field_validator("synthetic")
    @classmethod
    def _must_be_synthetic(cls, value: bool) -> bool:
        if not value:
            raise ValueError("this system enrols synthetic records only")
        return value


class PersonModel(_Strict):
    given_name: ShortText
    family_name: ShortText
    sex: Sex
    birth_date: dt.date
    nationality: str
    document_number: ShortText
    legal_status: LegalStatus = LegalStatus.NONE
    unaccompanied_minor: StrictBool = False

    @field_validator("birth_date")
    @classmethod
    def _born(cls, value: dt.date) -> dt.date:
        if value > dt.datetime.now(dt.UTC).date():
            raise ValueError("lies in the future")
        return value

    @field_validator("nationality")
    @classmethod
    def _known_nationality(cls, value: str) -> str:
        return code_for_validator(value)


class TemplateModel(_Strict):
    model: str = TEMPLATE_MODEL
    dim: int = TEMPLATE_DIM
    values: list[float]

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value != TEMPLATE_MODEL:
            raise ValueError(f"unsupported template model; expected {TEMPLATE_MODEL!r}")
        return value

    @field_validator("dim")
    @classmethod
    def _known_dim(cls, value: int) -> int:
        if value != TEMPLATE_DIM:
            raise ValueError(f"expected {TEMPLATE_DIM}")
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        if isinstance(value, list) and any(isinstance(v, bool) for v in value):
            raise ValueError("values must be numbers, not true/false")
        return value

    @field_validator("values")
    @classmethod
    def _valid_values(cls, value: list[float]) -> list[float]:
        try:
            validate_template(value, field_name="values")
        except InvalidTemplate as exc:  # pydantic names the field itself
            raise ValueError(str(exc).removeprefix("values: ")) from exc
        return value


class EncounterModel(_Strict):
    record_type: Literal["encounter"] = "encounter"
    encounter_id: RecordId
    person: PersonModel
    encountered_at: dt.datetime
    border_point: ShortText
    template: TemplateModel
    provenance: ProvenanceModel | None = None

    @field_validator("encountered_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-11-20T10:00:00Z")
        if value > dt.datetime.now(dt.UTC) + CLOCK_TOLERANCE:
            raise ValueError("lies in the future")
        return value.astimezone(dt.UTC)


class WatchlistEntryModel(_Strict):
    record_type: Literal["watchlist_entry"] = "watchlist_entry"
    entry_id: RecordId
    category: WatchlistCategory
    person: PersonModel
    valid_until: dt.date | None = None
    template: TemplateModel
    provenance: ProvenanceModel | None = None


def _person(model: PersonModel) -> Person:
    return Person(**model.model_dump())


def _provenance(model: ProvenanceModel | None) -> Provenance:
    if model is None:
        return UNMARKED
    return Provenance(**model.model_dump())


_Model = TypeVar("_Model", bound=BaseModel)


def _validate(model: type[_Model], raw: object, source: str) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(describe(exc, source)) from exc


def encounter_from_dict(raw: object, source: str = "encounter") -> Encounter:
    model = _validate(EncounterModel, raw, source)
    return Encounter(
        encounter_id=model.encounter_id,
        person=_person(model.person),
        encountered_at=model.encountered_at,
        border_point=model.border_point,
        template=validate_template(model.template.values),
        provenance=_provenance(model.provenance),
    )


def watchlist_entry_from_dict(raw: object, source: str = "watchlist entry") -> WatchlistEntry:
    model = _validate(WatchlistEntryModel, raw, source)
    return WatchlistEntry(
        entry_id=model.entry_id,
        category=model.category,
        person=_person(model.person),
        template=validate_template(model.template.values),
        valid_until=model.valid_until,
        provenance=_provenance(model.provenance),
    )


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def read_encounter(path: Path) -> Encounter:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"{path}: cannot read an encounter file ({exc.__class__.__name__})"
        ) from exc
    return encounter_from_dict(_load_json(text, str(path)), str(path))


def read_watchlist(path: Path) -> list[WatchlistEntry]:
    """All entries of a JSON Lines file; the first bad line stops with its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"{path}: cannot read a watchlist file ({exc.__class__.__name__})"
        ) from exc
    entries = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            source = f"{path}:{number}"
            entries.append(watchlist_entry_from_dict(_load_json(line, source), source))
    if not entries:
        raise InvalidInput(f"{path}: no watchlist entries")
    return entries


def _person_dict(person: Person) -> dict[str, Any]:
    return {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "sex": person.sex.value,
        "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality,
        "document_number": person.document_number,
        "legal_status": person.legal_status.value,
        "unaccompanied_minor": person.unaccompanied_minor,
    }


def _template_dict(values: Any) -> dict[str, Any]:
    return {"model": TEMPLATE_MODEL, "dim": TEMPLATE_DIM, "values": [float(v) for v in values]}


def _provenance_dict(provenance: Provenance) -> dict[str, Any]:
    return {
        "synthetic": provenance.synthetic,
        "generator": provenance.generator,
        "seed": provenance.seed,
    }


def encounter_to_dict(encounter: Encounter) -> dict[str, Any]:
    return {
        "record_type": "encounter",
        "encounter_id": encounter.encounter_id,
        "person": _person_dict(encounter.person),
        "encountered_at": encounter.encountered_at.isoformat(),
        "border_point": encounter.border_point,
        "template": _template_dict(encounter.template),
        "provenance": _provenance_dict(encounter.provenance),
    }


def watchlist_entry_to_dict(entry: WatchlistEntry) -> dict[str, Any]:
    return {
        "record_type": "watchlist_entry",
        "entry_id": entry.entry_id,
        "category": entry.category.value,
        "person": _person_dict(entry.person),
        "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
        "template": _template_dict(entry.template),
        "provenance": _provenance_dict(entry.provenance),
    }
