"""Two real node processes exchanging protected templates (Index-of-Max hashing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from biometric_exchange.agreement.terms import TemplateProtectionScheme
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.protection import link_protection
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import create_pair
from tests.integration.conftest import eventually, running_nodes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def protected_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[dict[str, Node]]:
    workdir = tmp_path_factory.mktemp("protected")
    folders = dict(
        zip(
            ("CHL", "PAN"),
            create_pair(workdir, protection=TemplateProtectionScheme.IOM),
            strict=True,
        )
    )
    nodes = {country: Node.open(folder) for country, folder in folders.items()}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
    try:
        with running_nodes(folders, workdir / "logs"):
            yield nodes
    finally:
        for node in nodes.values():
            node.database.close()


def test_a_planted_hit_is_found_through_protected_templates(
    protected_pair: dict[str, Node], dataset: DemoDataset
) -> None:
    chl, pan = protected_pair["CHL"], protected_pair["PAN"]
    protection = link_protection(pan.link("CHL"))
    assert protection is not None and protection.model_id == "bx-protected/iom/epoch-1"
    planted = {
        c.encounter_id
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    }
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    eventually(
        lambda: all(
            i.state is not OutboxState.PENDING
            for e in dataset.encounters["PAN"]
            for i in pan.outbox.items(e.encounter_id)
        ),
        timeout=60,
    )
    found = {a.encounter_id for a in pan.alerts.partner_hits("CHL")}
    assert found == planted
    received = [e for e in chl.audit.entries() if e.event == "identify.received"]
    assert received and all(e.outcome == "accepted" for e in received)
