"""ANSI/NIST-ITL 1-2011 transactions: export → import through real node folders, files
built field by field with nistitl itself, and each malformed file's own error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import nistitl
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from biometric_exchange.config import DATABASE_PATH
from biometric_exchange.domain import (
    TEMPLATE_MODEL,
    UNMARKED,
    Encounter,
    LegalStatus,
    Provenance,
    Template,
    WatchlistCategory,
    WatchlistEntry,
    template_to_bytes,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist import TransactionHeader, parse_transaction, read_transaction
from biometric_exchange.interop.nist.fields import TransactionType
from biometric_exchange.interop.nist.write import build_transaction
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.interchange import export_record, import_transaction
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.synthetic.faces import draw_face, save_face
from biometric_exchange.workspace import create_pair

SOURCE = "case.nist"


@pytest.fixture
def opened(pair_dirs: tuple[Path, Path]) -> Iterator[tuple[Node, Node]]:
    """(Chile, Panama), opened in this process on fresh folders with real keys."""
    chile, panama = Node.open(pair_dirs[0]), Node.open(pair_dirs[1])
    yield chile, panama
    chile.database.close()
    panama.database.close()


@pytest.fixture
def second_panama(tmp_path: Path) -> Iterator[Node]:
    """Another Panama node, on its own fresh folder: where a Panama record may enter."""
    node = Node.open(create_pair(tmp_path / "second")[1])
    yield node
    node.database.close()


@pytest.fixture(scope="module")
def face_png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("faces") / "face.png"
    save_face(draw_face(2017, 0, size=128), path, identity=2017, capture=0)
    return path.read_bytes()


def _f64_bytes(template: Template) -> bytes:
    return np.asarray(template, dtype="<f8").tobytes()


def _non_ascii(records: list[Any]) -> Any:
    """A record whose name is not in Latin script: names must cross in their own script."""
    return next(r for r in records if not r.person.given_name.isascii())


# ---------------------------------------------------------------- round trips


def test_an_encounter_crosses_from_one_node_to_another_of_its_country_unchanged(
    opened: tuple[Node, Node], second_panama: Node, dataset: DemoDataset
) -> None:
    chile, panama = opened
    original: Encounter = _non_ascii(dataset.encounters["PAN"])
    enrol(panama, original)

    exported = export_record(panama, original.encounter_id)
    transaction = parse_transaction(exported.data, SOURCE)
    assert transaction.transaction_type is TransactionType.ENCOUNTER
    header = transaction.header
    assert (header.version, header.originator, header.destination) == (
        "0500",
        "PAN-BX-node_panama",
        "CHL-BX",
    )
    assert header.control_number.startswith(f"{original.encounter_id}-")
    assert transaction.face_image is None
    assert np.array_equal(transaction.template_values, original.template.astype(np.float64))
    assert transaction.template_values.tobytes() == _f64_bytes(original.template)
    assert transaction.narrowed_values == 0

    with pytest.raises(
        InvalidInput, match=r"2\.921 BPT: 'PAN-[A-Z-]+' is not a border point of CHL"
    ):
        import_transaction(chile, transaction, source=SOURCE)
    assert chile.records.count_encounters() == 0

    import_transaction(second_panama, transaction, source=SOURCE)
    stored = second_panama.records.encounter(original.encounter_id)
    assert stored is not None
    assert stored.person == original.person
    assert stored.encountered_at == original.encountered_at
    assert stored.border_point == original.border_point
    assert stored.provenance == original.provenance
    assert template_to_bytes(stored.template) == template_to_bytes(original.template)
    assert np.array_equal(stored.template.astype(np.float64), transaction.template_values)

    with closing(sqlite3.connect(second_panama.node_dir / DATABASE_PATH)) as db:
        sealed = db.execute(
            "SELECT template_sealed FROM encounters WHERE encounter_id = ?",
            (original.encounter_id,),
        ).fetchone()[0]
        queued = db.execute(
            "SELECT count(*) FROM outbox WHERE encounter_id = ?", (original.encounter_id,)
        ).fetchone()[0]
    assert template_to_bytes(original.template) not in sealed  # sealed at rest
    assert queued >= 1  # queued for checks and exchange like any enrolment

    again = parse_transaction(export_record(second_panama, original.encounter_id).data, SOURCE)
    assert again.header.originator == "PAN-BX-node_panama"
    assert again.template_values.tobytes() == transaction.template_values.tobytes()


def test_a_watchlist_entry_crosses_with_its_category_and_validity(
    opened: tuple[Node, Node], dataset: DemoDataset
) -> None:
    chile, panama = opened
    original: WatchlistEntry = dataclasses.replace(
        _non_ascii(dataset.watchlists["CHL"]),
        person=dataclasses.replace(
            _non_ascii(dataset.watchlists["CHL"]).person,
            legal_status=LegalStatus.REFUGEE,
            unaccompanied_minor=True,
        ),
    )
    assert original.valid_until is not None
    add_watchlist(chile, [original])

    transaction = parse_transaction(export_record(chile, original.entry_id).data, SOURCE)
    assert transaction.transaction_type is TransactionType.WATCHLIST_ENTRY
    assert transaction.template_values.tobytes() == _f64_bytes(original.template)

    import_transaction(panama, transaction, source=SOURCE)
    stored = panama.records.watchlist_entry(original.entry_id)
    assert stored is not None
    assert (stored.category, stored.valid_until) == (original.category, original.valid_until)
    assert stored.person == original.person
    assert stored.provenance == original.provenance
    assert np.array_equal(stored.template.astype(np.float64), original.template.astype(np.float64))
    assert template_to_bytes(stored.template) == template_to_bytes(original.template)


def test_optional_fields_round_trip_absent(dataset: DemoDataset) -> None:
    """No seed and no validity date: nothing written, nothing invented on reading."""
    entry = dataclasses.replace(
        dataset.watchlists["PAN"][0],
        valid_until=None,
        provenance=Provenance(synthetic=True, generator="bx tests", seed=None),
    )
    data = build_transaction(entry, _header())
    assert b"2.931:" not in data and b"2.912:" not in data
    record = parse_transaction(data, SOURCE).record
    assert isinstance(record, WatchlistEntry)
    assert (record.valid_until, record.provenance) == (None, entry.provenance)
    assert record.person == entry.person


def test_a_face_image_travels_in_a_type_10_record(
    opened: tuple[Node, Node], second_panama: Node, dataset: DemoDataset, face_png: bytes
) -> None:
    _, panama = opened
    original = dataset.encounters["PAN"][0]
    enrol(panama, original)
    exported = export_record(panama, original.encounter_id, face_image=face_png)
    assert exported.with_face

    message = nistitl.Message()
    message.parse(exported.data)
    (face_record,) = message.iter(10)
    assert face_record[3].value == "FACE"
    assert (face_record[6].value, face_record[7].value, face_record[11].value) == (
        "128",
        "128",
        "PNG",
    )

    transaction = parse_transaction(exported.data, SOURCE)
    assert transaction.face_image is not None
    assert transaction.face_image.data == face_png
    import_transaction(second_panama, transaction, source=SOURCE)
    assert second_panama.records.encounter(original.encounter_id) is not None


def test_an_image_without_the_synthetic_marker_is_refused_on_export(
    opened: tuple[Node, Node], dataset: DemoDataset
) -> None:
    _, panama = opened
    enrol(panama, dataset.encounters["PAN"][0])
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128), (120, 90, 60)).save(buffer, format="PNG")
    with pytest.raises(InvalidInput, match="--image: image not marked synthetic"):
        export_record(
            panama, dataset.encounters["PAN"][0].encounter_id, face_image=buffer.getvalue()
        )


def test_logs_carry_ids_never_names_or_template_bytes(
    opened: tuple[Node, Node],
    second_panama: Node,
    dataset: DemoDataset,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, panama = opened
    original = _non_ascii(dataset.encounters["PAN"])
    enrol(panama, original)
    with caplog.at_level(logging.DEBUG):
        exported = export_record(panama, original.encounter_id)
        import_transaction(second_panama, parse_transaction(exported.data, SOURCE), source=SOURCE)
    assert original.encounter_id in caplog.text
    assert exported.header.control_number in caplog.text
    for secret in (original.person.given_name, original.person.family_name):
        assert secret not in caplog.text
    assert original.person.document_number not in caplog.text
    logged = "".join(record.getMessage() for record in caplog.records).encode("latin-1", "replace")
    assert _f64_bytes(original.template)[:16] not in logged


def test_export_names_an_unknown_record(opened: tuple[Node, Node]) -> None:
    with pytest.raises(InvalidInput, match="'PAN-ENC-9999' is neither an encounter nor"):
        export_record(opened[1], "PAN-ENC-9999")


def test_export_refuses_separator_characters_in_text(dataset: DemoDataset) -> None:
    encounter = dataset.encounters["PAN"][0]
    bad = dataclasses.replace(
        encounter, person=dataclasses.replace(encounter.person, given_name="Ana\x1eMaria")
    )
    with pytest.raises(InvalidInput, match=r"2\.903 GNM: contains a control character"):
        build_transaction(bad, _header())


# ------------------------------------------------- files built with nistitl itself


ENCOUNTERED = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)


def _type2_fields() -> dict[int, str | None]:
    return {
        901: "PAN-KIOSK-0042",
        902: "Núñez",
        903: "Chidinma",
        904: "F",
        905: "19940302",
        906: "NGA",
        907: "SYN-4K2P9QZA",
        910: "SYNTHETIC",
        911: "kiosk simulator 1.0",
        912: "7",
        920: ENCOUNTERED.isoformat(),
        921: "PAN-DARIEN-LAJAS-BLANCAS",
    }


VALUES: NDArray[np.float64] = np.random.default_rng(5).normal(0.0, 0.1, 128)
"""float64 values that float32 cannot hold exactly."""


def _nistitl_file(
    *,
    tot: str = "BX-ENC",
    type2: dict[int, str | None] | None = None,
    type2_records: int = 1,
    template: bytes | None = VALUES.astype("<f8").tobytes(),
    template_format: str = "BX-F64LE-128",
    model: str = TEMPLATE_MODEL,
    face: bytes | None = None,
    utf8: bool = False,
) -> bytes:
    """A transaction built field by field with nistitl's own API, not by our exporter."""
    message = nistitl.Message()
    message.TOT = tot
    message[0].VER = "0500"
    message[0].DAT = "20261120"
    message[0].DAI = "CHL-BX"
    message[0].ORI = "PAN-BX-border_kiosk"
    message[0].TCN = "KIOSK-000042"
    message[0].GMT = "20261120100000Z"
    if utf8:
        message[0].DCS = [["003", "UTF-8"]]
    fields = _type2_fields() if type2 is None else type2
    for idc in range(type2_records):
        descriptive = nistitl.AsciiRecord(2)
        descriptive.IDC = idc
        for tag, value in fields.items():
            if value is not None:
                descriptive += nistitl.Field(2, tag, value)
        message += descriptive
    if face is not None:
        face_record = nistitl.AsciiRecord(10)
        face_record.IDC = 1
        face_record += nistitl.Field(10, 3, "FACE")
        face_record += nistitl.BinaryField(10, 999, face)
        message += face_record
    if template is not None:
        cbeff = nistitl.AsciiRecord(99)
        cbeff.IDC = 2
        cbeff += nistitl.Field(99, 100, "0101")
        cbeff += nistitl.Field(99, 101, "00000002")
        cbeff += nistitl.Field(99, 200, template_format)
        cbeff += nistitl.Field(99, 201, model)
        cbeff += nistitl.Field(99, 202, "128")
        cbeff += nistitl.BinaryField(99, 999, template)
        message += cbeff
    return bytes(message.NIST)


def test_a_transaction_built_directly_with_nistitl_is_read_and_enrolled(
    opened: tuple[Node, Node], tmp_path: Path
) -> None:
    _, panama = opened
    path = tmp_path / "kiosk.nist"
    path.write_bytes(_nistitl_file())

    transaction = read_transaction(path)
    assert transaction.header.originator == "PAN-BX-border_kiosk"
    assert transaction.header.created_at == dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    record = transaction.record
    assert isinstance(record, Encounter)
    assert record.encounter_id == "PAN-KIOSK-0042"
    assert record.person.family_name == "Núñez"  # Latin-1, no 1.015 DCS
    assert (record.person.sex.value, record.person.birth_date) == ("F", dt.date(1994, 3, 2))
    assert (record.person.nationality, record.person.document_number) == ("NGA", "SYN-4K2P9QZA")
    assert record.person.legal_status is LegalStatus.NONE
    assert record.provenance == Provenance(True, "kiosk simulator 1.0", 7)
    assert record.encountered_at == ENCOUNTERED
    assert record.border_point == "PAN-DARIEN-LAJAS-BLANCAS"
    assert np.array_equal(transaction.template_values, VALUES)
    assert transaction.template_values.tobytes() == VALUES.astype("<f8").tobytes()
    assert np.array_equal(record.template, VALUES.astype(np.float32))
    assert transaction.narrowed_values == 128

    import_transaction(panama, transaction, source=str(path))
    stored = panama.records.encounter("PAN-KIOSK-0042")
    assert stored is not None and stored.person == record.person
    assert template_to_bytes(stored.template) == VALUES.astype("<f4").tobytes()


def test_float32_exact_values_are_not_narrowed() -> None:
    exact = VALUES.astype(np.float32).astype("<f8")
    transaction = parse_transaction(_nistitl_file(template=exact.tobytes()), SOURCE)
    assert transaction.narrowed_values == 0
    assert transaction.template_values.tobytes() == exact.tobytes()


def test_utf8_text_needs_the_dcs_declaration() -> None:
    as_utf8 = {902: "Núñez".encode().decode("latin-1"), 903: "丽丽".encode().decode("latin-1")}
    fields = _type2_fields() | as_utf8
    record = parse_transaction(_nistitl_file(type2=fields, utf8=True), SOURCE).record
    assert (record.person.family_name, record.person.given_name) == ("Núñez", "丽丽")
    broken = fields | {903: "\xff\xfe"}
    with pytest.raises(InvalidInput, match=r"2\.903 GNM: not valid UTF-8"):
        parse_transaction(_nistitl_file(type2=broken, utf8=True), SOURCE)


def test_watchlist_category_comes_from_the_file_or_the_importer(
    opened: tuple[Node, Node],
) -> None:
    chile, panama = opened
    fields = _type2_fields() | {920: None, 921: None, 930: "missing_person", 931: "20300101"}
    listed = parse_transaction(_nistitl_file(tot="BX-WL", type2=fields), SOURCE)
    assert isinstance(listed.record, WatchlistEntry)
    import_transaction(chile, listed, source=SOURCE)
    entry = chile.records.watchlist_entry("PAN-KIOSK-0042")
    assert entry is not None and entry.category is WatchlistCategory.MISSING_PERSON
    assert entry.valid_until == dt.date(2030, 1, 1)

    encounter = parse_transaction(_nistitl_file(), SOURCE)
    import_transaction(
        panama, encounter, watchlist_category=WatchlistCategory.ARREST_WARRANT, source=SOURCE
    )
    converted = panama.records.watchlist_entry("PAN-KIOSK-0042")
    assert converted is not None and converted.category is WatchlistCategory.ARREST_WARRANT
    assert panama.records.encounter("PAN-KIOSK-0042") is None


# ------------------------------------------------------------- provenance


def test_a_file_without_the_synthetic_marker_is_refused(pair_dirs: tuple[Path, Path]) -> None:
    unmarked = parse_transaction(
        _nistitl_file(type2=_type2_fields() | {910: None, 911: None, 912: None}), SOURCE
    )
    assert unmarked.record.provenance == UNMARKED
    node = Node.open(pair_dirs[1])
    with pytest.raises(InvalidInput, match=r"PAN-KIOSK-0042: 2\.910 SYN: missing; "):
        import_transaction(node, unmarked, source=SOURCE)
    assert node.records.count_encounters() == 0
    node.database.close()


def test_synthetic_records_are_exported_with_the_marker(dataset: DemoDataset) -> None:
    data = build_transaction(dataset.encounters["PAN"][0], _header())
    assert b"2.910:SYNTHETIC\x1d" in data


# ------------------------------------------------------------- malformed files


def _drop_last_record(data: bytes) -> bytes:
    message = nistitl.Message()
    message.parse(data)
    last_length = len(message[len(message) - 1].NIST)
    return data[:-last_length]


def _bad_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="PNG")
    return buffer.getvalue()


def _legacy_binary_record() -> bytes:
    message = nistitl.Message()
    legacy = nistitl.BinaryRecord(4)
    legacy.IDC = 1
    legacy.value = b"\x00" * 10
    message += legacy
    data = bytes(message.NIST)
    return data[:-15] + b"\x00\x00\x00\x00\x01"  # a record length of zero


MALFORMED: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty file"),
    "json": (b'{"encounter_id": "PAN-ENC-0006"}', "not an ANSI/NIST-ITL transaction"),
    "truncated": (_nistitl_file()[:700], "truncated"),
    "trailing bytes": (_nistitl_file() + b"1.0", "form no whole record"),
    "record removed": (
        _drop_last_record(_nistitl_file()),
        "1.003 CNT lists 2 records after Type-1 but the file holds 1",
    ),
    "legacy binary": (_legacy_binary_record(), "legacy binary records"),
    "no type-2": (_nistitl_file(type2_records=0), "no Type-2 record"),
    "two type-2": (_nistitl_file(type2_records=2), "2 Type-2 records; expected one"),
    "no template": (_nistitl_file(template=None), "no template record: expected a Type-99"),
    "foreign template": (
        _nistitl_file(template_format="ACME-7"),
        "no template record: expected a Type-99 record with 99.200 = BX-F64LE-128 "
        "(found 1 Type-99 of other formats)",
    ),
    "short template": (
        _nistitl_file(template=VALUES[:127].astype("<f8").tobytes()),
        "99.999 BDB: expected 1024 bytes (128 little-endian float64 values), got 1016",
    ),
    "float32 template": (
        _nistitl_file(template=VALUES.astype("<f4").tobytes()),
        "99.999 BDB: expected 1024 bytes",
    ),
    "nan in template": (
        _nistitl_file(template=np.full(128, np.nan).astype("<f8").tobytes()),
        "99.999 BDB (template.values): values must be finite",
    ),
    "other model": (_nistitl_file(model="facenet-512"), "99.201 MODEL: unsupported face model"),
    "unknown tot": (_nistitl_file(tot="CAR"), "1.004 TOT: 'CAR' is not a transaction"),
    "bad nationality": (
        _nistitl_file(type2=_type2_fields() | {906: "ZZZ"}),
        "2.906 NAT (person.nationality): 'ZZZ' is not",
    ),
    "no family name": (
        _nistitl_file(type2=_type2_fields() | {902: None}),
        "2.902 FNM (person.family_name): Field required",
    ),
    "bad birth date": (
        _nistitl_file(type2=_type2_fields() | {905: "1994-03-02"}),
        "2.905 DOB: expected YYYYMMDD, got '1994-03-02'",
    ),
    "bad sex": (_nistitl_file(type2=_type2_fields() | {904: "Q"}), "2.904 SEX (person.sex)"),
    "bad minor flag": (
        _nistitl_file(type2=_type2_fields() | {909: "yes"}),
        "2.909 UAM: expected Y or N, got 'yes'",
    ),
    "encounter without time": (
        _nistitl_file(type2=_type2_fields() | {920: None}),
        "2.920 ENT (encountered_at): Field required",
    ),
    "encounter time without zone": (
        _nistitl_file(type2=_type2_fields() | {920: "2026-11-20T10:00:00"}),
        "2.920 ENT (encountered_at): needs a time zone",
    ),
    "watchlist without category": (
        _nistitl_file(tot="BX-WL", type2=_type2_fields() | {920: None, 921: None}),
        "2.930 WLC (category): Field required",
    ),
    "not synthetic": (
        _nistitl_file(type2=_type2_fields() | {910: "REAL"}),
        "2.910 SYN: 'REAL' is not the marker 'SYNTHETIC'",
    ),
    "marker without generator": (
        _nistitl_file(type2=_type2_fields() | {911: None}),
        "2.911 GEN (provenance.generator): Field required",
    ),
    "unmarked face image": (
        _nistitl_file(face=_bad_png()),
        "10.999 DATA: image not marked synthetic",
    ),
    "face not an image": (_nistitl_file(face=b"GIF89a-not-really"), "10.999 DATA: not a readable"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_each_malformed_file_gets_its_own_error(case: str) -> None:
    data, expected = MALFORMED[case]
    with pytest.raises(InvalidInput) as caught:
        parse_transaction(data, SOURCE)
    assert str(caught.value).startswith(f"{SOURCE}: ")
    assert expected in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"absent\.nist: cannot read an ANSI/NIST-ITL file"):
        read_transaction(tmp_path / "absent.nist")


def _header() -> TransactionHeader:
    return TransactionHeader(
        originator="PAN-BX-node_panama",
        destination="CHL-BX",
        control_number="TEST-1",
        created_at=dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC),
    )
