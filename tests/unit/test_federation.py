"""More than two countries: one agreement per partner, each enforced on its own link.

Chile, Panama and Mexico hold pairwise agreements. Panama-Mexico is narrower
than Chile-Panama (no border_security, adults only, hit without category);
a Panama node holding both applies each to its partner, on both sides.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from biometric_exchange.agreement import Purpose
from biometric_exchange.config import AGREEMENT_FILENAME, AGREEMENTS_DIRNAME
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import (
    AgreementMismatch,
    ConfigError,
    ExchangeError,
    InvalidInput,
    PeerNotAuthorized,
)
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.send.worker import ExchangeWorker
from biometric_exchange.node.services import Services
from biometric_exchange.node.status import status_for
from biometric_exchange.node.transport import PeerTransport
from biometric_exchange.serde.identify import IdentifyQuery, identify_request_to_bytes
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_federation
from tests.probes import probe
from tests.wiring import handlers, in_memory


@pytest.fixture
def corridor(tmp_path: Path, dataset: DemoDataset) -> Iterator[dict[str, Node]]:
    """Chile, Panama, Mexico opened in-process; Mexico lists Chile's watchlist too."""
    folders = create_federation(tmp_path)
    opened = {country: Node.open(folder) for country, folder in folders.items()}
    opened["CHL"].records.add_watchlist(dataset.watchlists["CHL"])
    opened["MEX"].records.add_watchlist(
        [dataclasses.replace(e, entry_id=f"MEX-{e.entry_id}") for e in dataset.watchlists["CHL"]]
    )
    yield opened
    for node in opened.values():
        node.database.close()


def transports_from(sender: Node, nodes: dict[str, Node]) -> dict[str, PeerTransport]:
    """In-memory ways from ``sender`` to each partner, each holder bound to ``sender``."""
    return {code: in_memory(nodes[code], sender.country) for code in sender.partner_codes}


def worker(sender: Node, nodes: dict[str, Node]) -> ExchangeWorker:
    return ExchangeWorker(sender, Services.of(sender), transports_from(sender, nodes))


def planted(dataset: DemoDataset) -> Encounter:
    """Panama's first planted extra-regional adult on Chile's watchlist."""
    case = next(
        c
        for c in dataset.ground_truth
        if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
    )
    return next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)


def one_probe(encounter: Encounter, purpose: Purpose) -> IdentifyQuery:
    return IdentifyQuery(purpose.value, (probe("probe-0", encounter.template),), 1)


def test_each_node_holds_one_agreement_per_partner(corridor: dict[str, Node]) -> None:
    pan = corridor["PAN"]
    assert pan.partner_codes == ["CHL", "MEX"]
    assert (pan.node_dir / AGREEMENT_FILENAME).is_file()
    assert (pan.node_dir / AGREEMENTS_DIRNAME / "MEX.toml").is_file()
    chl_link, mex_link = pan.links()
    assert chl_link.agreement.id != mex_link.agreement.id
    assert {p.code for p in mex_link.agreement.parties} == {"PAN", "MEX"}
    assert mex_link.agreement.agreement.step1.disclosure.value == "hit_only"
    assert pan.link("CHL").purpose is Purpose.BORDER_SECURITY
    assert pan.link("MEX").purpose is Purpose.ANTI_TRAFFICKING
    with pytest.raises(PeerNotAuthorized, match="no agreement with COL"):
        pan.link("COL")


def test_an_encounter_is_checked_with_every_partner_and_alerts_name_who_hit(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = corridor["PAN"]
    encounter = planted(dataset)
    refs = enrol(pan, encounter)
    assert sorted(refs) == ["CHL", "MEX"] and len(set(refs.values())) == 2
    worker(pan, corridor).run_once()

    assert {i.partner: i.state for i in pan.outbox.items(encounter.encounter_id)} == {
        "CHL": OutboxState.DONE,
        "MEX": OutboxState.DONE,
    }
    hits = {a.partner: a for a in pan.alerts.list() if a.kind.value == "WATCHLIST_HIT"}
    assert set(hits) == {"CHL", "MEX"}
    assert hits["CHL"].category is not None, "Chile-Panama discloses the category"
    assert hits["MEX"].category is None, "Panama-Mexico discloses the hit only"
    # Each holder saw the probe under its own agreement and purpose.
    for code, purpose in (("CHL", "border_security"), ("MEX", "anti_trafficking")):
        received = [e for e in corridor[code].audit.entries() if e.event == "identify.received"]
        assert [(e.outcome, e.detail["purpose"], e.peer) for e in received] == [
            ("accepted", purpose, "PAN")
        ]


def test_a_minor_goes_to_chile_but_not_to_mexico(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = corridor["PAN"]
    adult = planted(dataset)
    minor_birth = adult.encountered_at.date() - dt.timedelta(days=365 * 15)
    minor = dataclasses.replace(
        adult, person=dataclasses.replace(adult.person, birth_date=minor_birth)
    )
    enrol(pan, minor)
    worker(pan, corridor).run_once()
    items = {i.partner: i for i in pan.outbox.items(minor.encounter_id)}
    assert items["CHL"].state is OutboxState.DONE
    assert items["MEX"].state is OutboxState.OUT_OF_SCOPE
    assert items["MEX"].last_error == "out of scope: younger than 18"
    assert not any(e.event == "identify.received" for e in corridor["MEX"].audit.entries())


def test_mexico_refuses_what_chile_accepts(corridor: dict[str, Node], dataset: DemoDataset) -> None:
    """The same border_security probe from Panama: fine under Chile-Panama, refused
    by Mexico under Panama-Mexico (the sender's own check bypassed)."""
    pan = corridor["PAN"]
    encounter = planted(dataset)
    query = one_probe(encounter, Purpose.BORDER_SECURITY)
    outcomes: dict[str, grpc.StatusCode] = {}
    for code in ("CHL", "MEX"):
        envelope = seal(
            pan.link(code).envelope,
            pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
            identify_request_to_bytes(query),
            now_ms=pan.clock(),
        )
        try:
            handlers(corridor[code], "PAN").handle(IDENTIFY, envelope)
            outcomes[code] = grpc.StatusCode.OK
        except ExchangeError as exc:
            outcomes[code] = status_for(exc)[0]
    assert outcomes == {"CHL": grpc.StatusCode.OK, "MEX": grpc.StatusCode.PERMISSION_DENIED}
    refused = [e for e in corridor["MEX"].audit.entries() if e.event == "identify.received"]
    assert refused[-1].outcome == "rejected"
    assert "border_security" in str(refused[-1].detail["reason"])


def test_an_envelope_sealed_for_one_partner_does_not_open_at_another(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    """Panama seals for Chile; Mexico (under its agreement with Panama) refuses it."""
    pan, mex = corridor["PAN"], corridor["MEX"]
    encounter = planted(dataset)
    query = one_probe(encounter, Purpose.ANTI_TRAFFICKING)
    for_chile = seal(
        pan.link("CHL").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=pan.clock(),
    )
    with pytest.raises(ExchangeError) as raised:
        handlers(mex, "PAN").handle(IDENTIFY, for_chile)
    assert status_for(raised.value)[0] in (
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
    )


def test_a_second_agreement_with_the_same_partner_is_refused(
    corridor: dict[str, Node],
) -> None:
    pan_dir = corridor["PAN"].node_dir
    duplicate = pan_dir / AGREEMENTS_DIRNAME / "CHL-again.toml"
    duplicate.write_text((pan_dir / AGREEMENT_FILENAME).read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match="a second agreement with CHL"):
        Node.open(pan_dir)


def test_items_queued_before_partners_were_named_go_to_the_first_partner(
    corridor: dict[str, Node], dataset: DemoDataset
) -> None:
    pan = corridor["PAN"]
    encounter = planted(dataset)
    enrol(pan, encounter)
    with pan.database.transaction() as connection:
        connection.execute("DELETE FROM outbox WHERE partner = 'MEX'")
        connection.execute("UPDATE outbox SET partner = ''")
    reopened = Node.open(pan.node_dir)
    try:
        assert [i.partner for i in reopened.outbox.items(encounter.encounter_id)] == ["CHL"]
    finally:
        reopened.database.close()


def test_which_partner_is_always_named(corridor: dict[str, Node]) -> None:
    """A node with several partners has no default one: asking for the sole link fails,
    naming the option that must choose."""
    with pytest.raises(InvalidInput, match="--destination: node_panama has 2 partners"):
        corridor["PAN"].sole_link("--destination")


def test_adopting_an_agreement_replaces_one_link_and_checks_our_pins(
    corridor: dict[str, Node],
) -> None:
    pan, mex = corridor["PAN"], corridor["MEX"]
    before = pan.link("MEX")
    amended = before.agreement.model_copy(
        update={"agreement": before.terms.model_copy(update={"title": "Amended"})}
    )
    after = pan.adopt(amended)
    assert pan.link("MEX") is after and after is not before
    assert after.terms.title == "Amended"
    assert pan.link("CHL").terms.title != "Amended"

    chile_ca = pan.link("CHL").partner.ca_fingerprint
    parties = tuple(
        party.model_copy(update={"ca_fingerprint": chile_ca}) if party.code == "MEX" else party
        for party in amended.parties
    )
    with pytest.raises(ConfigError, match="is not the CA the agreement pins for MEX"):
        mex.adopt(amended.model_copy(update={"parties": parties}))
    with pytest.raises(AgreementMismatch, match="MEX is not a party"):
        mex.adopt(pan.link("CHL").agreement)
