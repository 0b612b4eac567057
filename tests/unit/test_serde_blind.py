"""Blind step 1 on the wire: round trips, refusals of malformed messages, and nothing
continuous in what the holder sends back."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from biometric_exchange.agreement.terms import ScopeRule
from biometric_exchange.blind.public import ContextBlob, EncryptedProbe
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.node.ledger import disclosure_of
from biometric_exchange.serde.blind import (
    BlindAnswer,
    BlindClaims,
    BlindProbeIn,
    BlindQuery,
    blind_answer_from_bytes,
    blind_answer_to_bytes,
    blind_request_from_bytes,
    blind_request_to_bytes,
    claims_from_bytes,
    claims_to_bytes,
    reveal_reply_from_bytes,
    reveal_reply_to_bytes,
)
from biometric_exchange.serde.identify import HitOut
from biometric_exchange.v1 import exchange_pb2 as pb

CONTEXT = ContextBlob("ckks-test", b"public", b"galois")
PROBE = BlindProbeIn("PRB-1", ScopeRule.STANDARD, bytes(32), EncryptedProbe(b"tt", b"nn"))
NUMERIC = {
    FieldDescriptor.TYPE_FLOAT,
    FieldDescriptor.TYPE_DOUBLE,
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
}


@pytest.mark.parametrize("context", [CONTEXT, None])
def test_a_blind_request_round_trips(context: ContextBlob | None) -> None:
    query = BlindQuery("border_security", 3, CONTEXT.digest, context, (PROBE,))
    assert blind_request_from_bytes(blind_request_to_bytes(query)) == query


def test_replies_claims_and_results_round_trip() -> None:
    answer = BlindAnswer(round_id="r1", blocks={"PRB-1": (b"a", b"b")}, max_hits=3)
    assert blind_answer_from_bytes(blind_answer_to_bytes(answer)) == answer
    asking = BlindAnswer(context_required=True)
    assert blind_answer_from_bytes(blind_answer_to_bytes(asking)) == asking
    claims = BlindClaims("r1", {"PRB-1": (5, 4096)})
    assert claims_from_bytes(claims_to_bytes(claims)) == claims
    results = {"PRB-1": [HitOut("HIT-abc", "arrest_warrant")], "PRB-2": []}
    assert reveal_reply_from_bytes(reveal_reply_to_bytes(results)) == results


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (BlindQuery("p", 3, "not hex", None, (PROBE,)), "context_digest"),
        (BlindQuery("p", 3, CONTEXT.digest, None, (PROBE, PROBE)), "duplicate"),
        (
            BlindQuery(
                "p",
                3,
                CONTEXT.digest,
                None,
                (BlindProbeIn("PRB-1", ScopeRule.STANDARD, b"x", PROBE.encrypted),),
            ),
            "scope_commitment",
        ),
        (
            BlindQuery(
                "p",
                3,
                CONTEXT.digest,
                None,
                (BlindProbeIn("PRB-1", ScopeRule.STANDARD, bytes(32), EncryptedProbe(b"", b"n")),),
            ),
            "encrypted_template",
        ),
    ],
)
def test_malformed_blind_requests_are_refused(query: BlindQuery, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        blind_request_from_bytes(blind_request_to_bytes(query))


def test_garbage_and_oversized_claims_are_refused() -> None:
    with pytest.raises(InvalidInput):
        claims_from_bytes(b"\xff\xff\xff")
    with pytest.raises(InvalidInput, match="at most"):
        claims_from_bytes(claims_to_bytes(BlindClaims("r1", {"PRB-1": tuple(range(65))})))


def _fields(root: Descriptor) -> list[FieldDescriptor]:
    found, pending = [], [root]
    while pending:
        descriptor = pending.pop()
        for field in descriptor.fields:
            found.append(field)
            if field.message_type is not None:
                pending.append(field.message_type)
    return found


def test_what_the_holder_sends_back_has_no_score() -> None:
    """Nothing continuous in clear: the decisions are masked ciphertexts; the one
    count is the limit on claims."""
    for reply in (pb.BlindIdentifyResponse.DESCRIPTOR, pb.BlindRevealResponse.DESCRIPTOR):
        numeric = [f.name for f in _fields(reply) if f.type in NUMERIC]
        assert numeric in ([], ["max_hits"])
    blocks = pb.BlindProbeReply.DESCRIPTOR.fields_by_name["blocks"]
    assert disclosure_of(blocks) == "masked_decisions"
    probe = pb.BlindProbe.DESCRIPTOR.fields_by_name
    assert disclosure_of(probe["encrypted_template"]) == "encrypted_biometric"
    assert disclosure_of(probe["encrypted_norm"]) == "encrypted_biometric"
    assert "secret_key" not in pb.BlindContext.DESCRIPTOR.fields_by_name
