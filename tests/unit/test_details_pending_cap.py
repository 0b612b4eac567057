"""The holder's cap on step-2 requests pending review, per partner: Chile holds the
watchlist, Panama and Mexico each got a real hit reference from a step 1 and ask
for details through Chile's handlers (in process, errors as gRPC statuses)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from biometric_exchange.config import CONFIG_FILENAME, load_config
from biometric_exchange.domain import RequestStatus
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.details import request_details
from biometric_exchange.node.serve.details import approve, deny
from biometric_exchange.node.serve.local import InMemoryPeerTransport
from biometric_exchange.store.audit import AuditEvent, AuditOutcome
from biometric_exchange.store.details import ReceivedRequests, SentRequest
from biometric_exchange.store.quotas import QuotaKind
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import create_federation
from tests.wiring import handlers, worker

CAP = 3
CAPPED = "too many requests pending review"


@dataclass
class Corridor:
    chl: Node
    requesters: dict[str, Node]
    transports: dict[str, InMemoryPeerTransport]
    references: dict[str, str]
    """One hit reference Chile gave each requester in a real step 1."""

    def ask(self, partner: str) -> SentRequest:
        node = self.requesters[partner]
        return request_details(
            node.link("CHL"),
            self.transports[partner],
            hit_reference=self.references[partner],
            purpose="border_security",
            justification="Subject matched at a border crossing; category needed.",
            officer_id=f"{partner}-OFFICER-1",
            fields=["nationality"],
        )

    def pending(self, partner: str) -> int:
        return ReceivedRequests(self.chl.database).pending_count(partner)


def _cap(node_dir: Path, value: int) -> None:
    path = node_dir / CONFIG_FILENAME
    path.write_text(
        path.read_text(encoding="utf-8") + f"\n[details]\nmax_pending_per_partner = {value}\n",
        encoding="utf-8",
    )


@pytest.fixture
def corridor(tmp_path: Path, dataset: DemoDataset) -> Iterator[Corridor]:
    folders = create_federation(tmp_path)
    _cap(folders["CHL"], CAP)
    nodes = {country: Node.open(folder) for country, folder in folders.items()}
    chl = nodes["CHL"]
    chl.records.add_watchlist(dataset.watchlists["CHL"])
    planted = {c.encounter_id for c in dataset.ground_truth if c.holder_country == "CHL"}
    hits = [e for e in dataset.encounters["PAN"] if e.encounter_id in planted]
    for encounter in hits:
        enrol(nodes["PAN"], encounter)
        enrol(
            nodes["MEX"],
            dataclasses.replace(
                encounter,
                encounter_id=f"MEX-{encounter.encounter_id}",
                border_point="MEX-TAPACHULA",
            ),
        )
    transports, references = {}, {}
    for partner in ("PAN", "MEX"):
        transports[partner] = InMemoryPeerTransport(handlers(chl, partner))
        worker(nodes[partner], chl, transport=transports[partner]).run_once()
        received = [a.hit_reference for a in nodes[partner].alerts.partner_hits("CHL")]
        references[partner] = next(r for r in received if r)
    yield Corridor(chl, {p: nodes[p] for p in ("PAN", "MEX")}, transports, references)
    for node in nodes.values():
        node.database.close()


def _refused(sent: SentRequest) -> bool:
    return (
        sent.status is RequestStatus.REFUSED
        and sent.reason is not None
        and sent.reason.startswith(grpc.StatusCode.RESOURCE_EXHAUSTED.name)
        and CAPPED in sent.reason
    )


def test_pending_step2_requests_are_capped_per_partner(corridor: Corridor) -> None:
    chl = corridor.chl
    asked = [corridor.ask("PAN") for _ in range(CAP)]
    assert all(sent.status is RequestStatus.PENDING for sent in asked)
    used = chl.quotas.used(chl.today(), "PAN", QuotaKind.DETAILS_RECEIVED)

    over = corridor.ask("PAN")
    assert _refused(over)
    assert corridor.pending("PAN") == CAP
    assert ReceivedRequests(chl.database).get("PAN", over.request_id) is None
    assert chl.quotas.used(chl.today(), "PAN", QuotaKind.DETAILS_RECEIVED) == used
    (refusal,) = [
        e
        for e in chl.audit.entries()
        if (e.event, e.outcome) == (AuditEvent.DETAILS_RECEIVED, AuditOutcome.REJECTED)
    ]
    assert refusal.peer == "PAN"
    assert refusal.detail["reason"] == (
        f"step-2 requests of PAN pending review: {CAP} of {CAP}; a slot frees when one is decided"
    )


def test_a_partner_at_the_cap_leaves_another_partner_unaffected(corridor: Corridor) -> None:
    for _ in range(CAP):
        corridor.ask("PAN")
    assert _refused(corridor.ask("PAN"))
    mexico = [corridor.ask("MEX") for _ in range(CAP)]
    assert all(sent.status is RequestStatus.PENDING for sent in mexico)
    assert (corridor.pending("PAN"), corridor.pending("MEX")) == (CAP, CAP)


def test_deciding_a_pending_request_frees_a_slot(corridor: Corridor) -> None:
    first, second, *_ = [corridor.ask("PAN") for _ in range(CAP)]
    assert _refused(corridor.ask("PAN"))
    approve(corridor.chl.link("PAN"), first.request_id, "CHL-OFFICER-7")
    assert corridor.ask("PAN").status is RequestStatus.PENDING
    assert _refused(corridor.ask("PAN"))
    deny(corridor.chl.link("PAN"), second.request_id, "CHL-OFFICER-7", "not justified")
    assert corridor.ask("PAN").status is RequestStatus.PENDING
    assert corridor.pending("PAN") == CAP


@pytest.mark.parametrize("value", [0, 10_001])
def test_the_pending_cap_is_validated(tmp_path: Path, value: int) -> None:
    folders = create_federation(tmp_path, (("node_chile", "CHL"), ("node_panama", "PAN")))
    _cap(folders["CHL"], value)
    with pytest.raises(ConfigError, match="max_pending_per_partner"):
        load_config(folders["CHL"])
