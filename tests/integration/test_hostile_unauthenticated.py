"""Hostile calls that never prove their sender, against Chile's real gRPC server:
huge header fields, unsigned envelopes and bytes that are not a request.

Such a call is refused before the envelope's signature verifies, so it may cost
Chile a count, never a full audit entry or a copy of what it carries: each
refusal is counted per peer, event, reason and UTC hour, and only the first of
a window is audited (``store.refusals``).
"""

from __future__ import annotations

import dataclasses
import json
import logging

import grpc
import pytest
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.crypto.envelope import SIGNATURE_LABEL
from biometric_exchange.exceptions import PartnerUnavailable
from biometric_exchange.node.rpc import IDENTIFY
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.serve.sealed import MAX_CLAIMED_ID
from biometric_exchange.node.status import RemoteRefusal
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from tests.integration.conftest import (
    ServedPair,
    entries_after,
    identify_header,
    last_seq,
    node_logs,
)
from tests.integration.test_hostile import _plain_template, _valid_identify
from tests.wiring import health, secure_channel

pytestmark = pytest.mark.integration

FOUR_MB = 4_000_000
ONE_MB = 1_000_000
FLOOD = 100
BOUND = MAX_CLAIMED_ID
"""The most of any header field a reason, a log line or an audit entry may hold."""
FILL = "Z"


def _database_bytes(node: Node) -> int:
    """The database's size (SQLite: its file, the write-ahead log checkpointed into it)."""
    return node.database.size_bytes()


def _refusal(call: grpc.UnaryUnaryMultiCallable, request: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=30)
    return raised.value


def _counted(node: Node, event: str) -> dict[tuple[str, str], int]:
    """(reason, hour) -> count of ``node``'s unauthenticated refusals of ``event``."""
    return {(c.reason, c.window): c.count for c in node.refusals.counts() if c.event == event}


def test_unsigned_calls_with_a_4mb_sender_grow_the_database_by_less_than_1mb(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    stub = served_pair.partner_stub(panama, chile)
    before = _database_bytes(chile)
    for number in range(FLOOD):
        header = identify_header(panama, sender="P" * FOUR_MB).SerializeToString()
        signature = b"" if number % 2 else b"\x01" * 64
        envelope = pb.SealedEnvelope(header=header, ciphertext=b"\x00" * 48, signature=signature)
        refused = _refusal(stub.Identify, envelope)
        assert (refused.code(), refused.details()) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "envelope rejected",
        )
    grown = _database_bytes(chile) - before
    assert grown < ONE_MB
    assert sum(_counted(chile, "identify.received").values()) == FLOOD
    assert health(served_pair.servers["CHL"]) == "SERVING"
    _valid_identify(stub, panama, _plain_template(dataset))
    listed = CliRunner().invoke(app, ["audit", "list", "--node", str(chile.node_dir)])
    assert listed.exit_code == 0, listed.output[:2000]
    assert len(listed.output) < 50_000
    assert "P" * (BOUND + 1) not in listed.output


def test_undecodable_bytes_to_identify_are_invalid_argument_counted_once_and_final(
    served_pair: ServedPair,
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    before_seq = last_seq(chile)
    before = _counted(chile, "request.undecodable")
    with secure_channel(panama, served_pair.servers["CHL"]) as channel:
        raw = channel.unary_unary(IDENTIFY.path)  # bytes in, bytes out
        refusals = [_refusal(raw, b"\x0a\xff\xff\xff\xff\x0f") for _ in range(3)]
    assert {(r.code(), r.details()) for r in refusals} == {
        (grpc.StatusCode.INVALID_ARGUMENT, "malformed request")
    }
    after = _counted(chile, "request.undecodable")
    grown = {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}
    assert list(grown.values()) == [3]
    ((reason, window),) = grown
    assert reason == "Identify: not a SealedEnvelope"
    entries = [
        e
        for e in entries_after(chile, 0, "request.undecodable")
        if e.detail.get("window") == window
    ]
    assert len(entries) == 1 and entries[0].seq > before_seq
    assert (entries[0].peer, entries[0].outcome, entries[0].detail["reason"]) == (
        "PAN",
        "rejected",
        reason,
    )
    # The caller's side: a final refusal, not a reason to retry.
    error = IDENTIFY.error(refusals[0].code(), refusals[0].details() or "")
    assert isinstance(error, RemoteRefusal) and not isinstance(error, PartnerUnavailable)
    assert health(served_pair.servers["CHL"]) == "SERVING"


HEADER_TEXT_FIELDS = (
    "sender",
    "recipient",
    "agreement_id",
    "agreement_hash",
    "message_id",
    "sender_key_id",
    "in_reply_to",
)


@pytest.mark.parametrize("field", HEADER_TEXT_FIELDS)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_refusal_reasons_and_log_lines_never_hold_more_of_a_header_field_than_the_bound(
    served_pair: ServedPair,
    caplog: pytest.LogCaptureFixture,
    field: str,
    signed: bool,
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    caplog.set_level(logging.DEBUG)
    header = identify_header(panama, **{field: FILL * 5000}).SerializeToString(deterministic=True)
    ciphertext = b"\x00" * 48
    signature = b""
    if signed:
        signature = panama.keys.signing_key.sign(
            SIGNATURE_LABEL + len(header).to_bytes(4, "big") + header + ciphertext
        )
    before = last_seq(chile)
    stub = served_pair.partner_stub(panama, chile)
    refused = _refusal(
        stub.Identify, pb.SealedEnvelope(header=header, ciphertext=ciphertext, signature=signature)
    )
    assert refused.code() is not grpc.StatusCode.INTERNAL
    audited = json.dumps(
        [[e.event, e.peer, e.message_id, e.detail] for e in chile.audit.entries() if e.seq > before]
    )
    too_much = FILL * (BOUND + 1)
    assert too_much not in audited
    assert too_much not in (refused.details() or "")
    assert any("refused" in record.getMessage() for record in caplog.records)
    assert too_much.encode() not in node_logs(caplog.records)
    counted = json.dumps([dataclasses.asdict(c) for c in chile.refusals.counts()])
    assert too_much not in counted
