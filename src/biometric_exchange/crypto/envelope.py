"""Sealed envelopes: the only form a request or reply takes on the wire.

Recipe: an ephemeral X25519 key agrees a secret with the recipient's pinned
X25519 key; HKDF-SHA256 derives an AES-256-GCM key; the serialized clear
header is the associated data; the sender's Ed25519 key signs a domain label,
the header and the ciphertext. ``open_envelope`` checks, in order: header
form, version, sender and recipient, agreement, signature, message type and
reply binding, the ±5 minute time window, decryption, and finally that the
message id was never seen. Every failure raises ``InvalidEnvelope``; its
``reason`` is for the receiver's audit log only.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError

from biometric_exchange.crypto.keys import key_id, raw_public
from biometric_exchange.exceptions import InvalidEnvelope
from biometric_exchange.v1 import exchange_pb2 as pb

ENVELOPE_VERSION = 1
TIME_WINDOW_MS = 5 * 60 * 1000
NONCE_BYTES = 12
KEY_BYTES = 32
HKDF_INFO = b"biometric-exchange/v1/envelope-key"
SIGNATURE_LABEL = b"biometric-exchange/v1/envelope-signature\x00"
_MESSAGE_ID = re.compile(r"^[0-9a-f]{32}$")


class ReplayGuard(Protocol):
    """Remembers message ids; ``remember`` is False when the id was seen before."""

    def remember(self, message_id: str, sender: str, created_at_ms: int) -> bool: ...


class MemoryReplayGuard:
    """A replay guard for one process (simulations and unit tests)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()

    def remember(self, message_id: str, sender: str, created_at_ms: int) -> bool:
        key = (sender, message_id)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


@dataclass(frozen=True)
class EnvelopeContext:
    """One party's view of one agreement: its own private keys, the partner's pins.

    The raw public keys and our key id that every envelope names are derived
    once, when the context is made."""

    agreement_id: str
    agreement_hash: str
    own_party: str
    partner_party: str
    own_signing_key: Ed25519PrivateKey
    own_kex_key: X25519PrivateKey
    partner_signing_public: Ed25519PublicKey
    partner_kex_public: X25519PublicKey
    own_key_id: str = field(init=False, repr=False)
    own_kex_raw: bytes = field(init=False, repr=False)
    partner_kex_raw: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "own_key_id", key_id(self.own_signing_key.public_key()))
        object.__setattr__(self, "own_kex_raw", raw_public(self.own_kex_key.public_key()))
        object.__setattr__(self, "partner_kex_raw", raw_public(self.partner_kex_public))


@dataclass(frozen=True)
class OpenedEnvelope:
    header: pb.EnvelopeHeader
    body: bytes


def new_message_id() -> str:
    return secrets.token_hex(16)


def _derive_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=HKDF_INFO + ephemeral_public + recipient_public,
    ).derive(shared)


def _signed_bytes(header: bytes, ciphertext: bytes) -> bytes:
    return SIGNATURE_LABEL + len(header).to_bytes(4, "big") + header + ciphertext


def seal(
    context: EnvelopeContext,
    message_type: pb.MessageType.ValueType,
    body: bytes,
    *,
    now_ms: int,
    in_reply_to: str = "",
    message_id: str | None = None,
) -> pb.SealedEnvelope:
    """Encrypt ``body`` to the partner and sign it with our key."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = raw_public(ephemeral.public_key())
    key = _derive_key(
        ephemeral.exchange(context.partner_kex_public), ephemeral_public, context.partner_kex_raw
    )
    header = pb.EnvelopeHeader(
        version=ENVELOPE_VERSION,
        agreement_id=context.agreement_id,
        agreement_hash=context.agreement_hash,
        sender=context.own_party,
        recipient=context.partner_party,
        message_id=message_id or new_message_id(),
        message_type=message_type,
        created_at_ms=now_ms,
        ephemeral_public_key=ephemeral_public,
        nonce=secrets.token_bytes(NONCE_BYTES),
        in_reply_to=in_reply_to,
        sender_key_id=context.own_key_id,
    )
    header_bytes = header.SerializeToString(deterministic=True)
    ciphertext = AESGCM(key).encrypt(header.nonce, body, header_bytes)
    signature = context.own_signing_key.sign(_signed_bytes(header_bytes, ciphertext))
    return pb.SealedEnvelope(header=header_bytes, ciphertext=ciphertext, signature=signature)


def read_header(envelope: pb.SealedEnvelope) -> pb.EnvelopeHeader:
    """Parse the clear header without trusting it (for logging and routing)."""
    header = pb.EnvelopeHeader()
    try:
        header.ParseFromString(envelope.header)
    except DecodeError as exc:
        raise InvalidEnvelope("malformed header") from exc
    return header


def _check_addressing(context: EnvelopeContext, header: pb.EnvelopeHeader) -> None:
    if header.version != ENVELOPE_VERSION:
        raise InvalidEnvelope("unsupported envelope version")
    if not _MESSAGE_ID.match(header.message_id):
        raise InvalidEnvelope("malformed message id")
    if header.sender != context.partner_party:
        raise InvalidEnvelope("unexpected sender")
    if header.recipient != context.own_party:
        raise InvalidEnvelope("wrong recipient")
    if header.agreement_id != context.agreement_id:
        raise InvalidEnvelope("agreement id differs")
    if header.agreement_hash != context.agreement_hash:
        raise InvalidEnvelope("agreement hash differs")


def _decrypt(
    context: EnvelopeContext, header: pb.EnvelopeHeader, envelope: pb.SealedEnvelope
) -> bytes:
    if len(header.nonce) != NONCE_BYTES:
        raise InvalidEnvelope("malformed nonce")
    try:
        ephemeral = X25519PublicKey.from_public_bytes(header.ephemeral_public_key)
        shared = context.own_kex_key.exchange(ephemeral)
    except ValueError as exc:
        raise InvalidEnvelope("malformed ephemeral key") from exc
    key = _derive_key(shared, header.ephemeral_public_key, context.own_kex_raw)
    try:
        return AESGCM(key).decrypt(header.nonce, envelope.ciphertext, envelope.header)
    except InvalidTag as exc:
        raise InvalidEnvelope("decryption failed") from exc


def open_envelope(
    context: EnvelopeContext,
    envelope: pb.SealedEnvelope,
    *,
    now_ms: int,
    replay_guard: ReplayGuard,
    expected_type: pb.MessageType.ValueType,
    expected_in_reply_to: str = "",
) -> OpenedEnvelope:
    """Verify and decrypt an envelope from the partner, or raise InvalidEnvelope."""
    opened = verify_and_decrypt(
        context,
        envelope,
        now_ms=now_ms,
        expected_type=expected_type,
        expected_in_reply_to=expected_in_reply_to,
    )
    check_fresh(replay_guard, opened.header)
    return opened


def check_fresh(replay_guard: ReplayGuard, header: pb.EnvelopeHeader) -> None:
    """The last step of opening: the message id was never seen (it is remembered now)."""
    if not replay_guard.remember(header.message_id, header.sender, header.created_at_ms):
        raise InvalidEnvelope("replayed message id")


def verify_and_decrypt(
    context: EnvelopeContext,
    envelope: pb.SealedEnvelope,
    *,
    now_ms: int,
    expected_type: pb.MessageType.ValueType,
    expected_in_reply_to: str = "",
) -> OpenedEnvelope:
    """Every step of opening but the replay check, which the caller makes with
    ``check_fresh`` (inside the transaction that records the message)."""
    header = read_header(envelope)
    authenticate(context, envelope, header)
    return decrypt_authenticated(
        context,
        envelope,
        header,
        now_ms=now_ms,
        expected_type=expected_type,
        expected_in_reply_to=expected_in_reply_to,
    )


def authenticate(
    context: EnvelopeContext, envelope: pb.SealedEnvelope, header: pb.EnvelopeHeader
) -> None:
    """The addressing of ``header`` (read from ``envelope``) and the partner's
    signature. Its refusal reasons are fixed: they quote no header field."""
    _check_addressing(context, header)
    try:
        context.partner_signing_public.verify(
            envelope.signature, _signed_bytes(envelope.header, envelope.ciphertext)
        )
    except InvalidSignature as exc:
        raise InvalidEnvelope("bad signature") from exc


def decrypt_authenticated(
    context: EnvelopeContext,
    envelope: pb.SealedEnvelope,
    header: pb.EnvelopeHeader,
    *,
    now_ms: int,
    expected_type: pb.MessageType.ValueType,
    expected_in_reply_to: str = "",
) -> OpenedEnvelope:
    """The steps after ``authenticate``: type, reply binding, time window, decryption."""
    if header.message_type != expected_type:
        raise InvalidEnvelope(f"unexpected message type {header.message_type}")
    if header.in_reply_to != expected_in_reply_to:
        raise InvalidEnvelope("reply does not answer the request")
    skew = abs(now_ms - header.created_at_ms)
    if skew > TIME_WINDOW_MS:
        raise InvalidEnvelope(f"timestamp outside the window by {skew // 1000} s")
    body = _decrypt(context, header, envelope)
    return OpenedEnvelope(header, body)
