"""A node's records in and out of ANSI/NIST-ITL 1-2011 transactions.

``export_record`` writes one encounter or watchlist entry held by the node;
``import_transaction`` enrols a transaction's record through the same path
as ``bx enroll`` and ``bx watchlist import``: sealed at rest, queued, under
``domain.check_entry`` (a refusal names the transaction's field). The
conversions themselves are ``interop.nist``'s.
"""

from __future__ import annotations

import datetime as dt
import logging

from biometric_exchange.domain import Encounter, WatchlistCategory, utc_now
from biometric_exchange.exceptions import InvalidInput, RecordRefused
from biometric_exchange.interop.nist import (
    ExportedTransaction,
    NistTransaction,
    Record,
    agency,
    export_transaction,
    record_to_enrol,
)
from biometric_exchange.interop.nist.fields import field_for_location
from biometric_exchange.interop.nist.types import record_id
from biometric_exchange.node.enrolment import add_watchlist, enrol
from biometric_exchange.node.runtime import Node

log = logging.getLogger(__name__)


def originator(node: Node) -> str:
    """1.008 ORI: ``CHL-BX-node_chile``."""
    return f"{agency(node.country)}-{node.name}"


def find_record(node: Node, wanted_id: str) -> Record:
    """The encounter, or else the watchlist entry, with this id."""
    record: Record | None = node.records.encounter(wanted_id)
    if record is None:
        record = node.records.watchlist_entry(wanted_id)
    if record is None:
        raise InvalidInput(
            f"record id: {wanted_id!r} is neither an encounter nor a watchlist entry on {node.name}"
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

    The destination (1.007 DAI) defaults to the partner's agency (``PAN-BX``) on a
    node with one partner; a node with several must name it.
    """
    record = find_record(node, wanted_id)
    if destination is None:
        destination = agency(node.sole_link("--destination").code)
    exported = export_transaction(
        record,
        originator=originator(node),
        destination=destination,
        created=now or utc_now(),
        face_image=face_image,
    )
    log.info(
        "exported %s as ANSI/NIST-ITL transaction %s (%d bytes)",
        wanted_id,
        exported.header.control_number,
        len(exported.data),
    )
    return exported


def import_transaction(
    node: Node,
    transaction: NistTransaction,
    *,
    watchlist_category: WatchlistCategory | None = None,
    source: str = "transaction",
) -> Record:
    """Enrol the transaction's record into ``node``: an encounter (sealed and queued for
    checks and exchange) or, per its TOT or ``watchlist_category``, a watchlist entry."""
    record = record_to_enrol(transaction, watchlist_category=watchlist_category)
    try:
        if isinstance(record, Encounter):
            enrol(node, record)
        else:
            add_watchlist(node, [record])
    except RecordRefused as exc:
        raise InvalidInput(
            f"{source}: {exc.record}: {field_for_location(exc.location)}: {exc.problem}"
        ) from exc
    log.info(
        "imported %s from ANSI/NIST-ITL transaction %s",
        record_id(record),
        transaction.header.control_number,
    )
    return record
