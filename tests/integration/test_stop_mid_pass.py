"""A node process told to stop (SIGTERM) in the middle of a heavy worker pass stops
within its drain bound, and loses nothing: 400 encounters of one face under 40
identities (each new one links to the same group), the partner unreachable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.agreement.policy import scope_facts
from biometric_exchange.domain import Encounter, validate_template
from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import DRAIN_SECONDS
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import create_pair, start_node_process, wait_serving
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

ENCOUNTERS = 400
IDENTITIES = 40
STOP_BOUND_S = DRAIN_SECONDS + 20.0
"""The drain bound plus room for a loaded machine: a bound on a hang, not a timing."""


def _one_face(panama: Node, dataset: DemoDataset) -> list[Encounter]:
    """New captures of one sendable Panama encounter, under ``IDENTITIES`` documents."""
    link = panama.link("CHL")
    source = next(
        e
        for e in dataset.encounters["PAN"]
        if link.policy.scope_refusal(scope_facts(e.person, e.encountered_at.date()), link.purpose)
        is None
    )
    rng = np.random.default_rng(25)
    return [
        dataclasses.replace(
            source,
            encounter_id=f"PAN-STOP-{number:04d}",
            person=dataclasses.replace(
                source.person,
                document_number=f"{source.person.document_number}{number % IDENTITIES}",
            ),
            template=validate_template(source.template + rng.normal(0.0, 0.005, 128)),
            encountered_at=source.encountered_at + dt.timedelta(minutes=number),
        )
        for number in range(ENCOUNTERS)
    ]


def _started(panama: Node) -> bool:
    """The worker has taken some items and not yet all."""
    attempts = [row[0] for row in panama.database.connection.execute("SELECT attempts FROM outbox")]
    return any(attempts) and not all(attempts)


def test_sigterm_in_the_middle_of_a_heavy_pass_stops_within_the_drain_bound(
    tmp_path: Path, dataset: DemoDataset
) -> None:
    _chile_dir, panama_dir = create_pair(tmp_path)  # Chile never starts: unreachable
    panama = Node.open(panama_dir)
    try:
        copies = _one_face(panama, dataset)
        for encounter in copies:
            enrol(panama, encounter)
        log = tmp_path / "panama.log"
        process = start_node_process(panama_dir, log)
        try:
            wait_serving(panama_dir, process)
            eventually(lambda: _started(panama), timeout=120, every=0.01)
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=STOP_BOUND_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

        assert status == 0
        assert b"received SIGTERM, stopping" in log.read_bytes()
        assert b"node node_panama stopped" in log.read_bytes()
        # Nothing lost: every encounter stored, every item still to send.
        assert panama.records.count_encounters() == ENCOUNTERS
        items = [panama.outbox.get(e.encounter_id, "CHL") for e in copies]
        assert all(i is not None and i.state is OutboxState.PENDING for i in items)
    finally:
        panama.database.close()
