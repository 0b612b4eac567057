"""The requester's public evaluation context, as it crosses and as the holder holds it.

``ContextBlob`` is the wire form: the parameter set's name, the public key and the
rotation keys, each in SEAL's serialisation; its digest names it in every request.
``PublicContext`` is what the holder loads from it and evaluates with. It has no
attribute for a secret key (``__slots__``), so holder code that reached for one would
fail the type check, and ``is_private()`` is always False; nothing on the wire has a
field for a secret key either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from biometric_exchange.blind.params import SCHEME
from biometric_exchange.blind.seal import GaloisKeys, PublicKey, engine
from biometric_exchange.exceptions import InvalidInput

DIGEST_LABEL = b"biometric-exchange/v1/blind-context"


@dataclass(frozen=True)
class ContextBlob:
    scheme: str
    public_key: bytes
    galois_keys: bytes

    @property
    def digest(self) -> str:
        """Hex SHA-256 over a label and the three parts, each prefixed by its length."""
        hasher = hashlib.sha256(DIGEST_LABEL)
        for part in (self.scheme.encode(), self.public_key, self.galois_keys):
            hasher.update(len(part).to_bytes(8, "big"))
            hasher.update(part)
        return hasher.hexdigest()

    @property
    def size(self) -> int:
        return len(self.public_key) + len(self.galois_keys)


@dataclass(frozen=True)
class EncryptedProbe:
    """A probe as the holder receives it: two ciphertexts under the requester's key."""

    template: bytes
    """The template replicated across the slots (slot s holds p[s mod 128])."""
    norm: bytes
    """|p|² in every slot."""


class PublicContext:
    """Public key and rotation keys of one requester, loaded and checked."""

    __slots__ = ("digest", "galois_keys", "public_key", "scheme")

    def __init__(self, blob: ContextBlob) -> None:
        if blob.scheme != SCHEME:
            raise InvalidInput(f"context.scheme: {blob.scheme[:40]!r} is not {SCHEME}")
        seal = engine()
        self.scheme = blob.scheme
        self.public_key: PublicKey = seal.load_public_key(blob.public_key)
        self.galois_keys: GaloisKeys = seal.load_galois_keys(blob.galois_keys)
        self.digest = blob.digest

    def is_private(self) -> bool:
        """Never: a public context cannot decrypt."""
        return False
