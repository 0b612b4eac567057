"""``scripts/run_pair.sh``: three real node processes, each line prefixed with its node,
stopped by Ctrl-C (SIGINT to the foreground process group); the status of a node that
fails; the commands a folder still needs, printed before anything starts."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from biometric_exchange.config import CONFIG_FILENAME
from biometric_exchange.crypto.keys import init_keys
from biometric_exchange.node.runtime import Node
from biometric_exchange.workspace import create_federation, init_agreement
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run_pair.sh"
BX = Path(sys.executable).parent / "bx"
PREFIXED = re.compile(r"^\[(CHL|PAN|MEX)\] ")
LOG_RECORD = re.compile(r"^\[[A-Z]{3}\] +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
"""The first line of a Python log record (not gRPC core's own stderr, nor a traceback's
continuation lines)."""


CHL_MEX = "chile_mexico.toml"
PAN_MEX = "panama_mexico.toml"


def _start(folders: list[Path], output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as sink:
        return subprocess.Popen(
            [str(SCRIPT), *map(str, folders)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BX": str(BX), "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )


def _lines(output: Path) -> list[str]:
    return output.read_text(encoding="utf-8").splitlines()


def _serving(output: Path, countries: set[str]) -> bool:
    serving = {line[1:4] for line in _lines(output) if "serving on" in line}
    return serving == countries


@pytest.fixture(scope="module")
def corridor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Chile, Panama and Mexico on free ports, keyed, with an agreement per pair."""
    return create_federation(tmp_path_factory.mktemp("corridor"))


def test_three_nodes_prefixed_and_stopped_by_ctrl_c(
    corridor: dict[str, Path], tmp_path: Path
) -> None:
    folders = corridor
    output = tmp_path / "out.log"
    script = _start(list(folders.values()), output)
    try:
        eventually(lambda: _serving(output, set(folders)), timeout=60)
        os.killpg(script.pid, signal.SIGINT)
        assert script.wait(timeout=30) == 0
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
    lines = _lines(output)
    assert lines and all(PREFIXED.match(line) for line in lines), lines
    for country, folder in folders.items():
        own = [line for line in lines if line.startswith(f"[{country}] ")]
        assert own[-1].endswith(f"node {folder.name} stopped"), lines  # after Ctrl-C
        records = [line for line in own if LOG_RECORD.match(line)]
        assert records and all(f" {country} " in line for line in records), own  # node field


def test_a_node_that_fails_stops_the_others_and_gives_its_status(
    corridor: dict[str, Path], tmp_path: Path
) -> None:
    config = corridor["MEX"] / CONFIG_FILENAME
    valid = config.read_text(encoding="utf-8")
    config.write_text(valid + "\n[matching]\nthreshold = -1\n", encoding="utf-8")
    try:  # Mexico's node refuses its configuration and exits
        alone = subprocess.run(
            [BX, "node", "run", "-n", str(corridor["MEX"])],
            check=False,
            capture_output=True,
            timeout=60,
        )
        assert alone.returncode != 0 and b"threshold" in alone.stderr
        output = tmp_path / "out.log"
        script = _start([corridor["CHL"], corridor["MEX"]], output)
        try:
            assert script.wait(timeout=60) == alone.returncode
        finally:
            if script.poll() is None:
                os.killpg(script.pid, signal.SIGKILL)
    finally:
        config.write_text(valid, encoding="utf-8")
    lines = _lines(output)
    assert any(line.startswith("[MEX] ") and "threshold" in line for line in lines), lines
    assert all(PREFIXED.match(line) for line in lines), lines


def test_a_fresh_clone_is_told_the_commands_to_run_first(tmp_path: Path) -> None:
    for name in ("node_chile", "node_panama", "node_mexico"):  # as committed: no keys
        (tmp_path / name).mkdir()
        shutil.copy(ROOT / name / "node.toml", tmp_path / name / "node.toml")
    chile, panama, mexico = (tmp_path / n for n in ("node_chile", "node_panama", "node_mexico"))
    init_keys(chile, "node_chile", "CHL")  # the two-node setup the README gives
    init_keys(panama, "node_panama", "PAN")
    init_agreement(chile, panama)
    result = subprocess.run(
        [str(SCRIPT), str(chile), str(panama), str(mexico)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "BX": str(BX)},
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    terms = "src/biometric_exchange/agreement"
    assert result.stderr.splitlines()[1:] == [
        f"  bx keys init -n {mexico}",
        f"  bx agreement init -n {chile} --partner-node {mexico} --terms {terms}/{CHL_MEX}",
        f"  bx agreement init -n {panama} --partner-node {mexico} --terms {terms}/{PAN_MEX}",
    ]
    for line in result.stderr.splitlines()[1:]:  # the commands printed do make the corridor
        subprocess.run([BX, *line.split()[1:]], check=True, capture_output=True, cwd=ROOT)
    for folder in (chile, panama, mexico):  # each node opens with both its partners
        node = Node.open(folder)
        try:
            assert len(node.partner_codes) == 2
        finally:
            node.database.close()
