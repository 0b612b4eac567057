"""Three nodes along the corridor (Chile, Panama, Mexico), each serving in this process
where the agreements pin it (``bx node health --partner`` dials those), over real gRPC
with real mutual TLS; Panama's exchange worker runs in the test's thread.

Each node serves every partner under that partner's agreement: the caller's
certificate picks the agreement, and the narrower Panama-Mexico terms hold
on that link while Chile-Panama's hold on the other.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import grpc
import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde.identify import IdentifyQuery, identify_request_to_bytes
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_federation
from tests.probes import probe
from tests.wiring import ServedNodes, serving_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corridor(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ServedNodes]:
    workdir = tmp_path_factory.mktemp("corridor")
    folders = create_federation(workdir)
    nodes = {country: Node.open(folder) for country, folder in folders.items()}
    nodes["CHL"].records.add_watchlist(dataset.watchlists["CHL"])
    nodes["MEX"].records.add_watchlist(
        [dataclasses.replace(e, entry_id=f"MEX-{e.entry_id}") for e in dataset.watchlists["CHL"]]
    )
    pinned = {country: node.config.node.listen for country, node in nodes.items()}
    try:
        with serving_all(nodes, kind=ServedNodes, listen=pinned) as served:
            yield served
    finally:
        for node in nodes.values():
            node.database.close()


def test_panama_exchanges_with_both_partners_under_each_agreement(
    corridor: ServedNodes, dataset: DemoDataset
) -> None:
    pan = corridor["PAN"]
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    encounter = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
    enrol(pan, encounter)
    corridor.exchange(pan)

    items = pan.outbox.items(encounter.encounter_id)
    assert len(items) == 2 and all(i.state is OutboxState.DONE for i in items)
    hits = {a.partner: a for a in pan.alerts.list() if a.kind.value == "WATCHLIST_HIT"}
    assert set(hits) == {"CHL", "MEX"}
    assert hits["CHL"].category is not None
    assert hits["MEX"].category is None
    for holder, purpose in (("CHL", "border_security"), ("MEX", "anti_trafficking")):
        alerts = [
            a
            for a in corridor[holder].alerts.list()
            if a.kind.value == "SUBJECT_ENCOUNTERED_BY_PARTNER"
        ]
        assert [a.partner for a in alerts] == ["PAN"]
        received = [
            e
            for e in corridor[holder].audit.entries()
            if e.event == "identify.received" and e.outcome == "accepted"
        ]
        assert [(e.peer, e.detail["purpose"]) for e in received] == [("PAN", purpose)]


def test_the_caller_certificate_picks_the_agreement(
    corridor: ServedNodes, dataset: DemoDataset
) -> None:
    """Panama's border_security Identify: served by Chile, refused by Mexico."""
    pan = corridor["PAN"]
    encounter = dataset.encounters["PAN"][0]
    query = IdentifyQuery(
        "border_security",
        (probe("probe-cert", encounter.template),),
        1,
    )
    codes = {}
    for partner in ("CHL", "MEX"):
        link = pan.link(partner)
        envelope = seal(
            link.envelope,
            pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
            identify_request_to_bytes(query),
            now_ms=pan.clock(),
        )
        try:
            corridor.partner_stub(pan, corridor[partner]).Identify(envelope, timeout=10)
            codes[partner] = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            codes[partner] = exc.code()
    assert codes == {"CHL": grpc.StatusCode.OK, "MEX": grpc.StatusCode.PERMISSION_DENIED}


def test_ping_answers_with_the_callers_agreement(corridor: ServedNodes) -> None:
    pan = corridor["PAN"]
    for caller in ("CHL", "MEX"):
        node = corridor[caller]
        link = node.link("PAN")
        response = corridor.partner_stub(node, pan).Ping(
            pb.PingRequest(
                sender=caller,
                agreement_hash=link.policy.agreement_hash,
                sent_at_ms=node.clock(),
            ),
            timeout=10,
        )
        assert response.agreement_matches
        assert response.agreement_id == link.agreement.id


def test_node_health_probes_every_partner(corridor: ServedNodes) -> None:
    result = CliRunner().invoke(
        app,
        ["node", "health", "-n", str(corridor["PAN"].node_dir), "--partners"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # table titles wrap
    assert "health of CHL's node (partner of node_panama)" in text
    assert "health of MEX's node (partner of node_panama)" in text

    rows = json.loads(
        CliRunner()
        .invoke(
            app,
            [
                "node",
                "health",
                "-n",
                str(corridor["PAN"].node_dir),
                "--partners",
                "--format",
                "json",
            ],
        )
        .stdout
    )
    listed = {row["node"] for row in rows if row["status"] == "listed by reflection"}
    assert listed == {"CHL's node (partner of node_panama)", "MEX's node (partner of node_panama)"}
