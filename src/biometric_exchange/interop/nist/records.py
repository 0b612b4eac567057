"""Records as ANSI/NIST-ITL 1-2011 transactions, out and in: plain conversions.

``export_transaction`` builds the transaction of one encounter or watchlist
entry; ``record_to_enrol`` turns a transaction read by ``read_transaction``
(or ``parse_transaction``) into the record to enrol; the node that takes it
in applies ``domain.check_entry``. Nodes use these through ``node.interchange``. The
field map is in ``fields`` and docs/nist.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from biometric_exchange.domain import WatchlistCategory, WatchlistEntry
from biometric_exchange.interop.nist.fields import AGENCY_SUFFIX, TransactionType
from biometric_exchange.interop.nist.image import synthetic_face_image
from biometric_exchange.interop.nist.types import (
    NistTransaction,
    Record,
    TransactionHeader,
    record_id,
    transaction_type,
)
from biometric_exchange.interop.nist.write import build_transaction


@dataclass(frozen=True)
class ExportedTransaction:
    data: bytes
    header: TransactionHeader
    transaction_type: TransactionType
    with_face: bool


def agency(country: str) -> str:
    """1.007 DAI / the first part of 1.008 ORI: ``PAN-BX``."""
    return f"{country}-{AGENCY_SUFFIX}"


def export_transaction(
    record: Record,
    *,
    originator: str,
    destination: str,
    created: dt.datetime,
    face_image: bytes | None = None,
) -> ExportedTransaction:
    """``record`` as a transaction, with a Type-10 when ``face_image`` is given."""
    face = None if face_image is None else synthetic_face_image(face_image, "--image")
    created = created.astimezone(dt.UTC).replace(microsecond=0)
    header = TransactionHeader(
        originator=originator,
        destination=destination,
        control_number=f"{record_id(record)}-{created:%Y%m%d%H%M%S}",
        created_at=created,
    )
    data = build_transaction(record, header, face)
    return ExportedTransaction(data, header, transaction_type(record), face is not None)


def as_watchlist_entry(record: Record, category: WatchlistCategory) -> WatchlistEntry:
    """The record as a watchlist entry of ``category`` (an encounter keeps its id)."""
    if isinstance(record, WatchlistEntry):
        return dataclasses.replace(record, category=category)
    return WatchlistEntry(
        entry_id=record.encounter_id,
        category=category,
        person=record.person,
        template=record.template,
        valid_until=None,
        provenance=record.provenance,
    )


def record_to_enrol(
    transaction: NistTransaction,
    *,
    watchlist_category: WatchlistCategory | None,
) -> Record:
    """The transaction's record, as a watchlist entry of ``watchlist_category`` when given."""
    record = transaction.record
    if watchlist_category is not None:
        record = as_watchlist_entry(record, watchlist_category)
    return record
