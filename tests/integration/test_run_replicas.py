"""``scripts/run_replicas.sh``: two real processes of one node on a PostgreSQL store,
each line prefixed with its process, both stopped by Ctrl-C (SIGINT to the foreground
process group); a SQLite node and a bad count refused before anything starts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from biometric_exchange.node.presence import read_states
from biometric_exchange.workspace import create_pair, init_agreement
from tests.integration.conftest import eventually, use_postgres
from tests.integration.test_run_pair import BX, ROOT

pytestmark = pytest.mark.integration

SCRIPT = ROOT / "scripts" / "run_replicas.sh"
PREFIXED = re.compile(r"^\[CHL-[12]\] ")


def _run(folder: Path, *args: str, output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as sink:
        return subprocess.Popen(
            [str(SCRIPT), str(folder), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BX": str(BX), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )


def test_two_processes_prefixed_and_stopped_by_ctrl_c(tmp_path: Path, pg_cluster: Any) -> None:
    chile, panama = create_pair(tmp_path)
    init_agreement(chile, panama)
    use_postgres(chile, pg_cluster.new_url())
    output = tmp_path / "out.log"
    script = _run(chile, "2", output=output)
    try:
        states = eventually(lambda: read_states(chile) if len(read_states(chile)) == 2 else None)
        os.killpg(script.pid, signal.SIGINT)
        assert script.wait(timeout=30) == 0
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
    assert all(not Path(f"/proc/{state.pid}").exists() for state in states), "both stopped"
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines and all(PREFIXED.match(line) for line in lines), lines
    for label in ("[CHL-1]", "[CHL-2]"):
        own = [line for line in lines if line.startswith(label)]
        assert any("serving on" in line for line in own), lines
        assert own[-1].endswith(f"node {chile.name} stopped"), lines  # after Ctrl-C


@pytest.mark.parametrize(
    ("count", "said"),
    [("0", "PROCESSES must be 1 to 16, not '0'"), ("2", "has no [store] url")],
)
def test_what_cannot_run_is_refused_before_anything_starts(
    tmp_path: Path, count: str, said: str
) -> None:
    chile, _panama = create_pair(tmp_path)
    config = (chile / "node.toml").read_text(encoding="utf-8")
    if "[store]" in config:  # BX_TEST_STORE=postgresql gave every node a store
        (chile / "node.toml").write_text(config.split("\n[store]")[0] + "\n", encoding="utf-8")
    output = tmp_path / "out.log"
    script = _run(chile, count, output=output)
    assert script.wait(timeout=30) == 2
    assert said in output.read_text(encoding="utf-8")
    assert read_states(chile) == []
