"""Rotating a node's data key while it serves: exchanges go on, nothing is lost.

Both nodes serve in this process (real gRPC, real mutual TLS); Panama's exchange
worker runs in the test's thread.
"""

from __future__ import annotations

import dataclasses

from biometric_exchange.crypto.keys import keys_dir
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.rekey import keys_in_use, rotate_data_key
from biometric_exchange.synthetic import DemoDataset
from tests.integration.conftest import ServedPair
from tests.probes import recaptured


def test_running_nodes_keep_exchanging_across_a_data_key_rotation(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    planted = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(panama, planted)
    served_pair.exchange(panama)
    assert panama.outbox.depth() == 0

    for node in (panama, chile):
        # The operator's own opening of the folder, as ``bx keys rotate`` does: the
        # serving node learns of the new key from its keys folder, not from this object.
        operator = Node.open(node.node_dir)
        try:
            rotation = rotate_data_key(keys_dir(node.node_dir), operator.database, operator.audit)
        finally:
            operator.close()
        assert keys_in_use(node.database) == {rotation.new_key_id}

    again = dataclasses.replace(
        planted, encounter_id="PAN-AFTER-ROTATION", template=recaptured(planted.template, 1)
    )
    enrol(panama, again)
    served_pair.exchange(panama)
    item = panama.outbox.get(again.encounter_id)
    assert item is not None and item.state is OutboxState.DONE
    hits = panama.alerts.partner_hits("CHL")
    assert {e["encounter_id"] for h in hits for e in h.evidence} == {
        planted.encounter_id,
        again.encounter_id,
    }
    seen = [a for a in chile.alerts.list() if a.watchlist_entry_id == case.watchlist_entry_id]
    assert len(seen) == 1
    keys = sorted(e["key"] for e in seen[0].evidence)
    assert len(keys) == 4 and sum(k.endswith(":sighting") for k in keys) == 2, keys
