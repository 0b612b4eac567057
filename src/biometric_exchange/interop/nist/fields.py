"""The field map of this project's ANSI/NIST-ITL 1-2011 transactions (see docs/nist.md).

Type-1 carries the header; one Type-2 the record (user-defined fields 2.901 to
2.931 of the ``BIOMETRIC-EXCHANGE`` domain named in 1.013); an optional
Type-10 the synthetic face image; one Type-99 (CBEFF) the 128-d template as
little-endian float64 bytes.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from biometric_exchange.domain import TEMPLATE_DIM

VERSION = "0500"
"""1.002 VER: ANSI/NIST-ITL 1-2011."""
DOMAIN = ("BIOMETRIC-EXCHANGE", "1.0")
"""1.013 DOM: the domain whose Type-2 fields this map defines, and its version."""
UTF8_CHARSET = ("003", "UTF-8")
"""1.015 DCS: text fields are UTF-8 (names are written in their own script)."""
NO_FRICTION_RIDGE_RESOLUTION = "00.00"
"""1.011 NSR and 1.012 NTR: no friction-ridge images, so no scanning resolution."""
AGENCY_SUFFIX = "BX"
"""Agency identifiers: ``CHL-BX-node_chile`` originates (1.008), ``PAN-BX`` receives (1.007)."""

IDC_RECORD = 0
IDC_FACE = 1
IDC_TEMPLATE = 2

MAX_FILE_BYTES = 32 * 1024 * 1024
"""A transaction larger than this is refused before parsing."""


class TransactionType(StrEnum):
    """1.004 TOT: what the transaction carries."""

    ENCOUNTER = "BX-ENC"
    WATCHLIST_ENTRY = "BX-WL"


class Type1(IntEnum):
    VER = 2
    CNT = 3
    TOT = 4
    DAT = 5
    DAI = 7
    ORI = 8
    TCN = 9
    NSR = 11
    NTR = 12
    DOM = 13
    GMT = 14
    DCS = 15


class Type2(IntEnum):
    """The user-defined descriptive fields; every value is one text field."""

    RID = 901  # record id: encounter_id or entry_id
    FNM = 902  # family name
    GNM = 903  # given name
    SEX = 904  # F, M or X
    DOB = 905  # birth date, YYYYMMDD
    NAT = 906  # nationality, ISO 3166-1 alpha-3 (or ICAO Doc 9303 code)
    DOC = 907  # document number
    LGS = 908  # legal status: none, asylum_seeker, refugee
    UAM = 909  # unaccompanied minor: Y or N
    SYN = 910  # provenance marker: SYNTHETIC (absent: an unmarked record)
    GEN = 911  # provenance generator
    SED = 912  # provenance seed (absent when none)
    ENT = 920  # encounter time, ISO 8601 with zone (encounters)
    BPT = 921  # border point (encounters)
    WLC = 930  # watchlist category (watchlist entries)
    VUN = 931  # valid until, YYYYMMDD (watchlist entries, absent when open-ended)


SYNTHETIC_MARKER = "SYNTHETIC"


class Type10(IntEnum):
    IMT = 3
    SRC = 4
    PHD = 5
    HLL = 6
    VLL = 7
    SLC = 8
    THPS = 9
    TVPS = 10
    CGA = 11
    CSP = 12
    SAP = 13
    POS = 20
    DATA = 999


class Type99(IntEnum):
    SRC = 4
    BCD = 5
    HDV = 100
    BTY = 101
    BFO = 103
    BFT = 104
    FORMAT = 200  # user-defined: the template format id
    MODEL = 201  # user-defined: the face model
    DIM = 202  # user-defined: number of values
    BDB = 999


CBEFF_HEADER_VERSION = "0101"
CBEFF_FACE = "00000002"
UNREGISTERED_FORMAT = "0000"
"""99.103 BFO and 99.104 BFT: the format has no IBIA-registered owner; 99.200 names it."""
TEMPLATE_FORMAT = f"BX-F64LE-{TEMPLATE_DIM}"
"""99.200: ``TEMPLATE_DIM`` IEEE 754 float64 values, little-endian, in 99.999."""
TEMPLATE_BYTES = TEMPLATE_DIM * 8

_TYPE2_BY_LOCATION: dict[tuple[str, ...], Type2] = {
    ("encounter_id",): Type2.RID,
    ("entry_id",): Type2.RID,
    ("person", "family_name"): Type2.FNM,
    ("person", "given_name"): Type2.GNM,
    ("person", "sex"): Type2.SEX,
    ("person", "birth_date"): Type2.DOB,
    ("person", "nationality"): Type2.NAT,
    ("person", "document_number"): Type2.DOC,
    ("person", "legal_status"): Type2.LGS,
    ("person", "unaccompanied_minor"): Type2.UAM,
    ("provenance",): Type2.SYN,
    ("provenance", "synthetic"): Type2.SYN,
    ("provenance", "generator"): Type2.GEN,
    ("provenance", "seed"): Type2.SED,
    ("encountered_at",): Type2.ENT,
    ("border_point",): Type2.BPT,
    ("category",): Type2.WLC,
    ("valid_until",): Type2.VUN,
}


def label(record_type: int, field: IntEnum) -> str:
    """``2.906 NAT``: how error messages and docs name a field."""
    return f"{record_type}.{int(field):03d} {field.name}"


def field_for_location(location: tuple[str, ...]) -> str:
    """The field that holds a record's attribute (a pydantic error location)."""
    if location[:1] == ("template",):
        return label(99, Type99.BDB)
    for length in range(len(location), 0, -1):
        field = _TYPE2_BY_LOCATION.get(location[:length])
        if field is not None:
            return label(2, field)
    return "Type-2"
