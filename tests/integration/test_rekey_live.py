"""Rotating a node's data key while it runs: exchanges go on, nothing is lost."""

from __future__ import annotations

import dataclasses

from biometric_exchange.crypto.keys import keys_dir
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.store.rekey import keys_in_use, rotate_data_key
from biometric_exchange.synthetic import DemoDataset
from tests.integration.conftest import RunningPair, eventually


def test_running_nodes_keep_exchanging_across_a_data_key_rotation(
    running_pair: RunningPair, dataset: DemoDataset
) -> None:
    panama, chile = running_pair.panama, running_pair.chile
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    planted = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(panama, planted)
    eventually(lambda: panama.outbox.depth() == 0)

    for node in (panama, chile):
        rotation = rotate_data_key(keys_dir(node.node_dir), node.database, node.audit)
        assert keys_in_use(node.database) == {rotation.new_key_id}

    again = dataclasses.replace(planted, encounter_id="PAN-AFTER-ROTATION")
    enrol(panama, again)
    item = eventually(
        lambda: (
            (i := panama.outbox.get(again.encounter_id))
            and i.state is not OutboxState.PENDING
            and i
        )
    )
    assert item.state is OutboxState.DONE
    (hit,) = panama.alerts.partner_hits("CHL")
    assert {e["encounter_id"] for e in hit.evidence} == {planted.encounter_id, again.encounter_id}
    seen = [a for a in chile.alerts.list() if a.watchlist_entry_id == case.watchlist_entry_id]
    assert len(seen) == 1 and len(seen[0].evidence) == 2
