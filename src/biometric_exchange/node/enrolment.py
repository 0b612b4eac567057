"""Records into a node: encounters (with their outbox item) and watchlist entries.

The record store refuses, with nothing stored, any record that breaks
``domain.check_entry``: not marked synthetic with a generator, or an encounter
met at another country's border point.
"""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.domain import Encounter, WatchlistEntry, check_entry
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import Outbox


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
        check_entry(encounter, node.country)
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
    return node.records.add_watchlist(entries)
