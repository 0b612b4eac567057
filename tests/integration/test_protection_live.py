"""Two nodes exchanging protected templates (Index-of-Max hashing) over real gRPC with
real mutual TLS, both serving in this process; Panama's worker runs in the test's thread."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from biometric_exchange.agreement.terms import TemplateProtectionScheme
from biometric_exchange.domain import Encounter, Template, validate_template
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.protection import link_protection
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import rotate_protection
from tests.integration.conftest import ServedPair, served_pair_in

pytestmark = pytest.mark.integration


def _planted(dataset: DemoDataset) -> set[str]:
    """Panama's encounters of extra-regional people on Chile's watchlist."""
    return {
        c.encounter_id
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    }


def _recaptured(encounter: Encounter) -> Template:
    """Another capture of the same face (the holder refuses a near-duplicate probe)."""
    rng = np.random.default_rng(int.from_bytes(encounter.encounter_id.encode()[-4:], "big"))
    return validate_template(encounter.template + rng.normal(0.0, 0.02, encounter.template.shape))


@pytest.fixture(scope="module")
def protected_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ServedPair]:
    workdir = tmp_path_factory.mktemp("protected")
    with served_pair_in(workdir, dataset, protection=TemplateProtectionScheme.IOM) as pair:
        yield pair


def test_a_planted_hit_is_found_through_protected_templates(
    protected_pair: ServedPair, dataset: DemoDataset
) -> None:
    chl, pan = protected_pair.chile, protected_pair.panama
    protection = link_protection(pan.link("CHL"))
    assert protection is not None and protection.model_id == "bx-protected/iom/epoch-1"
    planted = _planted(dataset)
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    protected_pair.exchange(pan)
    assert all(
        i.state is not OutboxState.PENDING
        for e in dataset.encounters["PAN"]
        for i in pan.outbox.items(e.encounter_id)
    )
    # Index-of-Max is approximate and its key is new with each agreement: with a few
    # keys in a hundred, one planted encounter's protected score lands past the
    # threshold. Ask for planted hits and no other, not for every one of them.
    found = {a.encounter_id for a in pan.alerts.partner_hits("CHL")}
    assert found and found <= planted, (found, planted)
    received = [e for e in chl.audit.entries() if e.event == "identify.received"]
    assert received and all(e.outcome == "accepted" for e in received)


def test_rotated_protection_is_loaded_by_running_nodes_without_a_restart(
    protected_pair: ServedPair, dataset: DemoDataset
) -> None:
    chl, pan = protected_pair.chile, protected_pair.panama
    rotate_protection(chl.node_dir, pan.node_dir)
    servers_before = {c: s.server.server for c, s in protected_pair.servers.items()}

    # What each running node does at its next round (LiveConfiguration.check).
    assert chl.reload().updated == ("PAN",) and pan.reload().updated == ("CHL",)

    protection = link_protection(pan.link("CHL"))
    assert protection is not None and protection.model_id == "bx-protected/iom/epoch-2"
    planted = _planted(dataset)
    again = [
        dataclasses.replace(e, encounter_id=f"{e.encounter_id}-R", template=_recaptured(e))
        for e in dataset.encounters["PAN"]
        if e.encounter_id in planted
    ]
    for encounter in again:
        enrol(pan, encounter)
    protected_pair.exchange(pan)

    # Accepted under epoch 2 on both sides (a holder still on epoch 1 would refuse
    # every probe with FAILED_PRECONDITION and the items would end failed).
    items = [i for e in again for i in pan.outbox.items(e.encounter_id)]
    assert items and all(i.state is OutboxState.DONE for i in items), items
    # Index-of-Max is approximate and its key is new with each agreement: a noisy
    # recapture may fall outside its threshold, so ask for hits, not for all.
    found = {a.encounter_id for a in pan.alerts.partner_hits("CHL")}
    assert found & {e.encounter_id for e in again}
    assert {c: s.server.server for c, s in protected_pair.servers.items()} == servers_before
