"""The protection key both parties derive from their pinned X25519 keys.

Each party combines its own X25519 private key with the partner's public key
pinned in the agreement (static-static Diffie-Hellman): both get the same
shared secret without sending anything. HKDF-SHA256 turns it into 32 bytes
bound to the agreement id, the scheme and the epoch, and to both public keys
(sorted, so the two sides agree). A new epoch gives an unrelated key, which
is how protected templates are renewed; another agreement or scheme gives
another key, which keeps their protected templates unlinkable.

Limits: the key is as secret as the two kex private keys. Whoever steals one
of them, with the partner's public key, derives every epoch's key; replacing
the kex keys in a new agreement version is the remedy. Both parties hold the
key, so protection never hides a template from the partner (see
docs/protection.md).
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from biometric_exchange.crypto.keys import raw_public
from biometric_exchange.exceptions import ConfigError, InvalidInput

KEY_BYTES = 32
INFO_LABEL = b"biometric-exchange/v1/template-protection-key\x00"
_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


def derive_protection_key(
    own_kex_private: X25519PrivateKey,
    partner_kex_public: X25519PublicKey,
    agreement_id: str,
    scheme: str,
    epoch: int,
) -> bytes:
    """32 bytes, the same on both sides, for ``scheme`` in ``epoch`` of the agreement."""
    for field, value in (("agreement_id", agreement_id), ("scheme", scheme)):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise InvalidInput(f"{field}: expected 1-64 letters, digits, '-' or '_'")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch < 2**63:
        raise InvalidInput(f"epoch: expected an integer >= 1, got {epoch!r}")
    publics = sorted((raw_public(own_kex_private.public_key()), raw_public(partner_kex_public)))
    if publics[0] == publics[1]:
        raise ConfigError("kex keys: the partner's public key is our own")
    try:
        shared = own_kex_private.exchange(partner_kex_public)
    except ValueError as exc:  # a low-order point gives the all-zero secret
        raise ConfigError("kex keys: the partner's public key gives no shared secret") from exc
    info = b"".join(
        (
            INFO_LABEL,
            _field(agreement_id.encode()),
            _field(scheme.encode()),
            epoch.to_bytes(8, "big"),
            *publics,
        )
    )
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(shared)


def _field(value: bytes) -> bytes:
    """Length-prefixed, so no two (agreement id, scheme) pairs share an encoding."""
    return len(value).to_bytes(2, "big") + value
