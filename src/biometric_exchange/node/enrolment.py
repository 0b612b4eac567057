"""Records into a node: encounters (with their outbox item) and watchlist entries.

Both refuse a record that is not marked synthetic, unless it is merely
*unmarked* (no provenance) and the node's configuration sets the loudly named
``unsafe_accept_unmarked_records``; each such acceptance is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from biometric_exchange.domain import UNMARKED, Encounter, Provenance, WatchlistEntry
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import Outbox

log = logging.getLogger(__name__)


def check_provenance(node: Node, provenance: Provenance, record_id: str) -> None:
    if provenance.synthetic:
        return
    if provenance == UNMARKED and node.config.records.unsafe_accept_unmarked_records:
        log.warning("UNSAFE: record %s has no provenance; accepted by override", record_id)
        return
    if provenance == UNMARKED:
        raise InvalidInput(
            "provenance: missing; this node enrols records marked synthetic only "
            "(node.toml [records] unsafe_accept_unmarked_records overrides this)"
        )
    raise InvalidInput("provenance.synthetic: this system enrols synthetic records only")


def enrol(node: Node, encounter: Encounter) -> dict[str, str]:
    """Store the encounter (template sealed) and queue its checks and exchange with
    every partner; return the probe ref per partner.

    Either all are stored or none: a failure leaves the database as it was.
    """
    return enrol_many(node, [encounter])[encounter.encounter_id]


def enrol_many(node: Node, encounters: Sequence[Encounter]) -> dict[str, dict[str, str]]:
    """``enrol`` for many encounters in one transaction (all or none); return each
    encounter's probe ref per partner."""
    for encounter in encounters:
        check_provenance(node, encounter.provenance, encounter.encounter_id)
    refs: dict[str, dict[str, str]] = {}
    with node.database.transaction() as connection:
        for encounter in encounters:
            node.records.insert_encounter(connection, encounter)
            refs[encounter.encounter_id] = Outbox.enqueue(
                connection, encounter.encounter_id, node.partner_codes
            )
    return refs


def add_watchlist(node: Node, entries: Sequence[WatchlistEntry]) -> int:
    """Add watchlist entries, all or none."""
    for entry in entries:
        check_provenance(node, entry.provenance, entry.entry_id)
    return node.records.add_watchlist(entries)
