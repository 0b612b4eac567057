"""Hostile traffic against a running node: forged, skewed, oversize and malformed
calls, injection strings in every text field of a probe, and a quota flood.

Each case checks the exact gRPC status (and, for refusals, the fixed public
message), that Chile audited the refusal with its reason (cases refused by
gRPC or TLS before our code runs leave no entry, and the test says so; cases
refused before the signature verified are counted, one entry per reason and
hour, ``test_hostile_unauthenticated.py``), and
that the node still serves afterwards: health SERVING and a valid Identify
answered. ``test_refusals.py`` covers tampered ciphertext, replay, wrong
recipient, stale time, foreign peers, purpose and agreement hash; these cases
extend it.

Chile's real gRPC server (mutual TLS on a loopback port the OS picks) runs in this
process: a call that brought the node down would bring the test run down with it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from typer.testing import CliRunner

from biometric_exchange.cli.main import app
from biometric_exchange.crypto.envelope import (
    SIGNATURE_LABEL,
    EnvelopeContext,
    MemoryReplayGuard,
    new_message_id,
    open_envelope,
    read_header,
    seal,
)
from biometric_exchange.domain import TEMPLATE_DIM, TEMPLATE_MODEL, Template, template_to_bytes
from biometric_exchange.loadtest import amend_pair_agreement
from biometric_exchange.node.runtime import Node
from biometric_exchange.node.server import MAX_MESSAGE_BYTES
from biometric_exchange.serde.identify import identify_response_from_bytes
from biometric_exchange.store.audit import AuditEntry
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from biometric_exchange.workspace import create_pair
from tests.integration.conftest import ServedPair, entries_after, identify_header, last_seq
from tests.probes import planted_template, recaptured
from tests.wiring import Served, health, secure_channel, serving

pytestmark = pytest.mark.integration

FIVE_MINUTES_MS = 5 * 60 * 1000
ENVELOPE_REJECTED = "envelope rejected"
REFUSED_BY_AGREEMENT = "request refused by the agreement"
MALFORMED_REQUEST = "malformed request"
AGREEMENT_MISMATCH = "agreement mismatch"
QUOTA_EXHAUSTED = "daily quota exhausted"
SQL = "'; DROP TABLE alerts; --"
CONTROL = "ref\x00\x1b[2J\r\n\x07"
TABLES = (
    "meta",
    "encounters",
    "watchlist",
    "outbox",
    "alerts",
    "hit_references",
    "seen_messages",
    "audit_log",
    "quota_usage",
    "details_received",
)
QUOTA = 3

Reason = str | re.Pattern[str] | None
"""The audited reason: exact text, a pattern it must match fully, or None when absent."""


# --- helpers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    details: str


def _probe(
    template: Template,
    *,
    probe_ref: str = "hostile-probe",
    scope_rule: pb.ScopeRule.ValueType = pb.SCOPE_RULE_STANDARD,
    scope_commitment: bytes = b"c" * 32,
    encountered_at_ms: int = 0,
) -> pb.Probe:
    """A probe as the wire carries it (``encountered_at_ms`` no longer crosses)."""
    return pb.Probe(
        probe_ref=probe_ref,
        template=pb.Template(
            dim=TEMPLATE_DIM, model_id=TEMPLATE_MODEL, values=template_to_bytes(template)
        ),
        scope_rule=scope_rule,
        scope_commitment=scope_commitment,
    )


def _body(
    probes: list[pb.Probe], *, purpose: str = "border_security", max_candidates: int = 3
) -> bytes:
    request = pb.IdentifyRequest(purpose=purpose, probes=probes, max_candidates=max_candidates)
    return request.SerializeToString(deterministic=True)


def _plain_template(dataset: DemoDataset) -> Template:
    return dataset.encounters["PAN"][0].template


def _sealed(
    panama: Node,
    body: bytes,
    *,
    context: EnvelopeContext | None = None,
    message_type: pb.MessageType.ValueType = pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
    now_ms: int | None = None,
    in_reply_to: str = "",
    message_id: str | None = None,
) -> pb.SealedEnvelope:
    return seal(
        context or panama.link("CHL").envelope,
        message_type,
        body,
        now_ms=panama.clock() if now_ms is None else now_ms,
        in_reply_to=in_reply_to,
        message_id=message_id,
    )


def _signed_with_header(
    panama: Node, header: pb.EnvelopeHeader, ciphertext: bytes
) -> pb.SealedEnvelope:
    """An envelope whose header we choose, validly signed by Panama's pinned key."""
    header_bytes = header.SerializeToString(deterministic=True)
    signed = SIGNATURE_LABEL + len(header_bytes).to_bytes(4, "big") + header_bytes + ciphertext
    return pb.SealedEnvelope(
        header=header_bytes,
        ciphertext=ciphertext,
        signature=panama.keys.signing_key.sign(signed),
    )


def _call(
    stub: pb_grpc.ExchangeStub, method: str, envelope: pb.SealedEnvelope
) -> pb.SealedEnvelope | Refusal:
    try:
        reply: pb.SealedEnvelope = getattr(stub, method)(envelope, timeout=15)
    except grpc.RpcError as exc:
        return Refusal(exc.code(), exc.details() or "")
    return reply


def _reason_matches(entry: AuditEntry, reason: Reason) -> bool:
    actual = entry.detail.get("reason")
    if reason is None:
        return actual is None
    if isinstance(reason, re.Pattern):
        return isinstance(actual, str) and reason.fullmatch(actual) is not None
    return actual == reason


def _assert_audited(
    node: Node,
    after: int,
    event: str,
    reason: Reason,
    *,
    message_id: str | None,
) -> AuditEntry:
    """Exactly one rejected ``event`` entry since ``after`` about ``message_id``
    (the claimed id when the envelope did not open), with ``reason``."""
    entries = [
        e
        for e in entries_after(node, after, event)
        if e.outcome == "rejected"
        and (e.message_id or e.detail.get("claimed_message_id")) == message_id
    ]
    assert len(entries) == 1, [e.detail for e in entries_after(node, after, event)]
    assert _reason_matches(entries[0], reason), entries[0].detail
    assert entries[0].peer == "PAN"
    return entries[0]


CountKey = tuple[str, str, str, str]
"""(peer, event, reason, hour) of ``unauthenticated_refusals``."""


def _counts(node: Node) -> dict[CountKey, int]:
    return {(c.peer, c.event, c.reason, c.window): c.count for c in node.refusals.counts()}


def _assert_counted(
    node: Node, before: dict[CountKey, int], event: str, reason: Reason
) -> AuditEntry:
    """Exactly one count since ``before`` went up, by one, for PAN, ``event`` and
    ``reason``; its window holds exactly one audit entry (the first refusal's)."""
    after = _counts(node)
    grown = {key: n - before.get(key, 0) for key, n in after.items() if n != before.get(key, 0)}
    assert list(grown.values()) == [1], grown
    ((peer, counted_event, counted_reason, window),) = grown
    assert (peer, counted_event) == ("PAN", event)
    entries = [
        e
        for e in entries_after(node, 0, event)
        if e.detail.get("counted")
        and e.detail.get("window") == window
        and e.detail.get("reason") == counted_reason
    ]
    assert len(entries) == 1, [e.detail for e in entries]
    assert _reason_matches(entries[0], reason), entries[0].detail
    assert entries[0].outcome == "rejected" and entries[0].peer == "PAN"
    return entries[0]


def _valid_identify(stub: pb_grpc.ExchangeStub, panama: Node, template: Template) -> None:
    """A well-formed Identify is answered with a reply that opens and answers it."""
    envelope = _sealed(
        panama, _body([_probe(template, probe_ref="liveness", encountered_at_ms=panama.clock())])
    )
    reply = _call(stub, "Identify", envelope)
    assert isinstance(reply, pb.SealedEnvelope), reply
    opened = open_envelope(
        panama.link("CHL").envelope,
        reply,
        now_ms=panama.clock(),
        replay_guard=MemoryReplayGuard(),
        expected_type=pb.MESSAGE_TYPE_IDENTIFY_RESPONSE,
        expected_in_reply_to=read_header(envelope).message_id,
    )
    assert list(identify_response_from_bytes(opened.body)) == ["liveness"]


@pytest.fixture
def serving_after(served_pair: ServedPair, dataset: DemoDataset) -> Iterator[None]:
    """After the test: Chile still SERVING and answering a valid Identify."""
    yield
    panama = served_pair.panama
    assert health(served_pair.servers["CHL"]) == "SERVING"
    stub = served_pair.partner_stub(panama, served_pair.chile)
    _valid_identify(stub, panama, _plain_template(dataset))


def _refused(
    pair: ServedPair,
    envelope: pb.SealedEnvelope,
    *,
    method: str = "Identify",
    event: str = "identify.received",
    code: grpc.StatusCode,
    public: str,
    reason: Reason,
    by_id: bool = True,
    counted: bool = False,
) -> AuditEntry:
    """Send ``envelope``; assert the status, the public message and the audit entry
    (or, ``counted``, refused before the signature verified: the count and its
    window's one entry)."""
    chile = pair.chile
    before = last_seq(chile)
    counts = _counts(chile)
    result = _call(pair.partner_stub(pair.panama, chile), method, envelope)
    assert result == Refusal(code, public)
    if counted:
        return _assert_counted(chile, counts, event, reason)
    message_id = (read_header(envelope).message_id[:64] or None) if by_id else None
    return _assert_audited(chile, before, event, reason, message_id=message_id)


# --- the envelope: forged, tampered, skewed ---------------------------------------------


def _flip_nonce_bit(envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
    nonce = read_header(envelope).nonce
    at = envelope.header.find(nonce)
    assert at > 0
    header = bytearray(envelope.header)
    header[at] ^= 0x01
    return pb.SealedEnvelope(
        header=bytes(header), ciphertext=envelope.ciphertext, signature=envelope.signature
    )


def _resigned_time_change(envelope: pb.SealedEnvelope) -> pb.SealedEnvelope:
    """The header re-serialized with its time moved by 1 ms, signature kept."""
    header = read_header(envelope)
    header.created_at_ms += 1
    return pb.SealedEnvelope(
        header=header.SerializeToString(deterministic=True),
        ciphertext=envelope.ciphertext,
        signature=envelope.signature,
    )


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        pytest.param(_flip_nonce_bit, "bad signature", id="nonce-bit-flipped"),
        pytest.param(_resigned_time_change, "bad signature", id="created-at-changed"),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_tampered_header_bytes_are_unauthenticated(
    served_pair: ServedPair,
    dataset: DemoDataset,
    tamper: Callable[[pb.SealedEnvelope], pb.SealedEnvelope],
    reason: str,
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    envelope = tamper(_sealed(panama, body))
    _refused(
        served_pair,
        envelope,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason=reason,
        counted=True,
    )


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"\xff" * 16, id="garbage"),
        pytest.param(b"\x12\x40abc", id="truncated-field"),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_header_that_does_not_parse_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset, header: bytes
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    valid = _sealed(panama, body)
    envelope = pb.SealedEnvelope(
        header=header, ciphertext=valid.ciphertext, signature=valid.signature
    )
    _refused(
        served_pair,
        envelope,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="malformed header",
        by_id=False,
        counted=True,
    )


@pytest.mark.usefixtures("serving_after")
def test_envelope_signed_by_a_fresh_key_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    context = dataclasses.replace(
        panama.link("CHL").envelope, own_signing_key=Ed25519PrivateKey.generate()
    )
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, context=context),
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="bad signature",
        counted=True,
    )


@pytest.mark.usefixtures("serving_after")
def test_envelope_from_the_future_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    ahead_ms = panama.clock() + FIVE_MINUTES_MS + 60_000
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, now_ms=ahead_ms),
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason=re.compile(r"timestamp outside the window by 3[56]\d s"),
    )


@pytest.mark.usefixtures("serving_after")
def test_request_claiming_to_answer_a_message_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, in_reply_to=new_message_id()),
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="reply does not answer the request",
    )


@pytest.mark.usefixtures("serving_after")
def test_sql_in_the_message_id_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    envelope = _sealed(panama, body, message_id=SQL)
    entry = _refused(
        served_pair,
        envelope,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="malformed message id",
        counted=True,
    )
    assert entry.detail["claimed_message_id"] == SQL


@pytest.mark.usefixtures("serving_after")
def test_envelope_encrypted_to_another_key_fails_decryption(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    """Validly signed by Panama, but not sealed to Chile's pinned X25519 key."""
    panama = served_pair.panama
    context = dataclasses.replace(
        panama.link("CHL").envelope, partner_kex_public=X25519PrivateKey.generate().public_key()
    )
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, context=context),
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="decryption failed",
    )


@pytest.mark.parametrize(
    ("changes", "reason", "counted"),
    [
        pytest.param({"nonce": bytes(11)}, "malformed nonce", False, id="short-nonce"),
        pytest.param(
            {"ephemeral_public_key": b"\x01" * 7},
            "malformed ephemeral key",
            False,
            id="short-key",
        ),
        pytest.param({"version": 2}, "unsupported envelope version", True, id="version-2"),
        pytest.param({"sender": "MEX"}, "unexpected sender", True, id="sender-MEX"),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_signed_header_with_bad_fields_is_unauthenticated(
    served_pair: ServedPair, changes: dict[str, Any], reason: str, counted: bool
) -> None:
    """Panama's own key signs a header whose fields are wrong: the checks after the
    signature (audited per call) or before it (counted) still refuse."""
    panama = served_pair.panama
    envelope = _signed_with_header(panama, identify_header(panama, **changes), b"\x00" * 48)
    _refused(
        served_pair,
        envelope,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason=reason,
        counted=counted,
    )


@pytest.mark.usefixtures("serving_after")
def test_unknown_agreement_id_is_failed_precondition(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    context = dataclasses.replace(panama.link("CHL").envelope, agreement_id="CHL-PAN-FORGED")
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, context=context),
        code=grpc.StatusCode.FAILED_PRECONDITION,
        public=AGREEMENT_MISMATCH,
        reason=f"agreement id differs from ours ({chile.link('PAN').agreement.id})",
        counted=True,
    )


@pytest.mark.usefixtures("serving_after")
def test_empty_envelope_is_failed_precondition(served_pair: ServedPair) -> None:
    """An empty header names no agreement: the agreement check comes first."""
    _refused(
        served_pair,
        pb.SealedEnvelope(),
        code=grpc.StatusCode.FAILED_PRECONDITION,
        public=AGREEMENT_MISMATCH,
        reason=f"agreement id differs from ours ({served_pair.chile.link('PAN').agreement.id})",
        counted=True,
    )


@pytest.mark.usefixtures("serving_after")
def test_wrong_message_type_for_identify_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body, message_type=pb.MESSAGE_TYPE_DETAILS_REQUEST),
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason=f"unexpected message type {pb.MESSAGE_TYPE_DETAILS_REQUEST}",
    )


# --- transport: no TLS, oversize ---------------------------------------------------------


@pytest.mark.usefixtures("serving_after")
def test_plaintext_connection_fails_at_transport(served_pair: ServedPair) -> None:
    """No TLS handshake, no call: nothing reaches the servicer, so nothing is audited."""
    chile = served_pair.chile
    before = last_seq(chile)
    with grpc.insecure_channel(served_pair.servers["CHL"].endpoint) as channel:
        result = _call(pb_grpc.ExchangeStub(channel), "Identify", pb.SealedEnvelope())
    assert isinstance(result, Refusal)
    assert result.code is grpc.StatusCode.UNAVAILABLE
    assert not entries_after(chile, before, "identify.received")
    assert not entries_after(chile, before, "peer.refused")


@pytest.mark.usefixtures("serving_after")
def test_oversize_message_is_resource_exhausted_by_grpc(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    """gRPC refuses a message above MAX_MESSAGE_BYTES before our code sees it; no audit
    entry is possible (the limit is the transport's, not the agreement's)."""
    panama, chile = served_pair.panama, served_pair.chile
    valid = _sealed(
        panama, _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    )
    envelope = pb.SealedEnvelope(
        header=valid.header,
        ciphertext=valid.ciphertext + bytes(MAX_MESSAGE_BYTES),
        signature=valid.signature,
    )
    before = last_seq(chile)
    result = _call(served_pair.partner_stub(panama, chile), "Identify", envelope)
    assert isinstance(result, Refusal)
    assert result.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert re.fullmatch(
        rf"SERVER: Received message larger than max \(\d+ vs\. {MAX_MESSAGE_BYTES}\)",
        result.details,
    ), result.details
    assert not entries_after(chile, before, "identify.received")


# --- the body inside a valid envelope ------------------------------------------------------


def _template_bytes(values: list[float]) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _raw_template_probe(template: pb.Template, encountered_at_ms: int) -> pb.Probe:
    return pb.Probe(
        probe_ref="hostile-probe",
        template=template,
        scope_rule=pb.SCOPE_RULE_STANDARD,
        scope_commitment=b"c" * 32,
    )


def _with_value(index: int, value: float) -> bytes:
    values = np.full(TEMPLATE_DIM, 0.01, dtype="<f4")
    values[index] = value
    return values.tobytes()


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        pytest.param(
            pb.Template(dim=127, model_id=TEMPLATE_MODEL, values=_template_bytes([0.01] * 127)),
            "probes[0].template: expected dimension 128, got 127",
            id="dim-127",
        ),
        pytest.param(
            pb.Template(dim=129, model_id=TEMPLATE_MODEL, values=_template_bytes([0.01] * 129)),
            "probes[0].template: expected dimension 128, got 129",
            id="dim-129",
        ),
        pytest.param(
            pb.Template(dim=128, model_id=TEMPLATE_MODEL, values=_template_bytes([0.01] * 127)),
            "probes[0].template: expected 512 bytes, got 508",
            id="dim-128-with-127-values",
        ),
        pytest.param(
            pb.Template(dim=128, model_id="arcface", values=_template_bytes([0.01] * 128)),
            "probes[0].template: unsupported template model 'arcface'",
            id="other-model",
        ),
        pytest.param(
            pb.Template(dim=128, model_id=TEMPLATE_MODEL, values=_with_value(5, math.nan)),
            "probes[0].template: values must be finite (no NaN or infinity)",
            id="nan",
        ),
        pytest.param(
            pb.Template(dim=128, model_id=TEMPLATE_MODEL, values=_with_value(0, math.inf)),
            "probes[0].template: values must be finite (no NaN or infinity)",
            id="inf",
        ),
        pytest.param(
            pb.Template(dim=128, model_id=TEMPLATE_MODEL, values=_with_value(127, -math.inf)),
            "probes[0].template: values must be finite (no NaN or infinity)",
            id="minus-inf",
        ),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_bad_template_inside_a_valid_envelope_is_invalid_argument(
    served_pair: ServedPair, template: pb.Template, reason: str
) -> None:
    panama = served_pair.panama
    body = _body([_raw_template_probe(template, panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body),
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason=reason,
    )


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        pytest.param(0, "0 probes; the agreement allows 1 to 64", id="no-probe"),
        pytest.param(65, "65 probes; the agreement allows 1 to 64", id="65-probes"),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_probe_count_outside_the_agreement_is_permission_denied(
    served_pair: ServedPair, dataset: DemoDataset, count: int, reason: str
) -> None:
    panama = served_pair.panama
    template = _plain_template(dataset)
    probes = [
        _probe(template, probe_ref=f"probe-{i}", encountered_at_ms=panama.clock())
        for i in range(count)
    ]
    _refused(
        served_pair,
        _sealed(panama, _body(probes)),
        code=grpc.StatusCode.PERMISSION_DENIED,
        public=REFUSED_BY_AGREEMENT,
        reason=reason,
    )


@pytest.mark.usefixtures("serving_after")
def test_duplicate_probe_reference_is_invalid_argument(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    panama = served_pair.panama
    probe = _probe(_plain_template(dataset), probe_ref="twice", encountered_at_ms=panama.clock())
    _refused(
        served_pair,
        _sealed(panama, _body([probe, probe])),
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason="probes[1].probe_ref: duplicate reference",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"scope_rule": pb.SCOPE_RULE_UNSPECIFIED},
            "probes[0].scope_rule: no scope rule stated",
            id="no-rule",
        ),
        pytest.param(
            {"scope_rule": 99},
            "probes[0].scope_rule: no scope rule stated",
            id="unknown-rule",
        ),
        pytest.param(
            {"scope_commitment": b""},
            "probes[0].scope_commitment: 32 bytes expected",
            id="no-commitment",
        ),
        pytest.param(
            {"scope_commitment": b"c" * 4_000_000},
            "probes[0].scope_commitment: 32 bytes expected",
            id="huge-commitment",
        ),
    ],
)
def test_a_probe_without_a_valid_rule_or_commitment_is_invalid_argument(
    served_pair: ServedPair, dataset: DemoDataset, fields: dict[str, Any], reason: str
) -> None:
    panama = served_pair.panama
    probe = _probe(_plain_template(dataset), **fields)
    _refused(
        served_pair,
        _sealed(panama, _body([probe])),
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason=reason,
    )


def test_the_protection_rule_under_an_enforcement_purpose_is_permission_denied(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    """A probe about a protected person (refugee incl. XXB/XXC, asylum seeker,
    unaccompanied minor) can only be stated under the protection rule, which the
    holder refuses for a purpose the agreement does not name for it."""
    panama = served_pair.panama
    probe = _probe(_plain_template(dataset), scope_rule=pb.SCOPE_RULE_PROTECTION)
    _refused(
        served_pair,
        _sealed(panama, _body([probe], purpose="border_security")),
        code=grpc.StatusCode.PERMISSION_DENIED,
        public=REFUSED_BY_AGREEMENT,
        reason=(
            "probes[0]: scope rule 'protection' (protected categories) is only for "
            "humanitarian_protection, missing_persons"
        ),
    )


def _sightings(*sightings: pb.Sighting) -> bytes:
    return pb.SightingsRequest(sightings=sightings).SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            _sightings(
                pb.Sighting(hit_reference="HIT-x", encounter_point=CONTROL, encountered_at_ms=1)
            ),
            "sightings[0].encounter_point: must be printable text",
            id="control-point",
        ),
        pytest.param(
            _sightings(pb.Sighting(hit_reference="HIT-x", encountered_at_ms=1)),
            "sightings[0].encounter_point: required",
            id="no-point",
        ),
        pytest.param(
            _sightings(
                *(
                    pb.Sighting(hit_reference=f"HIT-{i}", encounter_point="P", encountered_at_ms=1)
                    for i in range(64 * 3 + 1)
                )
            ),
            "sightings: 1 to 192 expected, got 193",
            id="more-than-hits-can-make",
        ),
        pytest.param(b"", "sightings: 1 to 192 expected, got 0", id="empty"),
    ],
)
def test_malformed_sightings_are_invalid_argument(
    served_pair: ServedPair, body: bytes, reason: str
) -> None:
    _refused(
        served_pair,
        _sealed(served_pair.panama, body, message_type=pb.MESSAGE_TYPE_SIGHTINGS_REQUEST),
        method="ReportSightings",
        event="sightings.received",
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason=reason,
    )


def test_a_sighting_of_a_reference_not_issued_to_the_caller_is_ignored(
    served_pair: ServedPair,
) -> None:
    """Recorded: 0, whatever the reference; the caller learns nothing about it."""
    chile = served_pair.chile
    before = last_seq(chile)
    body = _sightings(
        pb.Sighting(hit_reference=SQL, encounter_point=SQL, encountered_at_ms=1),
        pb.Sighting(hit_reference="HIT-unknown", encounter_point="P", encountered_at_ms=1),
    )
    envelope = _sealed(served_pair.panama, body, message_type=pb.MESSAGE_TYPE_SIGHTINGS_REQUEST)
    result = _call(served_pair.partner_stub(served_pair.panama, chile), "ReportSightings", envelope)
    assert isinstance(result, pb.SealedEnvelope), result
    (reply,) = entries_after(chile, before, "sightings.reply_sent")
    assert (reply.detail["recorded"], reply.detail["ignored"]) == (0, 2)
    _assert_database_intact(chile)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x12\xff\xff\xff\xff\x0f", id="length-beyond-the-end"),
        pytest.param(b"\x0a\x02\xff\xfe", id="purpose-not-utf8"),
        pytest.param(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", id="bad-tag"),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_malformed_protobuf_inside_a_valid_envelope_is_invalid_argument(
    served_pair: ServedPair, body: bytes
) -> None:
    _refused(
        served_pair,
        _sealed(served_pair.panama, body),
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason="identify request: not a valid message",
    )


# --- injection strings in the text fields of a probe ---------------------------------------


def _assert_database_intact(node: Node) -> None:
    assert set(TABLES) <= node.database.tables()
    node.database.connection.execute("SELECT count(*) FROM alerts").fetchone()
    assert node.audit.verify() > 0
    result = CliRunner().invoke(app, ["audit", "verify", "--node", str(node.node_dir)])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def _evidence(node: Node) -> list[dict[str, Any]]:
    return [dict(item) for alert in node.alerts.list() for item in alert.evidence]


@dataclass(frozen=True)
class Injection:
    field: str
    value: str
    code: grpc.StatusCode
    public: str
    reason: Reason


INJECTIONS = [
    # Accepted: the string is data, stored as given by parameterized SQL.
    Injection("probe_ref", SQL, grpc.StatusCode.OK, "", None),
    # Refused.
    Injection(
        "probe_ref",
        CONTROL,
        grpc.StatusCode.INVALID_ARGUMENT,
        MALFORMED_REQUEST,
        "probes[0].probe_ref: must be 1 to 64 printable characters",
    ),
    Injection(
        "purpose",
        SQL,
        grpc.StatusCode.PERMISSION_DENIED,
        REFUSED_BY_AGREEMENT,
        f"purpose {SQL!r} is not allowed by the agreement",
    ),
    Injection(
        "purpose",
        CONTROL,
        grpc.StatusCode.INVALID_ARGUMENT,
        MALFORMED_REQUEST,
        "purpose: must be 1 to 64 printable characters",
    ),
]


@pytest.mark.parametrize(
    "injection",
    [pytest.param(i, id=f"{i.field}-{'sql' if i.value == SQL else 'control'}") for i in INJECTIONS],
)
@pytest.mark.usefixtures("serving_after")
def test_injection_strings_are_refused_or_stored_as_data(
    served_pair: ServedPair, dataset: DemoDataset, injection: Injection
) -> None:
    panama, chile = served_pair.panama, served_pair.chile
    fields: dict[str, str] = {"probe_ref": f"inject-{new_message_id()[:8]}"}
    purpose = "border_security"
    if injection.field == "purpose":
        purpose = injection.value
    else:
        fields[injection.field] = injection.value
    probe = _probe(planted_template(dataset), encountered_at_ms=panama.clock(), **fields)
    envelope = _sealed(panama, _body([probe], purpose=purpose))
    message_id = read_header(envelope).message_id
    before = last_seq(chile)
    result = _call(served_pair.partner_stub(panama, chile), "Identify", envelope)
    if injection.code is grpc.StatusCode.OK:
        assert isinstance(result, pb.SealedEnvelope), result
        accepted = [
            e
            for e in entries_after(chile, before, "identify.received")
            if e.message_id == message_id
        ]
        assert [e.outcome for e in accepted] == ["accepted"]
        key = f"PAN:{fields['probe_ref']}"
        stored = [item for item in _evidence(chile) if item.get("key") == key]
        assert stored, "the hit raised no evidence"
    else:
        assert result == Refusal(injection.code, injection.public)
        _assert_audited(chile, before, "identify.received", injection.reason, message_id=message_id)
    _assert_database_intact(chile)


# --- the other sealed methods --------------------------------------------------------------


SEALED_METHODS = [
    pytest.param(
        "RequestDetails", "details.received", pb.MESSAGE_TYPE_DETAILS_REQUEST, id="details"
    ),
    pytest.param(
        "AuditDigest", "audit_digest.received", pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST, id="digest"
    ),
    pytest.param(
        "ExchangeAggregates",
        "aggregates.received",
        pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
        id="aggregates",
    ),
]


@pytest.mark.parametrize(("method", "event", "message_type"), SEALED_METHODS)
@pytest.mark.usefixtures("serving_after")
def test_garbage_envelope_to_other_methods_is_unauthenticated(
    served_pair: ServedPair, method: str, event: str, message_type: int
) -> None:
    envelope = pb.SealedEnvelope(header=b"\xff" * 16, ciphertext=b"\x00" * 64, signature=b"\x01")
    _refused(
        served_pair,
        envelope,
        method=method,
        event=event,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason="malformed header",
        by_id=False,
        counted=True,
    )


@pytest.mark.parametrize(("method", "event", "message_type"), SEALED_METHODS)
@pytest.mark.usefixtures("serving_after")
def test_identify_envelope_to_other_methods_is_unauthenticated(
    served_pair: ServedPair, dataset: DemoDataset, method: str, event: str, message_type: int
) -> None:
    panama = served_pair.panama
    body = _body([_probe(_plain_template(dataset), encountered_at_ms=panama.clock())])
    _refused(
        served_pair,
        _sealed(panama, body),
        method=method,
        event=event,
        code=grpc.StatusCode.UNAUTHENTICATED,
        public=ENVELOPE_REJECTED,
        reason=f"unexpected message type {pb.MESSAGE_TYPE_IDENTIFY_REQUEST}",
    )


@pytest.mark.parametrize(
    ("method", "event", "message_type", "reason"),
    [
        pytest.param(
            "RequestDetails",
            "details.received",
            pb.MESSAGE_TYPE_DETAILS_REQUEST,
            "details request: not a valid message",
            id="details",
        ),
        pytest.param(
            "AuditDigest",
            "audit_digest.received",
            pb.MESSAGE_TYPE_AUDIT_DIGEST_REQUEST,
            "audit digest: malformed request",
            id="digest",
        ),
        pytest.param(
            "ExchangeAggregates",
            "aggregates.received",
            pb.MESSAGE_TYPE_AGGREGATES_REQUEST,
            "aggregates: malformed request",
            id="aggregates",
        ),
    ],
)
@pytest.mark.usefixtures("serving_after")
def test_malformed_body_to_other_methods_is_invalid_argument(
    served_pair: ServedPair,
    method: str,
    event: str,
    message_type: pb.MessageType.ValueType,
    reason: str,
) -> None:
    envelope = _sealed(served_pair.panama, b"\x12\xff\xff\xff\xff\x0f", message_type=message_type)
    _refused(
        served_pair,
        envelope,
        method=method,
        event=event,
        code=grpc.StatusCode.INVALID_ARGUMENT,
        public=MALFORMED_REQUEST,
        reason=reason,
    )


def test_audit_chain_and_tables_survive_the_hostile_traffic(served_pair: ServedPair) -> None:
    _assert_database_intact(served_pair.chile)


# --- quota flood on a pair whose agreement allows 3 probes a day ----------------------------


@dataclass
class QuotaHolder:
    chile: Served
    panama: Node


@pytest.fixture(scope="module")
def quota_holder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuotaHolder]:
    """Chile alone serving in this process, under an agreement with probes_per_day = 3."""
    workdir = tmp_path_factory.mktemp("quota")
    chile_dir, panama_dir = create_pair(workdir)
    amend_pair_agreement(
        chile_dir, panama_dir, lambda terms: terms["quotas"].update(probes_per_day=QUOTA)
    )
    chile, panama = Node.open(chile_dir), Node.open(panama_dir)
    try:
        with serving(chile) as served:
            yield QuotaHolder(served, panama)
    finally:
        chile.database.close()
        panama.database.close()


def test_quota_flood_is_resource_exhausted_and_audited(
    quota_holder: QuotaHolder, dataset: DemoDataset
) -> None:
    chile, panama = quota_holder.chile.node, quota_holder.panama
    assert chile.link("PAN").terms.quotas.probes_per_day == QUOTA
    with secure_channel(panama, quota_holder.chile) as channel:
        _flood(quota_holder.chile, panama, pb_grpc.ExchangeStub(channel), dataset)


def _flood(served: Served, panama: Node, stub: pb_grpc.ExchangeStub, dataset: DemoDataset) -> None:
    chile = served.node
    template = _plain_template(dataset)
    statuses: list[grpc.StatusCode] = []
    refused_ids: list[str] = []
    before = last_seq(chile)
    for number in range(QUOTA + 5):
        probe = _probe(
            recaptured(template, number),
            probe_ref=f"flood-{number}",
            encountered_at_ms=panama.clock(),
        )
        envelope = _sealed(panama, _body([probe]))
        result = _call(stub, "Identify", envelope)
        if isinstance(result, Refusal):
            assert result.details == QUOTA_EXHAUSTED
            statuses.append(result.code)
            refused_ids.append(read_header(envelope).message_id)
        else:
            statuses.append(grpc.StatusCode.OK)
    assert statuses == [grpc.StatusCode.OK] * QUOTA + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 5
    for message_id in refused_ids:
        _assert_audited(
            chile,
            before,
            "identify.received",
            f"daily quota probes_received for PAN: {QUOTA} of {QUOTA} used, 1 more asked",
            message_id=message_id,
        )
    accepted = [
        e for e in entries_after(chile, before, "identify.received") if e.outcome == "accepted"
    ]
    assert len(accepted) == QUOTA
    # Still serving: health answers, and a call is refused for the quota, not by a failure.
    assert health(served) == "SERVING"
    probe = _probe(template, probe_ref="after-flood", encountered_at_ms=panama.clock())
    assert _call(stub, "Identify", _sealed(panama, _body([probe]))) == Refusal(
        grpc.StatusCode.RESOURCE_EXHAUSTED, QUOTA_EXHAUSTED
    )
    pong = stub.Ping(
        pb.PingRequest(
            sender="PAN",
            agreement_hash=panama.link("CHL").agreement.hash,
            sent_at_ms=panama.clock(),
        ),
        timeout=15,
    )
    assert pong.party == "CHL" and pong.agreement_matches
    _assert_database_intact(chile)
