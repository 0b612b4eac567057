"""Setting up node folders and running node processes (demo, tests, scripts)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from biometric_exchange import agreement
from biometric_exchange.config import AGREEMENT_FILENAME, CONFIG_FILENAME, load_config
from biometric_exchange.crypto import pki
from biometric_exchange.crypto.keys import encode_public, init_keys, load_keys
from biometric_exchange.exceptions import ConfigError
from biometric_exchange.node.probe import health_status
from biometric_exchange.node.runtime import Node


@dataclass(frozen=True)
class NodeSpec:
    directory: Path
    name: str
    country: str
    port: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_node_config(spec: NodeSpec) -> None:
    spec.directory.mkdir(parents=True, exist_ok=True)
    document = {
        "node": {"name": spec.name, "country": spec.country, "listen": f"127.0.0.1:{spec.port}"}
    }
    (spec.directory / CONFIG_FILENAME).write_text(tomli_w.dumps(document), encoding="utf-8")


def party_for(node_dir: Path) -> agreement.Party:
    """The agreement entry for a node, from its config and public keys."""
    config = load_config(node_dir)
    keys = load_keys(node_dir)
    ca = pki.load_certificate(keys.ca_certificate_pem)
    return agreement.Party(
        code=config.node.country,
        node=config.node.name,
        endpoint=config.node.listen,
        ca_fingerprint=pki.fingerprint(ca),
        ca_certificate=keys.ca_certificate_pem.decode(),
        signing_key=encode_public(keys.signing_public),
        kex_key=encode_public(keys.kex_public),
    )


TERMS_FILE = Path(__file__).resolve().parent / "agreement" / "chile_panama.toml"
"""The Chile-Panama terms shipped with the project (no parties, no keys)."""


def init_agreement(
    first: Path,
    second: Path,
    *,
    scope: agreement.Scope | None = None,
    terms_file: Path = TERMS_FILE,
) -> agreement.AgreementDocument:
    """Draft from the terms file, have both parties sign it, install it in both."""
    terms = agreement.load_terms(terms_file)
    if scope is not None:
        terms = {**terms, "scope": {**terms.get("scope", {}), "population": scope.value}}
    parties = (party_for(first), party_for(second))
    document = agreement.draft(
        parties, today=dt.datetime.now(dt.UTC).date(), terms=terms, source=str(terms_file)
    )
    for node_dir, party in zip((first, second), parties, strict=True):
        document = document.signed_by(party.code, load_keys(node_dir).signing_key)
    text = agreement.dumps(document)
    for node_dir in (first, second):
        (node_dir / AGREEMENT_FILENAME).write_text(text, encoding="utf-8")
    return document


def create_pair(workdir: Path, *, scope: agreement.Scope | None = None) -> tuple[Path, Path]:
    """Fresh Chile and Panama node folders on free loopback ports, keyed and agreed."""
    specs = (
        NodeSpec(workdir / "node_chile", "node_chile", "CHL", free_port()),
        NodeSpec(workdir / "node_panama", "node_panama", "PAN", free_port()),
    )
    for spec in specs:
        write_node_config(spec)
        init_keys(spec.directory, spec.name, spec.country)
    init_agreement(specs[0].directory, specs[1].directory, scope=scope)
    return specs[0].directory, specs[1].directory


def start_node_process(node_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``bx node run NODE_DIR`` as a child process, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "biometric_exchange.cli", "node", "run", str(node_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def wait_serving(
    node_dir: Path, process: subprocess.Popen[bytes] | None = None, *, timeout: float = 60.0
) -> None:
    """Block until the node answers SERVING on gRPC health, or raise ConfigError."""
    node = Node.open(node_dir)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise ConfigError(f"node {node_dir.name} exited with status {process.returncode}")
            if health_status(node, timeout=1.0) == "SERVING":
                return
            time.sleep(0.2)
    finally:
        node.database.close()
    raise ConfigError(f"node {node_dir.name} did not become healthy within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 15.0) -> int:
    """SIGTERM, then SIGKILL if it does not stop in time; return the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)
