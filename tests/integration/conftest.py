"""Both nodes as real processes on free loopback ports, with real mTLS."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from biometric_exchange.node.runtime import Node
from biometric_exchange.node.tls import channel_credentials, channel_options
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from biometric_exchange.workspace import create_pair, start_node_process, stop_process, wait_serving

pytestmark = pytest.mark.integration


@dataclass
class RunningPair:
    chile: Node
    panama: Node
    processes: dict[str, subprocess.Popen[bytes]]
    logs: Path

    def partner_stub(self, caller: Node, callee: Node) -> pb_grpc.ExchangeStub:
        """A stub to ``callee`` presenting ``caller``'s TLS certificate."""
        channel = grpc.secure_channel(
            callee.config.node.listen,
            channel_credentials(caller, callee.keys.ca_certificate_pem),
            options=channel_options(),
        )
        return pb_grpc.ExchangeStub(channel)


@contextmanager
def running_nodes(
    folders: Mapping[str, Path], logs: Path
) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """``bx node run`` for each folder (logs in ``logs``), all serving; stopped after."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for key, folder in folders.items():
            processes[key] = start_node_process(folder, logs / f"{folder.name}.log")
        for key, folder in folders.items():
            wait_serving(folder, processes[key], timeout=60)
        yield processes
    finally:
        for process in processes.values():
            stop_process(process)


@pytest.fixture(scope="module")
def running_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[RunningPair]:
    workdir = tmp_path_factory.mktemp("pair")
    chile_dir, panama_dir = create_pair(workdir)
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    chile.records.add_watchlist(dataset.watchlists["CHL"])
    panama.records.add_watchlist(dataset.watchlists["PAN"])
    try:
        with running_nodes({"CHL": chile_dir, "PAN": panama_dir}, workdir / "logs") as processes:
            yield RunningPair(chile, panama, processes, workdir / "logs")
    finally:
        chile.database.close()
        panama.database.close()


T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")
