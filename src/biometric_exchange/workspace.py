"""Setting up node folders and running node processes (demo, tests, scripts)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from biometric_exchange import SYNTHETIC_NOTICE, agreement
from biometric_exchange.agreement.document import parse as parse_agreement
from biometric_exchange.agreement.terms import Purpose, Step1Mode, TemplateProtectionScheme
from biometric_exchange.config import (
    AGREEMENT_FILENAME,
    AGREEMENTS_DIRNAME,
    CONFIG_FILENAME,
    load_config,
)
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


def recreate_marked_folder(folder: Path, marker: str, *, refusal: str) -> None:
    """Make ``folder`` empty for a fresh run and mark it with ``marker``; a folder that
    exists without the marker (not ours to delete) is refused with ``refusal``."""
    if folder.exists():
        if not (folder / marker).is_file():
            raise ConfigError(f"{folder} exists and {refusal}")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / marker).write_text(SYNTHETIC_NOTICE + "\n", encoding="utf-8")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_node_config(spec: NodeSpec, *, partner_purposes: dict[str, str] | None = None) -> None:
    spec.directory.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "node": {"name": spec.name, "country": spec.country, "listen": f"127.0.0.1:{spec.port}"}
    }
    if partner_purposes:
        document["exchange"] = {"partner_purposes": partner_purposes}
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


TERMS_DIR = Path(__file__).resolve().parent / "agreement"
TERMS_FILE = TERMS_DIR / "chile_panama.toml"
"""The Chile-Panama terms shipped with the project (no parties, no keys)."""
SHIPPED_TERMS = {
    frozenset({"CHL", "PAN"}): TERMS_FILE,
    frozenset({"PAN", "MEX"}): TERMS_DIR / "panama_mexico.toml",
    frozenset({"CHL", "MEX"}): TERMS_DIR / "chile_mexico.toml",
}
"""Terms shipped for each pair of the corridor's countries."""


def agreement_path(node_dir: Path, partner: str) -> Path:
    """Where a node keeps its agreement with ``partner``: ``agreement.toml`` for its
    first partner (or a replacement of that agreement), ``agreements/<PARTNER>.toml``
    for every further one."""
    first = node_dir / AGREEMENT_FILENAME
    if not first.is_file():
        return first
    country = load_config(node_dir).node.country
    current = parse_agreement(first)
    if country in {p.code for p in current.parties} and current.partner_of(country).code == partner:
        return first
    return node_dir / AGREEMENTS_DIRNAME / f"{partner}.toml"


def write_agreement(path: Path, text: str | bytes) -> None:
    """Install an agreement file whole or not at all: a running node that reloads
    meanwhile reads the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")  # not *.toml: never read as an agreement
    data = text.encode("utf-8") if isinstance(text, str) else text
    staging.write_bytes(data)
    os.replace(staging, path)


def init_agreement(
    first: Path,
    second: Path,
    *,
    scope: agreement.Scope | None = None,
    terms_file: Path = TERMS_FILE,
    protection: TemplateProtectionScheme | None = None,
    step1_mode: Step1Mode | None = None,
) -> agreement.AgreementDocument:
    """Draft from the terms file (``scope``, ``protection`` and ``step1_mode`` overriding
    it), have both parties sign it, install it in both."""
    terms = agreement.load_terms(terms_file)
    if step1_mode is not None:
        terms = {**terms, "step1": {**terms.get("step1", {}), "mode": step1_mode.value}}
    if scope is not None:
        terms = {**terms, "scope": {**terms.get("scope", {}), "population": scope.value}}
    if protection is not None:
        terms = {**terms, "template_protection": {"scheme": protection.value, "epoch": 1}}
    parties = (party_for(first), party_for(second))
    document = agreement.draft(
        parties, today=dt.datetime.now(dt.UTC).date(), terms=terms, source=str(terms_file)
    )
    for node_dir, party in zip((first, second), parties, strict=True):
        document = document.signed_by(party.code, load_keys(node_dir).signing_key)
    text = agreement.dumps(document)
    for node_dir, partner in ((first, parties[1].code), (second, parties[0].code)):
        write_agreement(agreement_path(node_dir, partner), text)
    return document


def rotate_protection(first: Path, second: Path) -> agreement.AgreementDocument:
    """The agreement between two nodes, one version on, its template protection one
    epoch on; signed by both and installed in both (running nodes load it at their
    next round)."""
    first_country = load_config(first).node.country
    second_country = load_config(second).node.country
    current = agreement.load(agreement_path(first, second_country))
    if current.partner_of(first_country).code != second_country:
        raise ConfigError(f"{first}: holds no agreement with {second_country}")
    terms = current.agreement
    protection = terms.template_protection
    if protection.scheme is TemplateProtectionScheme.NONE:
        raise ConfigError(
            f"agreement {current.id}: template_protection names no scheme; nothing to rotate"
        )
    rotated = current.model_copy(
        update={
            "agreement": terms.model_copy(
                update={
                    "version": terms.version + 1,
                    "template_protection": protection.model_copy(
                        update={"epoch": protection.epoch + 1}
                    ),
                }
            ),
            "signatures": {},
        }
    )
    for node_dir, code in ((first, first_country), (second, second_country)):
        rotated = rotated.signed_by(code, load_keys(node_dir).signing_key)
    text = agreement.dumps(rotated)
    write_agreement(agreement_path(first, second_country), text)
    write_agreement(agreement_path(second, first_country), text)
    return rotated


def create_pair(
    workdir: Path,
    *,
    scope: agreement.Scope | None = None,
    protection: TemplateProtectionScheme | None = None,
    step1_mode: Step1Mode | None = None,
) -> tuple[Path, Path]:
    """Fresh Chile and Panama node folders on free loopback ports, keyed and agreed."""
    specs = (
        NodeSpec(workdir / "node_chile", "node_chile", "CHL", free_port()),
        NodeSpec(workdir / "node_panama", "node_panama", "PAN", free_port()),
    )
    for spec in specs:
        write_node_config(spec)
        init_keys(spec.directory, spec.name, spec.country)
    init_agreement(
        specs[0].directory,
        specs[1].directory,
        scope=scope,
        protection=protection,
        step1_mode=step1_mode,
    )
    return specs[0].directory, specs[1].directory


CORRIDOR = (("node_chile", "CHL"), ("node_panama", "PAN"), ("node_mexico", "MEX"))
"""The corridor's nodes, south to north."""


def create_federation(
    workdir: Path, members: tuple[tuple[str, str], ...] = CORRIDOR
) -> dict[str, Path]:
    """Node folders for ``members`` (name, country) on free loopback ports, keyed, with a
    signed agreement between every pair under that pair's shipped terms."""
    countries = [country for _, country in members]
    terms: dict[frozenset[str], Path] = {}
    for index, first in enumerate(countries):
        for second in countries[index + 1 :]:
            pair = frozenset({first, second})
            if pair not in SHIPPED_TERMS:
                raise ConfigError(f"no shipped terms for {first}-{second}")
            terms[pair] = SHIPPED_TERMS[pair]
    folders: dict[str, Path] = {}
    for name, country in members:
        spec = NodeSpec(workdir / name, name, country, free_port())
        purposes = {
            partner: purpose_allowed(file)
            for pair, file in terms.items()
            if country in pair
            for partner in pair - {country}
            if purpose_allowed(file) != Purpose.BORDER_SECURITY.value
        }
        write_node_config(spec, partner_purposes=purposes)
        init_keys(spec.directory, spec.name, spec.country)
        folders[country] = spec.directory
    for pair, file in terms.items():
        first, second = sorted(pair, key=countries.index)
        init_agreement(folders[first], folders[second], terms_file=file)
    return folders


def purpose_allowed(terms_file: Path) -> str:
    """The node's default purpose when the terms allow it, else their first purpose."""
    purposes = agreement.load_terms(terms_file)["purposes"]
    default = Purpose.BORDER_SECURITY.value
    return default if default in purposes else str(purposes[0])


def start_node_process(node_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """``bx node run -n NODE_DIR`` as a child process, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "biometric_exchange.cli", "node", "run", "-n", str(node_dir)],
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
