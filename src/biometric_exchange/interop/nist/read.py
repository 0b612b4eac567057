"""An ANSI/NIST-ITL transaction (bytes or file) → the project's domain objects.

Nothing here touches a node: the record is validated as ``bx enroll`` validates
a JSON file, and each error names the field of the transaction that holds the
bad value (``2.906 NAT``, ``99.999 BDB``), as docs/nist.md lists them.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist.fields import (
    MAX_FILE_BYTES,
    SYNTHETIC_MARKER,
    TEMPLATE_BYTES,
    TEMPLATE_FORMAT,
    UTF8_CHARSET,
    TransactionType,
    Type1,
    Type2,
    Type10,
    Type99,
    field_for_location,
    label,
)
from biometric_exchange.interop.nist.image import FaceImage, synthetic_face_image
from biometric_exchange.interop.nist.message import parse_message
from biometric_exchange.interop.nist.text import from_field
from biometric_exchange.interop.nist.types import NistTransaction, Record, TransactionHeader
from biometric_exchange.recordfiles import encounter_from_dict, watchlist_entry_from_dict

_DATE = re.compile(r"\d{8}")
_GMT = re.compile(r"\d{14}Z")


def read_transaction(path: Path) -> NistTransaction:
    """The transaction in the file at ``path``."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(
                f"{path}: {size} bytes; a transaction may hold at most {MAX_FILE_BYTES}"
            )
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise InvalidInput(
            f"{path}: cannot read an ANSI/NIST-ITL file ({exc.__class__.__name__})"
        ) from None
    return parse_transaction(data, str(path))


def parse_transaction(data: bytes, source: str = "transaction") -> NistTransaction:
    """The transaction in ``data``; ``source`` prefixes every error message."""
    message = parse_message(data, source)
    fields = _Fields(source, _declares_utf8(message[0]))
    kind = _transaction_type(message[0], fields)
    values = _template_values(_template_record(message, fields), fields)
    return NistTransaction(
        header=_header(message[0], fields),
        transaction_type=kind,
        record=_record(_only(message, 2, source), kind, values, fields),
        template_values=values,
        face_image=_face_image(message, fields),
    )


class _Fields:
    """Reads one text field, decoded, naming it in every error."""

    def __init__(self, source: str, utf8: bool) -> None:
        self.source = source
        self.utf8 = utf8

    def name(self, record: Any, tag: IntEnum) -> str:
        return f"{self.source}: {label(record.type, tag)}"

    def text(self, record: Any, tag: IntEnum, *, required: bool = False) -> str | None:
        field = record[int(tag)]
        value = None if field is None else field.value
        if value is None or value == "":
            if required:
                raise InvalidInput(f"{self.name(record, tag)}: missing")
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"{self.name(record, tag)}: expected one value, not subfields")
        return from_field(value, self.name(record, tag), utf8=self.utf8)

    def required(self, record: Any, tag: IntEnum) -> str:
        text = self.text(record, tag, required=True)
        assert text is not None
        return text

    def date(self, record: Any, tag: IntEnum) -> dt.date | None:
        text = self.text(record, tag)
        if text is None:
            return None
        if not _DATE.fullmatch(text):
            raise InvalidInput(f"{self.name(record, tag)}: expected YYYYMMDD, got {text!r}")
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise InvalidInput(f"{self.name(record, tag)}: {text!r} is not a date") from None


def _declares_utf8(type1: Any) -> bool:
    charset = type1[int(Type1.DCS)]
    if charset is None:
        return False
    items = charset.value[0] if isinstance(charset.value, list) else [charset.value]
    return bool(set(items) & {UTF8_CHARSET[0], UTF8_CHARSET[0].lstrip("0"), UTF8_CHARSET[1]})


def _transaction_type(type1: Any, fields: _Fields) -> TransactionType:
    value = fields.required(type1, Type1.TOT)
    try:
        return TransactionType(value)
    except ValueError:
        known = ", ".join(f"{kind.value} ({kind.name.lower()})" for kind in TransactionType)
        raise InvalidInput(
            f"{fields.name(type1, Type1.TOT)}: {value!r} is not a transaction of this "
            f"domain; expected {known}"
        ) from None


def _header(type1: Any, fields: _Fields) -> TransactionHeader:
    return TransactionHeader(
        originator=fields.required(type1, Type1.ORI),
        destination=fields.required(type1, Type1.DAI),
        control_number=fields.required(type1, Type1.TCN),
        created_at=_created_at(type1, fields),
        version=fields.required(type1, Type1.VER),
    )


def _created_at(type1: Any, fields: _Fields) -> dt.datetime:
    gmt = fields.text(type1, Type1.GMT)
    if gmt is None:
        day = fields.date(type1, Type1.DAT)
        if day is None:
            raise InvalidInput(f"{fields.name(type1, Type1.DAT)}: missing")
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    try:
        if not _GMT.fullmatch(gmt):
            raise ValueError(gmt)
        return dt.datetime.strptime(gmt, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise InvalidInput(
            f"{fields.name(type1, Type1.GMT)}: expected YYYYMMDDhhmmssZ, got {gmt!r}"
        ) from None


def _only(message: Any, record_type: int, source: str) -> Any:
    records = list(message.iter(record_type))
    if not records:
        raise InvalidInput(
            f"{source}: no Type-{record_type} record; the transaction must describe the "
            "person and the record there (see docs/nist.md)"
        )
    if len(records) > 1:
        raise InvalidInput(
            f"{source}: {len(records)} Type-{record_type} records; expected one per transaction"
        )
    return records[0]


def _template_record(message: Any, fields: _Fields) -> Any:
    candidates = list(message.iter(99))
    ours = [r for r in candidates if fields.text(r, Type99.FORMAT) == TEMPLATE_FORMAT]
    where = f"a Type-99 record with 99.200 = {TEMPLATE_FORMAT}"
    if not ours:
        found = f" (found {len(candidates)} Type-99 of other formats)" if candidates else ""
        raise InvalidInput(
            f"{fields.source}: no template record: expected {where}{found}, "
            "holding the face template"
        )
    if len(ours) > 1:
        raise InvalidInput(f"{fields.source}: {len(ours)} template records; expected one")
    return ours[0]


def _template_values(record: Any, fields: _Fields) -> NDArray[np.float64]:
    model = fields.text(record, Type99.MODEL)
    if model != TEMPLATE_MODEL:
        raise InvalidInput(
            f"{fields.name(record, Type99.MODEL)}: unsupported face model {model!r}; "
            f"expected {TEMPLATE_MODEL!r}"
        )
    dim = fields.text(record, Type99.DIM)
    if dim != str(TEMPLATE_DIM):
        raise InvalidInput(
            f"{fields.name(record, Type99.DIM)}: expected {TEMPLATE_DIM} values, got {dim!r}"
        )
    block = record[int(Type99.BDB)]
    data = block.value if block is not None else b""
    if not isinstance(data, bytes) or len(data) != TEMPLATE_BYTES:
        size = len(data) if isinstance(data, bytes) else 0
        raise InvalidInput(
            f"{fields.name(record, Type99.BDB)}: expected {TEMPLATE_BYTES} bytes "
            f"({TEMPLATE_DIM} little-endian float64 values), got {size}"
        )
    values = np.frombuffer(data, dtype="<f8").astype(np.float64)
    values.setflags(write=False)
    return values


def _face_image(message: Any, fields: _Fields) -> FaceImage | None:
    records = list(message.iter(10))
    if not records:
        return None
    if len(records) > 1:
        raise InvalidInput(f"{fields.source}: {len(records)} Type-10 records; expected one face")
    record = records[0]
    kind = fields.text(record, Type10.IMT)
    if kind != "FACE":
        raise InvalidInput(f"{fields.name(record, Type10.IMT)}: expected FACE, got {kind!r}")
    block = record[int(Type10.DATA)]
    if block is None or not isinstance(block.value, bytes) or not block.value:
        raise InvalidInput(f"{fields.name(record, Type10.DATA)}: missing the image")
    return synthetic_face_image(block.value, fields.name(record, Type10.DATA))


def _record(
    type2: Any, kind: TransactionType, values: NDArray[np.float64], fields: _Fields
) -> Record:
    raw: dict[str, Any] = {
        "person": _person(type2, fields),
        "template": {"values": values.tolist()},
        "provenance": _provenance(type2, fields),
    }
    record_id = fields.text(type2, Type2.RID)
    if kind is TransactionType.ENCOUNTER:
        raw |= {
            "encounter_id": record_id,
            "encountered_at": _encountered_at(type2, fields),
            "border_point": fields.text(type2, Type2.BPT),
        }
    else:
        raw |= {
            "entry_id": record_id,
            "category": fields.text(type2, Type2.WLC),
            "valid_until": fields.date(type2, Type2.VUN),
        }
    build = encounter_from_dict if kind is TransactionType.ENCOUNTER else watchlist_entry_from_dict
    present = {key: value for key, value in raw.items() if value is not None}
    try:
        return build(present, fields.source)
    except InvalidInput as exc:
        if isinstance(exc.__cause__, ValidationError):
            raise InvalidInput(_describe(exc.__cause__, fields.source)) from None
        raise


def _person(type2: Any, fields: _Fields) -> dict[str, Any]:
    person: dict[str, Any] = {
        "family_name": fields.text(type2, Type2.FNM),
        "given_name": fields.text(type2, Type2.GNM),
        "sex": fields.text(type2, Type2.SEX),
        "birth_date": fields.date(type2, Type2.DOB),
        "nationality": fields.text(type2, Type2.NAT),
        "document_number": fields.text(type2, Type2.DOC),
        "legal_status": fields.text(type2, Type2.LGS),
    }
    minor = fields.text(type2, Type2.UAM)
    if minor is not None:
        if minor not in {"Y", "N"}:
            raise InvalidInput(f"{fields.name(type2, Type2.UAM)}: expected Y or N, got {minor!r}")
        person["unaccompanied_minor"] = minor == "Y"
    return {key: value for key, value in person.items() if value is not None}


def _provenance(type2: Any, fields: _Fields) -> dict[str, Any] | None:
    """None (an unmarked record) without 2.910; the marker must say SYNTHETIC."""
    marker = fields.text(type2, Type2.SYN)
    if marker is None:
        return None
    if marker != SYNTHETIC_MARKER:
        raise InvalidInput(
            f"{fields.name(type2, Type2.SYN)}: {marker!r} is not the marker "
            f"{SYNTHETIC_MARKER!r}; this system takes synthetic records only"
        )
    provenance: dict[str, Any] = {"synthetic": True}
    generator = fields.text(type2, Type2.GEN)
    if generator is not None:
        provenance["generator"] = generator
    seed = fields.text(type2, Type2.SED)
    if seed is not None:
        if not re.fullmatch(r"-?\d{1,19}", seed):
            raise InvalidInput(f"{fields.name(type2, Type2.SED)}: expected an integer")
        provenance["seed"] = int(seed)
    return provenance


def _encountered_at(type2: Any, fields: _Fields) -> dt.datetime | None:
    text = fields.text(type2, Type2.ENT)
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{fields.name(type2, Type2.ENT)}: expected an ISO 8601 time with its zone, "
            f"e.g. 2026-11-20T10:00:00+00:00, got {text!r}"
        ) from None


def _describe(error: ValidationError, source: str) -> str:
    """``source: 2.906 NAT (person.nationality): problem``, one line per problem."""
    lines = []
    for problem in error.errors():
        location = tuple(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        where = field_for_location(location)
        lines.append(f"{source}: {where} ({'.'.join(location)}): {message}")
    return "\n".join(lines)
