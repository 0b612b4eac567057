"""Nodes with real gRPC servers and real mutual TLS on loopback, serving in this
process (``served_pair``, ``pinned_pair``); the exchange worker and other loops of a
node run in the test's thread. Tests of the process itself (signals, crashes, its
logs and metrics, the CLI that starts it) start ``bx node run`` themselves."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from biometric_exchange.agreement.terms import TemplateProtectionScheme
from biometric_exchange.crypto.envelope import ENVELOPE_VERSION, new_message_id
from biometric_exchange.crypto.keys import key_id
from biometric_exchange.logs import json_formatter, text_formatter
from biometric_exchange.node.runtime import Node
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.store.audit.rows import entry_from_row
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.workspace import create_pair
from tests.wiring import ClockAhead, ServedNodes, serving_all

pytestmark = pytest.mark.integration


@dataclass
class ServedPair(ServedNodes):
    """Chile and Panama, each opened once and serving in this process; both read
    ``clock``, which a test may move on."""

    clock: ClockAhead = field(default_factory=ClockAhead)

    @property
    def chile(self) -> Node:
        return self["CHL"]

    @property
    def panama(self) -> Node:
        return self["PAN"]


@contextmanager
def served_pair_in(
    workdir: Path,
    dataset: DemoDataset,
    *,
    pinned: bool = False,
    protection: TemplateProtectionScheme | None = None,
) -> Iterator[ServedPair]:
    """A fresh pair (its agreement under ``protection``) with its synthetic watchlists,
    both serving in this process: on ports the OS picks, or (``pinned``) on the
    addresses their folders and agreement pin, for tools such as the CLI that dial those."""
    clock = ClockAhead()
    chile_dir, panama_dir = create_pair(workdir, protection=protection)
    nodes = {"CHL": Node.open(chile_dir, clock=clock), "PAN": Node.open(panama_dir, clock=clock)}
    for country, node in nodes.items():
        node.records.add_watchlist(dataset.watchlists[country])
    listen = {c: n.config.node.listen for c, n in nodes.items()} if pinned else None
    try:
        with serving_all(nodes, listen=listen, kind=ServedPair) as pair:
            pair.clock = clock
            yield pair
    finally:
        for node in nodes.values():
            node.database.close()


@pytest.fixture(scope="module")
def served_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ServedPair]:
    """Chile and Panama serving in this process on ports the OS picks (one per module)."""
    with served_pair_in(tmp_path_factory.mktemp("served"), dataset) as pair:
        yield pair


@pytest.fixture(scope="module")
def pinned_pair(
    tmp_path_factory: pytest.TempPathFactory, dataset: DemoDataset
) -> Iterator[ServedPair]:
    """Chile and Panama serving in this process where their agreement says they listen."""
    with served_pair_in(tmp_path_factory.mktemp("pinned"), dataset, pinned=True) as pair:
        yield pair


def last_seq(node: Node) -> int:
    """The sequence number of ``node``'s newest audit entry (0 when none)."""
    row = node.database.connection.execute("SELECT max(seq) FROM audit_log").fetchone()
    return int(row[0] or 0)


def entries_after(node: Node, seq: int, event: str) -> list[AuditEntry]:
    """``node``'s audit entries of ``event`` newer than ``seq``, oldest first."""
    rows = node.database.connection.execute(
        "SELECT * FROM audit_log WHERE seq > ? AND event = ? ORDER BY seq", (seq, event)
    ).fetchall()
    return [entry_from_row(row) for row in rows]


def node_logs(records: list[logging.LogRecord]) -> bytes:
    """``records`` as a node writes them to its log, in text and in JSON lines."""
    lines = [
        formatter.format(record)
        for formatter in (text_formatter(), json_formatter())
        for record in records
    ]
    return "\n".join(lines).encode()


T = TypeVar("T")


def use_postgres(node_dir: Path, url: str, **store: float) -> None:
    """Give the folder a PostgreSQL store at ``url`` with the ``[store]`` settings
    ``store``, unless the run gave it one already (``BX_TEST_STORE=postgresql``:
    ``[store]`` is then the last table, and the settings go under it)."""
    config = node_dir / "node.toml"
    text = config.read_text(encoding="utf-8")
    if "[store]" not in text:
        text += f'\n[store]\nurl = "{url}"\n'
    text += "".join(f"{name} = {value}\n" for name, value in store.items())
    config.write_text(text, encoding="utf-8")


def eventually(probe: Callable[[], T | None], *, timeout: float = 20.0, every: float = 0.1) -> T:
    """Poll ``probe`` (every ``every`` seconds, for at most ``timeout``) until it returns
    something truthy: for state that a node process changes outside the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def identify_header(panama: Node, **changes: object) -> pb.EnvelopeHeader:
    """A well-formed Identify header from Panama to Chile, with ``changes`` applied."""
    context = panama.link("CHL").envelope
    header = pb.EnvelopeHeader(
        version=ENVELOPE_VERSION,
        agreement_id=context.agreement_id,
        agreement_hash=context.agreement_hash,
        sender=context.own_party,
        recipient=context.partner_party,
        message_id=new_message_id(),
        message_type=pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        created_at_ms=panama.clock(),
        ephemeral_public_key=bytes(32),
        nonce=bytes(12),
        sender_key_id=key_id(panama.keys.signing_public),
    )
    for name, value in changes.items():
        setattr(header, name, value)
    return header
