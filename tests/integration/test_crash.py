"""Crash safety: kill -9 of either node process during a 400-encounter exchange (50
calls of 8 probes) loses nothing enrolled and, after restart, every exchange
completes once."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from biometric_exchange.node.enrolment import enrol
from biometric_exchange.node.runtime import Node
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.workspace import (
    TERMS_FILE,
    create_pair,
    init_agreement,
    start_node_process,
    stop_process,
    wait_serving,
)
from tests.integration.conftest import eventually
from tests.settled import assert_settled_once, new_captures

pytestmark = pytest.mark.integration

ENCOUNTERS = 400
PROBES_PER_REQUEST = 8  # many small calls, so the kills land mid-exchange


def _depth_below(panama: Node, limit: int, timeout: float = 120.0) -> int:
    """Wait until Panama's node process has brought its outbox under ``limit`` items;
    return the depth then."""
    (depth,) = eventually(
        lambda: [d] if (d := panama.outbox.depth()) < limit else None, timeout=timeout, every=0.02
    )
    return depth


def _backs_off(log: Path, since: int) -> bool:
    """Panama's node has logged, after byte ``since`` of its log, that its partner was
    unavailable and its probes will be retried."""
    return b"probes will be retried" in log.read_bytes()[since:]


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_kill_9_of_either_node_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, dataset: DemoDataset
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
    # The run probes the same two watchlisted faces 34 times each in one day; the
    # guard's hit cap would hold Panama for the day (its own tests are elsewhere).
    config = chile_dir / "node.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[extraction]\nmax_hits_per_entry_per_day = 1000\n",
        encoding="utf-8",
    )
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    chile.records.add_watchlist(dataset.watchlists["CHL"])
    copies = new_captures(dataset, ENCOUNTERS, prefix="PAN-CRASH", seed=7)
    for encounter in copies:
        enrol(panama, encounter)  # acknowledged to the caller once this returns
    logs = tmp_path / "logs"
    processes = {
        "CHL": start_node_process(chile_dir, logs / "chile.log"),
        "PAN": start_node_process(panama_dir, logs / "panama.log"),
    }
    try:
        for name, path in (("CHL", chile_dir), ("PAN", panama_dir)):
            wait_serving(path, processes[name])

        depth_at_first_kill = _depth_below(panama, ENCOUNTERS * 7 // 10)
        _kill(processes["PAN"])
        processes["PAN"] = start_node_process(panama_dir, logs / "panama.log")
        wait_serving(panama_dir, processes["PAN"])

        depth_at_second_kill = _depth_below(panama, ENCOUNTERS * 4 // 10)
        panama_log = logs / "panama.log"
        logged = panama_log.stat().st_size
        _kill(processes["CHL"])
        # Panama meets a dead partner and backs off before Chile comes back.
        eventually(lambda: _backs_off(panama_log, logged), every=0.02)
        processes["CHL"] = start_node_process(chile_dir, logs / "chile.log")
        wait_serving(chile_dir, processes["CHL"])

        _depth_below(panama, 1, timeout=180)
    finally:
        for process in processes.values():
            stop_process(process)

    assert 0 < depth_at_second_kill < depth_at_first_kill < ENCOUNTERS, "kills landed mid-way"
    # Nothing lost, nothing duplicated.
    expected_per_entry = assert_settled_once(panama, chile, dataset, copies)
    assert len(expected_per_entry) == 2

    assert panama.audit.verify() > 0
    assert chile.audit.verify() > 0
    chile.database.close()
    panama.database.close()
