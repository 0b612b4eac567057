"""A record as an ANSI/NIST-ITL 1-2011 transaction, built field by field with nistitl."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from typing import Any

import nistitl
import numpy as np

from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL, Encounter, Template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist.fields import (
    CBEFF_FACE,
    CBEFF_HEADER_VERSION,
    DOMAIN,
    IDC_FACE,
    IDC_RECORD,
    IDC_TEMPLATE,
    NO_FRICTION_RIDGE_RESOLUTION,
    SYNTHETIC_MARKER,
    TEMPLATE_FORMAT,
    UNREGISTERED_FORMAT,
    UTF8_CHARSET,
    Type1,
    Type2,
    Type10,
    Type99,
    label,
)
from biometric_exchange.interop.nist.image import FaceImage
from biometric_exchange.interop.nist.text import to_field
from biometric_exchange.interop.nist.types import (
    Record,
    TransactionHeader,
    record_id,
    transaction_type,
)

FieldValue = str | int | list[list[str]]


def build_transaction(
    record: Record, header: TransactionHeader, face: FaceImage | None = None
) -> bytes:
    """The transaction's bytes: Type-1, Type-2, Type-10 when ``face`` is given, Type-99."""
    created = header.created_at.astimezone(dt.UTC)
    captured = (
        record.encountered_at.astimezone(dt.UTC).date()
        if isinstance(record, Encounter)
        else created.date()
    )
    message = nistitl.Message()
    _set_all(message[0], _header_fields(record, header, created))
    message += _record_of(2, IDC_RECORD, _descriptive_fields(record))
    if face is not None:
        face_record = _record_of(10, IDC_FACE, _face_fields(face, header.originator, captured))
        face_record += nistitl.BinaryField(10, int(Type10.DATA), face.data)
        message += face_record
    template_record = _record_of(99, IDC_TEMPLATE, _template_fields(header.originator, captured))
    template_record += nistitl.BinaryField(99, int(Type99.BDB), template_bytes(record.template))
    message += template_record
    return bytes(message.NIST)


def template_bytes(template: Template) -> bytes:
    """The 99.999 block: each value widened (exactly) to a little-endian float64."""
    return np.asarray(template, dtype="<f8").tobytes()


def _header_fields(
    record: Record, header: TransactionHeader, created: dt.datetime
) -> list[tuple[IntEnum, FieldValue]]:
    return [
        (Type1.VER, header.version),
        (Type1.TOT, transaction_type(record).value),
        (Type1.DAT, created.strftime("%Y%m%d")),
        (Type1.DAI, to_field(header.destination, label(1, Type1.DAI))),
        (Type1.ORI, to_field(header.originator, label(1, Type1.ORI))),
        (Type1.TCN, to_field(header.control_number, label(1, Type1.TCN))),
        (Type1.NSR, NO_FRICTION_RIDGE_RESOLUTION),
        (Type1.NTR, NO_FRICTION_RIDGE_RESOLUTION),
        (Type1.DOM, [list(DOMAIN)]),
        (Type1.GMT, created.strftime("%Y%m%d%H%M%SZ")),
        (Type1.DCS, [list(UTF8_CHARSET)]),
    ]


def _descriptive_fields(record: Record) -> list[tuple[IntEnum, FieldValue]]:
    person = record.person
    texts: list[tuple[Type2, str]] = [
        (Type2.RID, record_id(record)),
        (Type2.FNM, person.family_name),
        (Type2.GNM, person.given_name),
        (Type2.SEX, person.sex.value),
        (Type2.DOB, person.birth_date.strftime("%Y%m%d")),
        (Type2.NAT, person.nationality),
        (Type2.DOC, person.document_number),
        (Type2.LGS, person.legal_status.value),
        (Type2.UAM, "Y" if person.unaccompanied_minor else "N"),
        *_provenance_fields(record),
    ]
    if isinstance(record, Encounter):
        texts += [
            (Type2.ENT, record.encountered_at.isoformat()),
            (Type2.BPT, record.border_point),
        ]
    else:
        texts.append((Type2.WLC, record.category.value))
        if record.valid_until is not None:
            texts.append((Type2.VUN, record.valid_until.strftime("%Y%m%d")))
    return [(tag, to_field(text, label(2, tag))) for tag, text in texts]


def _provenance_fields(record: Record) -> list[tuple[Type2, str]]:
    """The synthetic marker, or nothing for an unmarked record (which a node refuses)."""
    provenance = record.provenance
    if not provenance.synthetic:
        if provenance.generator == "unmarked":
            return []
        raise InvalidInput(
            f"{record_id(record)}: provenance.synthetic is false; "
            "this system exports synthetic records only"
        )
    fields = [(Type2.SYN, SYNTHETIC_MARKER), (Type2.GEN, provenance.generator)]
    if provenance.seed is not None:
        fields.append((Type2.SED, str(provenance.seed)))
    return fields


def _face_fields(
    face: FaceImage, originator: str, captured: dt.date
) -> list[tuple[IntEnum, FieldValue]]:
    return [
        (Type10.IMT, "FACE"),
        (Type10.SRC, to_field(originator, label(10, Type10.SRC))),
        (Type10.PHD, captured.strftime("%Y%m%d")),
        (Type10.HLL, str(face.width)),
        (Type10.VLL, str(face.height)),
        (Type10.SLC, "0"),
        (Type10.THPS, "1"),
        (Type10.TVPS, "1"),
        (Type10.CGA, "PNG"),
        (Type10.CSP, face.colour_space),
        (Type10.SAP, "0"),
        (Type10.POS, "F"),
    ]


def _template_fields(originator: str, captured: dt.date) -> list[tuple[IntEnum, FieldValue]]:
    return [
        (Type99.SRC, to_field(originator, label(99, Type99.SRC))),
        (Type99.BCD, captured.strftime("%Y%m%d")),
        (Type99.HDV, CBEFF_HEADER_VERSION),
        (Type99.BTY, CBEFF_FACE),
        (Type99.BFO, UNREGISTERED_FORMAT),
        (Type99.BFT, UNREGISTERED_FORMAT),
        (Type99.FORMAT, TEMPLATE_FORMAT),
        (Type99.MODEL, TEMPLATE_MODEL),
        (Type99.DIM, str(TEMPLATE_DIM)),
    ]


def _record_of(record_type: int, idc: int, fields: list[tuple[IntEnum, FieldValue]]) -> Any:
    record = nistitl.AsciiRecord(record_type)
    record.IDC = idc
    _set_all(record, fields)
    return record


def _set_all(record: Any, fields: list[tuple[IntEnum, FieldValue]]) -> None:
    for tag, value in fields:
        existing = record[int(tag)]
        if existing is None:
            record += nistitl.Field(record.type, int(tag), value)
        else:
            existing.value = value
