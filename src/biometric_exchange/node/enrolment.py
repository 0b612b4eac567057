"""Enrolling an encounter: the record and its outbox item commit together."""

from __future__ import annotations

from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import Outbox


def enrol(node: Node, encounter: Encounter) -> str:
    """Store the encounter (template sealed) and queue its checks; return the probe ref.

    Either both are stored or neither: a failure leaves the database as it was.
    """
    if not encounter.provenance.synthetic:
        raise InvalidInput("provenance.synthetic: this system enrols synthetic records only")
    with node.database.transaction() as connection:
        node.records.insert_encounter(connection, encounter)
        return Outbox.enqueue(connection, encounter.encounter_id)
