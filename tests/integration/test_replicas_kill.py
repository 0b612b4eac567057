"""Two node processes per country on one PostgreSQL database each, real gRPC over
mutual TLS on one address per country (SO_REUSEPORT): kill -9 of one Panama
process and then of one Chile process during a 1,000-encounter exchange. The
survivors finish the work: every encounter is settled once, its effects (hit
reference, alert, evidence) appear once at both ends, and both audit chains
verify."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.presence import read_state
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.outbox import OutboxState
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import (
    TERMS_FILE,
    create_pair,
    init_agreement,
    start_node_process,
    stop_process,
    wait_serving,
)
from tests.integration.conftest import eventually, use_postgres
from tests.settled import assert_settled_once, new_captures

pytestmark = pytest.mark.integration

ENCOUNTERS = 1000
PROBES_PER_REQUEST = 8  # many small calls, so the kills land mid-exchange
LEASE_S = 2.0
"""A dead process's claimed items go to the survivor after this long."""


def _prepend(node_dir: Path, section: str) -> None:
    config = node_dir / "node.toml"
    config.write_text(section + config.read_text(encoding="utf-8"), encoding="utf-8")


def _both_serving(node_dir: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    """Both processes of the folder hold a slot and serve."""
    wait_serving(node_dir, processes[0])
    data = node_dir / "data"
    eventually(
        lambda: all((data / name).exists() for name in ("running.json", "running-2.json")),
        every=0.05,
    )
    state = read_state(node_dir)
    assert state is not None and state.pid in {p.pid for p in processes}


def _depth_below(panama: Node, limit: int, timeout: float = 240.0) -> int:
    (depth,) = eventually(
        lambda: [d] if (d := panama.outbox.depth()) < limit else None, timeout=timeout, every=0.02
    )
    return depth


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_kill_9_of_one_replica_per_country_delivers_every_encounter_once(
    tmp_path: Path, dataset: DemoDataset, pg_cluster: Any
) -> None:
    chile_dir, panama_dir = create_pair(tmp_path)
    terms = tmp_path / "terms.toml"
    terms.write_text(
        TERMS_FILE.read_text(encoding="utf-8").replace(
            "max_probes_per_request = 64", f"max_probes_per_request = {PROBES_PER_REQUEST}"
        ),
        encoding="utf-8",
    )
    init_agreement(chile_dir, panama_dir, terms_file=terms)
    # The same watchlisted faces are probed many times in one day (see test_crash).
    _prepend(chile_dir, "[extraction]\nmax_hits_per_entry_per_day = 10000\n\n")
    for node_dir in (chile_dir, panama_dir):
        use_postgres(node_dir, pg_cluster.new_url(), claim_lease_s=LEASE_S)
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    assert chile.database.shared and panama.database.shared
    chile.records.add_watchlist(dataset.watchlists["CHL"])
    copies = new_captures(dataset, ENCOUNTERS, prefix="PAN-REPLICA", seed=11)
    for encounter in copies:
        enrol(panama, encounter)
    logs = tmp_path / "logs"
    processes = {
        country: [start_node_process(node_dir, logs / f"{country}-{n}.log") for n in (1, 2)]
        for country, node_dir in (("CHL", chile_dir), ("PAN", panama_dir))
    }
    try:
        _both_serving(chile_dir, processes["CHL"])
        _both_serving(panama_dir, processes["PAN"])

        depth_at_first_kill = _depth_below(panama, ENCOUNTERS * 7 // 10)
        _kill(processes["PAN"][0])
        depth_at_second_kill = _depth_below(panama, ENCOUNTERS * 4 // 10)
        _kill(processes["CHL"][1])
        _depth_below(panama, 1)
        survivors = [processes["PAN"][1], processes["CHL"][0]]
        assert all(p.poll() is None for p in survivors), "the survivors served to the end"
    finally:
        for pair in processes.values():
            for process in pair:
                stop_process(process)

    assert 0 < depth_at_second_kill < depth_at_first_kill < ENCOUNTERS, "kills landed mid-way"
    # Every encounter settled, once: no duplicate alert or evidence.
    assert_settled_once(panama, chile, dataset, copies)

    # Every probe was answered; a probe answered twice is one whose first answer died
    # with a process (before its item was marked done): at most one claim of each
    # killed process (32 items) and its calls in flight.
    entries = panama.audit.entries()
    answered_calls = {
        e.detail.get("in_reply_to")
        for e in entries
        if e.event == "identify.reply_received" and e.outcome == "accepted"
    }
    answers = Counter(
        ref
        for e in entries
        if e.event == "identify.sent" and e.message_id in answered_calls
        for ref in e.detail["probe_refs"]
    )
    sent_items = [
        item
        for item in (panama.outbox.get(e.encounter_id) for e in copies)
        if item is not None and item.state is OutboxState.DONE
    ]
    assert all(answers[item.probe_ref] >= 1 for item in sent_items)
    twice = sum(count - 1 for count in answers.values())
    assert twice <= 2 * (32 + PROBES_PER_REQUEST), twice
    print(f"probes answered twice after the kills: {twice} of {len(sent_items)}")

    # One chain per country, whichever process wrote each entry.
    assert panama.audit.verify() > ENCOUNTERS // PROBES_PER_REQUEST
    assert chile.audit.verify() > ENCOUNTERS // PROBES_PER_REQUEST
    chile.database.close()
    panama.database.close()
