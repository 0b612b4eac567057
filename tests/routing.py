"""A small federation for the router's tests, and the attempt to open what a router
forwards with everything the router holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from biometric_exchange.crypto.envelope import EnvelopeContext, read_header, verify_and_decrypt
from biometric_exchange.crypto.keys import load_keys
from biometric_exchange.exceptions import InvalidEnvelope
from biometric_exchange.federation import parse_federation
from biometric_exchange.federation.generate import FederationFolders, generate
from biometric_exchange.synthetic.templates import TemplateModel
from biometric_exchange.v1 import exchange_pb2 as pb

SMALL = {
    "name": "small",
    "members": ["COL", "PAN", "CRI", "HND", "MEX"],
    "without_terms": ["COL-MEX"],
    "pairs": {"PAN-MEX": {"terms": "panama_mexico"}},
}
"""Five members of the trunk; Colombia and Mexico hold no terms."""


def small_federation(workdir: Path) -> FederationFolders:
    return generate(parse_federation(SMALL, "test"), workdir / "federation")


def template(seed: int) -> np.ndarray:
    return TemplateModel().latent(np.random.default_rng(seed))


def router_candidates(router_dir: Path) -> list[X25519PrivateKey]:
    """Every X25519 key that can be made of what the router holds: each private key
    file it has (their secret scalars as X25519 keys) and each file's bytes hashed."""
    candidates = []
    for path in sorted(p for p in router_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        candidates.append(X25519PrivateKey.from_private_bytes(hashlib.sha256(data).digest()))
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            continue
        if isinstance(key, X25519PrivateKey):
            candidates.append(key)
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            scalar = key.private_numbers().private_value.to_bytes(32, "big")
            candidates.append(X25519PrivateKey.from_private_bytes(scalar))
    return candidates


def try_open(
    envelope: pb.SealedEnvelope,
    own_kex_key: X25519PrivateKey,
    folders: FederationFolders,
) -> bytes:
    """Open ``envelope`` as its recipient would, but with ``own_kex_key``: every other
    input (ids, parties, the sender's public keys) is what the clear header and the
    members' public files give anyone."""
    header = read_header(envelope)
    sender = load_keys(folders.nodes[header.sender])
    recipient = load_keys(folders.nodes[header.recipient])
    context = EnvelopeContext(
        agreement_id=header.agreement_id,
        agreement_hash=header.agreement_hash,
        own_party=header.recipient,
        partner_party=header.sender,
        own_signing_key=recipient.signing_key,
        own_kex_key=own_kex_key,
        partner_signing_public=sender.signing_public,
        partner_kex_public=sender.kex_public,
    )
    opened = verify_and_decrypt(
        context,
        envelope,
        now_ms=header.created_at_ms,
        expected_type=header.message_type,
        expected_in_reply_to=header.in_reply_to,
    )
    return opened.body


def opens_with_none(
    envelope: pb.SealedEnvelope, router_dir: Path, folders: FederationFolders
) -> bool:
    """True when no key made of the router's files opens ``envelope``."""
    for candidate in router_candidates(router_dir):
        try:
            try_open(envelope, candidate, folders)
        except InvalidEnvelope as exc:
            assert exc.reason == "decryption failed", exc.reason
            continue
        return False
    return True
