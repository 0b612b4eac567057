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
    check_provenance(node, encounter.provenance, encounter.encounter_id)
    with node.database.transaction() as connection:
        node.records.insert_encounter(connection, encounter)
        return Outbox.enqueue(connection, encounter.encounter_id, node.partner_codes)


def add_watchlist(node: Node, entries: Sequence[WatchlistEntry]) -> int:
    """Add watchlist entries, all or none."""
    for entry in entries:
        check_provenance(node, entry.provenance, entry.entry_id)
    return node.records.add_watchlist(entries)
