"""The README's hand-run blocks, run as written, in a temporary folder on free ports.

The README marks them ``<!-- readme-test: setup -->`` and ``<!-- readme-test:
exchange -->``. The setup block runs in bash up to ``scripts/run_pair.sh``,
which starts in the background as a reader's first terminal would; the exchange
block then runs as the second terminal, and both nodes must hold the alerts it
promises.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from biometric_exchange.workspace import free_port, wait_serving

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARKER = re.compile(r"<!-- readme-test: (?P<name>[a-z-]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)
RUN_PAIR = "scripts/run_pair.sh"
ALERT_WAIT_S = 120.0


def readme_blocks() -> dict[str, list[str]]:
    """Each marked block's commands: comments dropped, continued lines joined."""
    blocks: dict[str, list[str]] = {}
    for match in MARKER.finditer(README.read_text(encoding="utf-8")):
        commands: list[str] = []
        pending = ""
        for raw in match.group("body").splitlines():
            line = re.sub(r"\s+#\s.*$", "", raw).rstrip()
            if not line.strip():
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            commands.append(pending + line)
            pending = ""
        blocks[match.group("name")] = commands
    return blocks


def prepare_folder(tmp_path: Path) -> Path:
    """The repository's node folders (node.toml alone) on free ports, and the scripts
    and venv the README's commands name, linked beside them."""
    folder = tmp_path / "repo"
    folder.mkdir()
    for name in ("node_chile", "node_panama"):
        (folder / name).mkdir()
        config = (ROOT / name / "node.toml").read_text(encoding="utf-8")
        address = f'listen = "127.0.0.1:{free_port()}"'
        config = re.sub(r'listen = "127\.0\.0\.1:\d+"', address, config)
        (folder / name / "node.toml").write_text(config, encoding="utf-8")
    (folder / "scripts").symlink_to(ROOT / "scripts")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


def run_bash(commands: list[str], folder: Path, env: dict[str, str]) -> str:
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def alert_kinds(folder: Path, node: str, env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "biometric_exchange.cli",
            "alerts",
            "list",
            "-n",
            node,
            "--format",
            "json",
            "--operator",
            "readme-test",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {str(alert["kind"]) for alert in json.loads(result.stdout)}


def test_readme_hand_run_block_raises_alerts_on_both_nodes(tmp_path: Path) -> None:
    blocks = readme_blocks()
    setup, exchange = blocks["setup"], blocks["exchange"]
    assert setup[-1] == RUN_PAIR, "the setup block ends by starting the pair"
    folder = prepare_folder(tmp_path)
    venv_bin = Path(sys.prefix) / "bin"
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    env.pop("BX_OPERATOR", None)

    run_bash(setup[:-1], folder, env)
    log = (tmp_path / "run_pair.log").open("wb")
    pair = subprocess.Popen(
        [str(folder / RUN_PAIR)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for node in ("node_chile", "node_panama"):
            wait_serving(folder / node, pair)
        out = run_bash(exchange, folder, env)
        assert "enrolled PAN-ENC-0003 on node_panama" in out
        deadline = time.monotonic() + ALERT_WAIT_S
        while time.monotonic() < deadline:
            panama = alert_kinds(folder, "node_panama", env)
            chile = alert_kinds(folder, "node_chile", env)
            if "WATCHLIST_HIT" in panama and "SUBJECT_ENCOUNTERED_BY_PARTNER" in chile:
                break
            time.sleep(0.5)
        assert "WATCHLIST_HIT" in panama, (tmp_path / "run_pair.log").read_text()
        assert "SUBJECT_ENCOUNTERED_BY_PARTNER" in chile
    finally:
        os.killpg(pair.pid, signal.SIGTERM)
        try:
            status = pair.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(pair.pid, signal.SIGKILL)
            status = pair.wait()
        log.close()
    assert status == 0, "Ctrl-C (SIGTERM) stops both nodes cleanly"
