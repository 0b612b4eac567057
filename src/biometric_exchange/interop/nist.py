"""A node's records as ANSI/NIST-ITL 1-2011 transactions, out and in.

``export_record`` writes one encounter or watchlist entry held by a node;
``import_transaction`` enrols a transaction read by ``read_transaction`` (or
``parse_transaction``) through the same path as ``bx enroll`` and ``bx
watchlist import``: sealed at rest, queued, provenance checked. The field map
is in ``nist_fields`` and docs/nist.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from biometric_exchange.domain import (
    UNMARKED,
    Encounter,
    WatchlistCategory,
    WatchlistEntry,
    utc_now,
)
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.interop.nist_fields import (
    AGENCY_SUFFIX,
    TransactionType,
    Type2,
    label,
)
from biometric_exchange.interop.nist_image import synthetic_face_image
from biometric_exchange.interop.nist_read import parse_transaction, read_transaction
from biometric_exchange.interop.nist_types import (
    NistTransaction,
    Record,
    TransactionHeader,
    record_id,
    transaction_type,
)
from biometric_exchange.interop.nist_write import build_transaction
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.runtime import Node

__all__ = [
    "ExportedTransaction",
    "NistTransaction",
    "TransactionHeader",
    "export_record",
    "find_record",
    "import_transaction",
    "originator",
    "parse_transaction",
    "read_transaction",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportedTransaction:
    data: bytes
    header: TransactionHeader
    transaction_type: TransactionType
    with_face: bool


def originator(node: Node) -> str:
    """1.008 ORI: ``CHL-BX-node_chile``."""
    return f"{node.country}-{AGENCY_SUFFIX}-{node.config.node.name}"


def find_record(node: Node, wanted_id: str) -> Record:
    """The encounter, or else the watchlist entry, with this id."""
    record: Record | None = node.records.encounter(wanted_id)
    if record is None:
        record = node.records.watchlist_entry(wanted_id)
    if record is None:
        raise InvalidInput(
            f"record id: {wanted_id!r} is neither an encounter nor a watchlist entry on "
            f"{node.config.node.name}"
        )
    return record


def export_record(
    node: Node,
    wanted_id: str,
    *,
    face_image: bytes | None = None,
    destination: str | None = None,
    now: dt.datetime | None = None,
) -> ExportedTransaction:
    """One record of ``node`` as a transaction, with a Type-10 when ``face_image`` is given.

    The destination (1.007 DAI) defaults to the partner's agency, ``PAN-BX``.
    """
    record = find_record(node, wanted_id)
    face = None if face_image is None else synthetic_face_image(face_image, "--image")
    created = (now or utc_now()).astimezone(dt.UTC).replace(microsecond=0)
    header = TransactionHeader(
        originator=originator(node),
        destination=destination or f"{node.partner.code}-{AGENCY_SUFFIX}",
        control_number=f"{wanted_id}-{created:%Y%m%d%H%M%S}",
        created_at=created,
    )
    data = build_transaction(record, header, face)
    log.info(
        "exported %s as ANSI/NIST-ITL transaction %s (%d bytes)",
        wanted_id,
        header.control_number,
        len(data),
    )
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


def import_transaction(
    node: Node,
    transaction: NistTransaction,
    *,
    watchlist_category: WatchlistCategory | None = None,
    source: str = "transaction",
) -> Record:
    """Enrol the transaction's record into ``node``: an encounter (sealed and queued for
    checks and exchange) or, per its TOT or ``watchlist_category``, a watchlist entry."""
    record = transaction.record
    if watchlist_category is not None:
        record = as_watchlist_entry(record, watchlist_category)
    if record.provenance == UNMARKED and not node.config.records.unsafe_accept_unmarked_records:
        raise InvalidInput(
            f"{source}: {label(2, Type2.SYN)}: missing; this node enrols records marked "
            "synthetic only (node.toml [records] unsafe_accept_unmarked_records overrides this)"
        )
    if isinstance(record, Encounter):
        enrol(node, record)
    else:
        add_watchlist(node, [record])
    log.info(
        "imported %s from ANSI/NIST-ITL transaction %s",
        record_id(record),
        transaction.header.control_number,
    )
    return record
