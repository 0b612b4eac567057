"""What the receiving node refuses: forged envelopes and foreign peers (both nodes
serve in this process, real gRPC over real mutual TLS)."""

from __future__ import annotations

import dataclasses

import grpc
import pytest

from biometric_exchange.crypto import pki
from biometric_exchange.crypto.envelope import EnvelopeContext, read_header, seal
from biometric_exchange.node.runtime import Node
from biometric_exchange.serde.identify import IdentifyQuery, identify_request_to_bytes
from biometric_exchange.synthetic import DemoDataset
from biometric_exchange.v1 import exchange_pb2 as pb
from biometric_exchange.v1 import exchange_pb2_grpc as pb_grpc
from tests.integration.conftest import ServedPair
from tests.probes import probe

FIVE_MINUTES_MS = 5 * 60 * 1000


def _request_body(dataset: DemoDataset, purpose: str = "border_security") -> bytes:
    encounter = dataset.encounters["PAN"][0]
    probes = (probe("probe-under-test", encounter.template),)
    return identify_request_to_bytes(IdentifyQuery(purpose, probes, 3))


def _sealed(panama: Node, body: bytes, context: EnvelopeContext | None = None) -> pb.SealedEnvelope:
    return seal(
        context or panama.link("CHL").envelope,
        pb.MESSAGE_TYPE_IDENTIFY_REQUEST,
        body,
        now_ms=panama.clock(),
    )


def _refusal_reason(pair: ServedPair, envelope: pb.SealedEnvelope) -> str:
    """Call CHL as PAN; expect UNAUTHENTICATED; return the reason CHL audited."""
    stub = pair.partner_stub(pair.panama, pair.chile)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Identify(envelope, timeout=10)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.details() == "envelope rejected"
    claimed = read_header(envelope).message_id
    entries = [
        e
        for e in pair.chile.audit.entries()
        if e.event == "identify.received"
        and e.outcome == "rejected"
        and e.detail.get("claimed_message_id") == claimed
    ]
    assert len(entries) >= 1
    return str(entries[-1].detail["reason"])


def test_tampered_ciphertext_is_refused_and_audited(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    envelope = _sealed(served_pair.panama, _request_body(dataset))
    tampered = bytearray(envelope.ciphertext)
    tampered[10] ^= 0x01
    envelope.ciphertext = bytes(tampered)
    assert _refusal_reason(served_pair, envelope) == "bad signature"


def test_replayed_envelope_is_refused_and_audited(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    envelope = _sealed(served_pair.panama, _request_body(dataset))
    stub = served_pair.partner_stub(served_pair.panama, served_pair.chile)
    reply = stub.Identify(envelope, timeout=10)
    assert read_header(reply).in_reply_to == read_header(envelope).message_id
    assert _refusal_reason(served_pair, envelope) == "replayed message id"


def test_wrong_recipient_is_refused_and_audited(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    context = dataclasses.replace(served_pair.panama.link("CHL").envelope, partner_party="MEX")
    envelope = _sealed(served_pair.panama, _request_body(dataset), context)
    assert _refusal_reason(served_pair, envelope) == "wrong recipient"


def test_stale_timestamp_is_refused_and_audited(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    context = served_pair.panama.link("CHL").envelope
    stale_ms = served_pair.panama.clock() - FIVE_MINUTES_MS - 60_000
    envelope = seal(
        context, pb.MESSAGE_TYPE_IDENTIFY_REQUEST, _request_body(dataset), now_ms=stale_ms
    )
    assert _refusal_reason(served_pair, envelope).startswith("timestamp outside the window")


def _call_identify(endpoint: str, credentials: grpc.ChannelCredentials) -> grpc.StatusCode:
    with grpc.secure_channel(
        endpoint, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
    ) as channel:
        stub = pb_grpc.ExchangeStub(channel)
        try:
            stub.Identify(pb.SealedEnvelope(), timeout=5)
        except grpc.RpcError as exc:
            code: grpc.StatusCode = exc.code()
            return code
    return grpc.StatusCode.OK


def test_client_without_certificate_cannot_call_identify(served_pair: ServedPair) -> None:
    chile = served_pair.chile
    credentials = grpc.ssl_channel_credentials(root_certificates=chile.keys.ca_certificate_pem)
    endpoint = served_pair.servers["CHL"].endpoint
    assert _call_identify(endpoint, credentials) is grpc.StatusCode.UNAVAILABLE


def test_client_from_another_ca_cannot_call_identify(served_pair: ServedPair) -> None:
    chile = served_pair.chile
    foreign_ca = pki.create_ca("MEX")
    foreign = pki.issue_node_certificate(foreign_ca, "node_mexico", "MEX")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=chile.keys.ca_certificate_pem,
        private_key=foreign.key_pem(),
        certificate_chain=foreign.certificate_pem(),
    )
    endpoint = served_pair.servers["CHL"].endpoint
    assert _call_identify(endpoint, credentials) is grpc.StatusCode.UNAVAILABLE


def test_own_operators_certificate_cannot_call_identify(served_pair: ServedPair) -> None:
    """Chile's CA is trusted for health probes, but only Panama may exchange."""
    chile = served_pair.chile
    stub = served_pair.partner_stub(chile, chile)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Identify(pb.SealedEnvelope(), timeout=5)
    assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.details() == "peer not authorized"
    refusals = [e for e in chile.audit.entries() if e.event == "peer.refused"]
    assert refusals and refusals[-1].detail["method"] == "Identify"


def _status_of(pair: ServedPair, envelope: pb.SealedEnvelope) -> tuple[grpc.StatusCode, str]:
    stub = pair.partner_stub(pair.panama, pair.chile)
    with pytest.raises(grpc.RpcError) as raised:
        stub.Identify(envelope, timeout=10)
    return raised.value.code(), raised.value.details() or ""


def test_purpose_outside_the_agreement_is_permission_denied(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    envelope = _sealed(served_pair.panama, _request_body(dataset, purpose="tourism"))
    code, details = _status_of(served_pair, envelope)
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert details == "request refused by the agreement"  # the reason stays in the audit log
    entry = served_pair.chile.audit.entries()[-1]
    assert entry.outcome == "rejected"
    assert entry.detail["reason"] == "purpose 'tourism' is not allowed by the agreement"


def test_another_agreement_hash_is_failed_precondition(
    served_pair: ServedPair, dataset: DemoDataset
) -> None:
    context = dataclasses.replace(served_pair.panama.link("CHL").envelope, agreement_hash="f" * 64)
    envelope = _sealed(served_pair.panama, _request_body(dataset), context)
    code, details = _status_of(served_pair, envelope)
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert details == "agreement mismatch"
    assert (
        served_pair.chile.audit.entries()[-1].detail["reason"] == "agreement hash differs from ours"
    )
