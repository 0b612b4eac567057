"""Template protection as a term of the agreement, applied by both nodes.

Probes leave protected under the link's key; the holder matches them against
a protected view of its watchlist; a new epoch renews every protected
template; a partner on another epoch is refused with FAILED_PRECONDITION.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from biometric_exchange.agreement.terms import TemplateProtectionScheme
from biometric_exchange.crypto.envelope import seal
from biometric_exchange.domain import Encounter
from biometric_exchange.exceptions import ExchangeError
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.protection import ProtectedWatchlist, link_protection
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.status import status_for
from biometric_exchange.serde.identify import IdentifyQuery, identify_request_to_bytes
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_pair, rotate_protection
from tests.probes import probe
from tests.wiring import handlers
from tests.wiring import worker as make_worker


def open_pair(
    workdir: Path, dataset: DemoDataset, protection: TemplateProtectionScheme | None
) -> dict[str, Node]:
    chile, panama = create_pair(workdir, protection=protection)
    nodes = {"CHL": Node.open(chile), "PAN": Node.open(panama)}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
    return nodes


@pytest.fixture
def rotation(tmp_path: Path, dataset: DemoDataset) -> Iterator[dict[str, Node]]:
    nodes = open_pair(tmp_path, dataset, TemplateProtectionScheme.ROTATION)
    yield nodes
    for node in nodes.values():
        node.database.close()


def exchange_all(nodes: dict[str, Node], dataset: DemoDataset) -> dict[str, list[tuple[str, str]]]:
    """Panama enrols its encounters and exchanges them with Chile; Chile's view of the
    hits: (PAN probe's encounter point, watchlist entry) per SUBJECT alert, and Panama's
    (encounter, category) per partner hit."""
    pan, chl = nodes["PAN"], nodes["CHL"]
    for encounter in dataset.encounters["PAN"]:
        enrol(pan, encounter)
    worker = make_worker(pan, chl)
    while worker.run_once():
        pass
    states = {i.state for e in dataset.encounters["PAN"] for i in pan.outbox.items(e.encounter_id)}
    assert OutboxState.FAILED not in states and OutboxState.PENDING not in states
    partner_hits = sorted(
        (a.encounter_id or "", a.category or "") for a in pan.alerts.partner_hits("CHL")
    )
    subjects = sorted(
        (a.watchlist_entry_id or "", a.kind.value)
        for a in chl.alerts.list()
        if a.kind.value == "SUBJECT_ENCOUNTERED_BY_PARTNER"
    )
    return {"partner_hits": partner_hits, "subjects": subjects}


def test_both_parties_derive_the_same_key_without_sending_it(
    rotation: dict[str, Node],
) -> None:
    chl, pan = rotation["CHL"], rotation["PAN"]
    ours, theirs = link_protection(chl.link("PAN")), link_protection(pan.link("CHL"))
    assert ours is not None and theirs is not None
    assert ours.model_id == theirs.model_id == "bx-protected/rotation/epoch-1"
    template = np.random.default_rng(1).normal(size=(3, 128))
    np.testing.assert_allclose(ours.protect(template), theirs.protect(template), rtol=0, atol=0)
    # The agreement file holds no key: only the scheme and the epoch.
    text = (chl.node_dir / "agreement.toml").read_text(encoding="utf-8")
    assert "[agreement.template_protection]" in text
    assert 'scheme = "rotation"' in text


def test_rotation_finds_exactly_what_the_unprotected_exchange_finds(
    tmp_path: Path, dataset: DemoDataset, rotation: dict[str, Node]
) -> None:
    plain = open_pair(tmp_path / "plain", dataset, None)
    try:
        expected = exchange_all(plain, dataset)
    finally:
        for node in plain.values():
            node.database.close()
    protected = exchange_all(rotation, dataset)
    assert expected["partner_hits"], "the demo dataset plants partner hits"
    assert protected == expected


@pytest.mark.parametrize("scheme", [TemplateProtectionScheme.IOM, TemplateProtectionScheme.BIOHASH])
def test_non_invertible_schemes_run_the_exchange(
    tmp_path: Path, dataset: DemoDataset, scheme: TemplateProtectionScheme
) -> None:
    """The exchange finds exactly the listed people whose protected template the link's
    keyed scheme matches to a protected probe, an exact capture among them.

    Which pairs match depends on the key (fresh keys, a dated agreement id): IoM
    misses about 1.6 % of mated pairs, BioHash about 9 %, so the expectation is
    computed with the same key rather than assumed."""
    nodes = open_pair(tmp_path, dataset, scheme)
    try:
        # A capture identical to a listed template matches under any key (an entry no
        # planted case hits, so that its hit raises an alert of its own).
        case = next(
            c
            for c in dataset.ground_truth
            if c.enrolling_country == "PAN" and c.holder_country == "CHL" and c.extra_regional
        )
        hit_entries = {c.watchlist_entry_id for c in dataset.ground_truth}
        listed = next(e for e in dataset.watchlists["CHL"] if e.entry_id not in hit_entries)
        original = next(e for e in dataset.encounters["PAN"] if e.encounter_id == case.encounter_id)
        exact = dataclasses.replace(
            original, encounter_id="PAN-ENC-EXACT", template=listed.template
        )
        enrol(nodes["PAN"], exact)
        result = exchange_all(nodes, dataset)
        protection = link_protection(nodes["PAN"].link("CHL"))
        assert protection is not None
        sent = [
            e
            for e in [exact, *dataset.encounters["PAN"]]
            if any(i.state is OutboxState.DONE for i in nodes["PAN"].outbox.items(e.encounter_id))
        ]
        gallery = protection.protect(np.stack([e.template for e in dataset.watchlists["CHL"]]))
        scores = protection.scheme.compare(
            protection.protect(np.stack([e.template for e in sent])), gallery
        )
        # Chile raises one alert per listed person a probe matched (whatever the probe).
        entry_ids = [e.entry_id for e in dataset.watchlists["CHL"]]
        expected = {
            entry_ids[column]
            for column in np.flatnonzero((scores < protection.scheme.threshold).any(axis=0))
        }
        assert listed.entry_id in expected
        alerts = nodes["CHL"].alerts.list()
        hit = {a.watchlist_entry_id for a in alerts if a.partner == "PAN" and a.watchlist_entry_id}
        assert hit == expected
        assert result["partner_hits"], "Panama was told of the hits"
    finally:
        for node in nodes.values():
            node.database.close()


def _query(encounter: Encounter, model_id: str, template: np.ndarray) -> IdentifyQuery:
    return IdentifyQuery(
        "border_security",
        (probe("probe-0", template),),
        1,
        model_id,
    )


def _refusal(holder: Node, sender: Node, query: IdentifyQuery) -> grpc.StatusCode:
    envelope = seal(
        sender.link(holder.country).envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        identify_request_to_bytes(query),
        now_ms=sender.clock(),
    )
    try:
        handlers(holder, sender.country).handle(IDENTIFY, envelope)
    except ExchangeError as exc:
        return status_for(exc)[0]
    return grpc.StatusCode.OK


def test_unprotected_or_other_epoch_probes_are_refused(
    rotation: dict[str, Node], dataset: DemoDataset
) -> None:
    chl, pan = rotation["CHL"], rotation["PAN"]
    encounter = dataset.encounters["PAN"][0]
    protection = link_protection(pan.link("CHL"))
    assert protection is not None
    protected = protection.protect(encounter.template[None, :])[0]
    assert _refusal(chl, pan, _query(encounter, protection.model_id, protected)) is (
        grpc.StatusCode.OK
    )
    for model_id, template in (
        ("dlib_face_recognition_resnet_model_v1", encounter.template),
        ("bx-protected/rotation/epoch-2", protected),
    ):
        code = _refusal(chl, pan, _query(encounter, model_id, template))
        assert code is grpc.StatusCode.FAILED_PRECONDITION
    refused = [e for e in chl.audit.entries() if e.event == "identify.received"][-1]
    assert refused.outcome == "rejected"
    assert "template protection differs" in str(refused.detail["reason"])


def test_rotating_the_epoch_renews_every_protected_template(
    rotation: dict[str, Node], dataset: DemoDataset
) -> None:
    chl, pan = rotation["CHL"], rotation["PAN"]
    old = link_protection(pan.link("CHL"))
    assert old is not None
    document = rotate_protection(pan.node_dir, chl.node_dir)
    assert document.agreement.template_protection.epoch == 2
    assert document.agreement.version == 2
    new_chl, new_pan = Node.open(chl.node_dir), Node.open(pan.node_dir)
    try:
        new = link_protection(new_chl.link("PAN"))
        assert new is not None and new.model_id == "bx-protected/rotation/epoch-2"
        # Every planted partner hit matches under one epoch, and none across epochs.
        planted = [
            e
            for e in dataset.encounters["PAN"]
            if any(
                c.encounter_id == e.encounter_id and c.holder_country == "CHL"
                for c in dataset.ground_truth
            )
        ]
        view = ProtectedWatchlist(new_chl.watchlist_index(), new)
        templates = np.stack([e.template for e in planted])
        same_epoch = view.search(list(new.protect(templates)), max_candidates=1)
        across = view.search(list(old.protect(templates)), max_candidates=1)
        assert all(same_epoch)
        assert not any(across)
        # Panama still on epoch 1 is refused by Chile on epoch 2: another agreement.
        encounter = planted[0]
        stale = _query(encounter, old.model_id, old.protect(encounter.template[None, :])[0])
        assert _refusal(new_chl, pan, stale) is grpc.StatusCode.FAILED_PRECONDITION
        fresh = _query(encounter, new.model_id, new.protect(encounter.template[None, :])[0])
        assert _refusal(new_chl, new_pan, fresh) is grpc.StatusCode.OK
    finally:
        new_chl.database.close()
        new_pan.database.close()
