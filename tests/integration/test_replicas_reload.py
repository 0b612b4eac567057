"""Two processes serving one node (PostgreSQL store): `bx node reload` reloads both,
`bx status` lists both, and either one alone is still found when the other stops."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from biometric_exchange.node.presence import read_state, read_states, serving_slots
from biometric_exchange.workspace import (
    create_pair,
    init_agreement,
    start_node_process,
    stop_process,
    wait_serving,
)
from tests.integration.conftest import eventually, use_postgres
from tests.integration.test_live_configuration import _bx

pytestmark = pytest.mark.integration


def _two_serving(node_dir: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    wait_serving(node_dir, processes[0])
    eventually(lambda: len(read_states(node_dir)) == 2 or None, every=0.05)


def test_reload_and_status_reach_every_process_of_the_folder(
    tmp_path: Path, pg_cluster: Any
) -> None:
    chile_dir, panama_dir = create_pair(tmp_path)
    init_agreement(chile_dir, panama_dir)
    use_postgres(chile_dir, pg_cluster.new_url())
    logs = tmp_path / "logs"
    processes = [start_node_process(chile_dir, logs / f"CHL-{n}.log") for n in (1, 2)]
    try:
        _two_serving(chile_dir, processes)
        assert serving_slots(chile_dir) == [1, 2]
        pids = {p.pid for p in processes}
        assert {state.pid for state in read_states(chile_dir)} == pids

        code, said = _bx("node", "reload", "-n", chile_dir)
        assert code == 0, said
        assert "(2 processes): no change" in said
        assert all(state.reloads == 1 for state in read_states(chile_dir))

        code, shown = _bx("status", "-n", chile_dir, "--format", "json", "--timeout", "2")
        report = json.loads(shown) if code == 0 else {}
        assert code == 0, shown
        listed = [report["process"], *report["other_processes"]]
        assert {item["pid"] for item in listed} == pids
        assert all(item["partners_loaded"] == ["PAN"] for item in listed)

        # The first slot's process stops: the folder is still served, and found.
        first = next(p for p in processes if p.pid == read_states(chile_dir)[0].pid)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        eventually(lambda: serving_slots(chile_dir) == [2] or None, every=0.05)
        survivor = read_state(chile_dir)
        assert survivor is not None and survivor.pid in pids - {first.pid}
        code, said = _bx("node", "reload", "-n", chile_dir)
        assert code == 0, said
        assert said.endswith("no change") and "processes" not in said
        assert survivor.pid == read_states(chile_dir)[0].pid
        assert read_states(chile_dir)[0].reloads == 2
    finally:
        for process in processes:
            stop_process(process)
    assert read_states(chile_dir) == []
    code, said = _bx("node", "reload", "-n", chile_dir)
    assert code == 1 and "no node process serves this folder" in said
