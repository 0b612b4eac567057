"""Unit tests of sealed envelopes (biometric_exchange.crypto.envelope)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from biometric_exchange.crypto.envelope import (
    TIME_WINDOW_MS,
    EnvelopeContext,
    MemoryReplayGuard,
    OpenedEnvelope,
    _signed_bytes,
    open_envelope,
    seal,
)
from biometric_exchange.exceptions import InvalidEnvelope
from biometric_exchange.v1 import exchange_pb2 as pb

NOW_MS = 1_760_000_000_000
AGREEMENT_ID = "AGR-CHL-PAN-TEST"
AGREEMENT_HASH = "ab" * 32
BODY = b"identify request body"
REQUEST = pb.MESSAGE_TYPE_IDENTIFY_REQUEST
RESPONSE = pb.MESSAGE_TYPE_IDENTIFY_RESPONSE
PUBLIC_MESSAGE = "envelope rejected"


@dataclasses.dataclass(frozen=True)
class Pair:
    """Both parties' views of one agreement."""

    chl: EnvelopeContext
    pan: EnvelopeContext


def make_pair() -> Pair:
    chl_signing, pan_signing = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    chl_kex, pan_kex = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    chl = EnvelopeContext(
        agreement_id=AGREEMENT_ID,
        agreement_hash=AGREEMENT_HASH,
        own_party="CHL",
        partner_party="PAN",
        own_signing_key=chl_signing,
        own_kex_key=chl_kex,
        partner_signing_public=pan_signing.public_key(),
        partner_kex_public=pan_kex.public_key(),
    )
    pan = EnvelopeContext(
        agreement_id=AGREEMENT_ID,
        agreement_hash=AGREEMENT_HASH,
        own_party="PAN",
        partner_party="CHL",
        own_signing_key=pan_signing,
        own_kex_key=pan_kex,
        partner_signing_public=chl_signing.public_key(),
        partner_kex_public=chl_kex.public_key(),
    )
    return Pair(chl, pan)


@functools.cache
def shared_pair() -> Pair:
    """One pair for the property test (hypothesis dislikes function-scoped fixtures)."""
    return make_pair()


@pytest.fixture
def pair() -> Pair:
    return make_pair()


def open_as_pan(
    pair: Pair,
    envelope: pb.SealedEnvelope,
    *,
    now_ms: int = NOW_MS,
    guard: MemoryReplayGuard | None = None,
    expected_type: pb.MessageType.ValueType = REQUEST,
    expected_in_reply_to: str = "",
) -> OpenedEnvelope:
    return open_envelope(
        pair.pan,
        envelope,
        now_ms=now_ms,
        replay_guard=guard if guard is not None else MemoryReplayGuard(),
        expected_type=expected_type,
        expected_in_reply_to=expected_in_reply_to,
    )


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def copy_with(envelope: pb.SealedEnvelope, **fields: bytes) -> pb.SealedEnvelope:
    copy = pb.SealedEnvelope()
    copy.CopyFrom(envelope)
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


def header_of(envelope: pb.SealedEnvelope) -> pb.EnvelopeHeader:
    header = pb.EnvelopeHeader()
    header.ParseFromString(envelope.header)
    return header


def resign(key: Ed25519PrivateKey, header: bytes, ciphertext: bytes) -> pb.SealedEnvelope:
    """An envelope the sender really signed, whatever its header and ciphertext hold."""
    return pb.SealedEnvelope(
        header=header, ciphertext=ciphertext, signature=key.sign(_signed_bytes(header, ciphertext))
    )


def refusal(open_it: Callable[[], object]) -> InvalidEnvelope:
    with pytest.raises(InvalidEnvelope) as caught:
        open_it()
    return caught.value


# --- the happy path ------------------------------------------------------------------


def test_round_trip_recovers_body_and_header(pair: Pair) -> None:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    opened = open_as_pan(pair, envelope)
    assert opened.body == BODY
    assert opened.header.sender == "CHL"
    assert opened.header.recipient == "PAN"
    assert opened.header.agreement_id == AGREEMENT_ID
    assert opened.header.created_at_ms == NOW_MS
    assert len(opened.header.message_id) == 32
    assert BODY not in envelope.ciphertext


def test_reply_round_trip_is_bound_to_its_request(pair: Pair) -> None:
    request = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    request_id = open_as_pan(pair, request).header.message_id
    reply = seal(pair.pan, RESPONSE, b"reply", now_ms=NOW_MS, in_reply_to=request_id)
    opened = open_envelope(
        pair.chl,
        reply,
        now_ms=NOW_MS,
        replay_guard=MemoryReplayGuard(),
        expected_type=RESPONSE,
        expected_in_reply_to=request_id,
    )
    assert opened.body == b"reply"
    assert opened.header.in_reply_to == request_id


def test_each_seal_uses_fresh_ephemeral_key_nonce_and_id(pair: Pair) -> None:
    first = header_of(seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS))
    second = header_of(seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS))
    assert first.ephemeral_public_key != second.ephemeral_public_key
    assert first.nonce != second.nonce
    assert first.message_id != second.message_id


@pytest.mark.parametrize("offset_ms", [-TIME_WINDOW_MS, TIME_WINDOW_MS])
def test_timestamp_exactly_at_the_window_edge_is_accepted(pair: Pair, offset_ms: int) -> None:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS + offset_ms)
    assert open_as_pan(pair, envelope).body == BODY


# --- every refusal -------------------------------------------------------------------

RefusalCase = Callable[[Pair], InvalidEnvelope]


def _tampered_ciphertext(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(
        lambda: open_as_pan(pair, copy_with(envelope, ciphertext=flip(envelope.ciphertext, 0)))
    )


def _tampered_ciphertext_resigned(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    forged = resign(pair.chl.own_signing_key, envelope.header, flip(envelope.ciphertext, 3))
    return refusal(lambda: open_as_pan(pair, forged))


def _tampered_header(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    header = header_of(envelope)
    header.created_at_ms += 1
    changed = header.SerializeToString(deterministic=True)
    return refusal(lambda: open_as_pan(pair, copy_with(envelope, header=changed)))


def _tampered_header_resigned(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    header = header_of(envelope)
    header.created_at_ms += 1
    changed = header.SerializeToString(deterministic=True)
    forged = resign(pair.chl.own_signing_key, changed, envelope.ciphertext)
    return refusal(lambda: open_as_pan(pair, forged))


def _tampered_signature(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(
        lambda: open_as_pan(pair, copy_with(envelope, signature=flip(envelope.signature, 10)))
    )


def _wrong_recipient(pair: Pair) -> InvalidEnvelope:
    to_argentina = dataclasses.replace(pair.chl, partner_party="ARG")
    envelope = seal(to_argentina, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope))


def _unexpected_sender(pair: Pair) -> InvalidEnvelope:
    from_peru = dataclasses.replace(pair.chl, own_party="PER")
    envelope = seal(from_peru, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope))


def _unpinned_sender_key(pair: Pair) -> InvalidEnvelope:
    impostor = dataclasses.replace(pair.chl, own_signing_key=Ed25519PrivateKey.generate())
    envelope = seal(impostor, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope))


def _stale_timestamp(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS - TIME_WINDOW_MS - 1)
    return refusal(lambda: open_as_pan(pair, envelope))


def _future_timestamp(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS + TIME_WINDOW_MS + 1_000)
    return refusal(lambda: open_as_pan(pair, envelope))


def _replayed(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    guard = MemoryReplayGuard()
    open_as_pan(pair, envelope, guard=guard)
    return refusal(lambda: open_as_pan(pair, envelope, guard=guard))


def _wrong_message_type(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope, expected_type=RESPONSE))


def _reply_to_another_request(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, RESPONSE, BODY, now_ms=NOW_MS, in_reply_to="1" * 32)
    return refusal(
        lambda: open_as_pan(pair, envelope, expected_type=RESPONSE, expected_in_reply_to="2" * 32)
    )


def _request_posing_as_reply(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS, in_reply_to="1" * 32)
    return refusal(lambda: open_as_pan(pair, envelope))


def _other_agreement_id(pair: Pair) -> InvalidEnvelope:
    other = dataclasses.replace(pair.chl, agreement_id="AGR-OTHER")
    envelope = seal(other, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope))


def _other_agreement_hash(pair: Pair) -> InvalidEnvelope:
    other = dataclasses.replace(pair.chl, agreement_hash="cd" * 32)
    envelope = seal(other, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, envelope))


def _garbage_header(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, copy_with(envelope, header=b"\xff\xfenot a header")))


def _empty_header(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    return refusal(lambda: open_as_pan(pair, copy_with(envelope, header=b"")))


def _malformed_message_id(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS, message_id="not-a-hex-id")
    return refusal(lambda: open_as_pan(pair, envelope))


def _short_nonce_resigned(pair: Pair) -> InvalidEnvelope:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    header = header_of(envelope)
    header.nonce = header.nonce[:8]
    changed = header.SerializeToString(deterministic=True)
    forged = resign(pair.chl.own_signing_key, changed, envelope.ciphertext)
    return refusal(lambda: open_as_pan(pair, forged))


REFUSALS: dict[str, tuple[RefusalCase, str]] = {
    "tampered ciphertext": (_tampered_ciphertext, r"^bad signature$"),
    "tampered ciphertext, re-signed": (_tampered_ciphertext_resigned, r"^decryption failed$"),
    "tampered header": (_tampered_header, r"^bad signature$"),
    "tampered header, re-signed": (_tampered_header_resigned, r"^decryption failed$"),
    "tampered signature": (_tampered_signature, r"^bad signature$"),
    "wrong recipient": (_wrong_recipient, r"^wrong recipient$"),
    "unexpected sender": (_unexpected_sender, r"^unexpected sender$"),
    "unpinned sender key": (_unpinned_sender_key, r"^bad signature$"),
    "stale timestamp": (_stale_timestamp, r"^timestamp outside the window by 300 s$"),
    "future timestamp": (_future_timestamp, r"^timestamp outside the window by 301 s$"),
    "replayed message id": (_replayed, r"^replayed message id$"),
    "wrong message type": (_wrong_message_type, rf"^unexpected message type {REQUEST}$"),
    "reply to another request": (_reply_to_another_request, r"^reply does not answer"),
    "request posing as reply": (_request_posing_as_reply, r"^reply does not answer"),
    "other agreement id": (_other_agreement_id, r"^agreement id differs$"),
    "other agreement hash": (_other_agreement_hash, r"^agreement hash differs$"),
    "garbage header": (_garbage_header, r"^malformed header$"),
    "empty header": (_empty_header, r"^unsupported envelope version$"),
    "malformed message id": (_malformed_message_id, r"^malformed message id$"),
    "short nonce, re-signed": (_short_nonce_resigned, r"^malformed nonce$"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusal_names_its_reason_for_the_audit_log(pair: Pair, case: str) -> None:
    make_refusal, reason = REFUSALS[case]
    exc = make_refusal(pair)
    assert isinstance(exc.reason, str)
    assert re.search(reason, exc.reason), f"{case}: reason was {exc.reason!r}"


def test_public_message_is_the_same_fixed_text_for_every_cause(pair: Pair) -> None:
    refusals = [make_refusal(pair) for make_refusal, _ in REFUSALS.values()]
    assert {str(exc) for exc in refusals} == {PUBLIC_MESSAGE}
    assert {exc.args for exc in refusals} == {(PUBLIC_MESSAGE,)}
    assert len({exc.reason for exc in refusals}) >= 10, "the audit log tells causes apart"
    for exc in refusals:
        assert exc.reason not in str(exc)


def test_refused_envelope_does_not_consume_its_message_id(pair: Pair) -> None:
    guard = MemoryReplayGuard()
    genuine = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    bad_signature = copy_with(genuine, ciphertext=flip(genuine.ciphertext, 0))
    undecryptable = resign(pair.chl.own_signing_key, genuine.header, flip(genuine.ciphertext, 0))

    assert refusal(lambda: open_as_pan(pair, bad_signature, guard=guard)).reason == "bad signature"
    assert refusal(lambda: open_as_pan(pair, undecryptable, guard=guard)).reason == (
        "decryption failed"
    )
    assert refusal(
        lambda: open_as_pan(pair, genuine, guard=guard, expected_type=RESPONSE)
    ).reason.startswith("unexpected message type")

    assert open_as_pan(pair, genuine, guard=guard).body == BODY
    assert refusal(lambda: open_as_pan(pair, genuine, guard=guard)).reason == (
        "replayed message id"
    )


def test_memory_replay_guard_keys_ids_by_sender(pair: Pair) -> None:
    message_id = "0123456789abcdef" * 2
    guard = MemoryReplayGuard()
    to_pan = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS, message_id=message_id)
    assert open_as_pan(pair, to_pan, guard=guard).header.message_id == message_id
    assert guard.remember(message_id, "PAN", NOW_MS) is True
    assert guard.remember(message_id, "PAN", NOW_MS) is False


def test_envelope_cannot_be_opened_by_its_sender(pair: Pair) -> None:
    envelope = seal(pair.chl, REQUEST, BODY, now_ms=NOW_MS)
    exc = refusal(
        lambda: open_envelope(
            pair.chl,
            envelope,
            now_ms=NOW_MS,
            replay_guard=MemoryReplayGuard(),
            expected_type=REQUEST,
        )
    )
    assert exc.reason == "unexpected sender"


# --- property: any single-byte change is refused -------------------------------------


@functools.cache
def sealed_once() -> pb.SealedEnvelope:
    return seal(shared_pair().chl, REQUEST, BODY, now_ms=NOW_MS)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(["header", "ciphertext", "signature"]),
    position=st.floats(min_value=0, max_value=1, exclude_max=True),
    mask=st.integers(min_value=1, max_value=255),
)
def test_flipping_any_single_byte_makes_opening_fail(
    field: str, position: float, mask: int
) -> None:
    genuine = sealed_once()
    original: bytes = getattr(genuine, field)
    index = int(position * len(original))
    tampered = copy_with(genuine, **{field: flip(original, index, mask)})
    with pytest.raises(InvalidEnvelope, match=f"^{PUBLIC_MESSAGE}$"):
        open_as_pan(shared_pair(), tampered)
    # The genuine envelope still opens (with a fresh guard): the failure is the flip's.
    assert open_as_pan(shared_pair(), genuine).body == BODY
