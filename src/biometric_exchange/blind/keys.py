"""The requester's CKKS keys. The secret key is made here, stays in this object and is
never serialised; the holder receives only ``blob`` (``public.ContextBlob``).

Holder code never imports this module (an import contract in ``.importlinter``).
"""

from __future__ import annotations

from biometric_exchange.blind.params import SCHEME
from biometric_exchange.blind.public import ContextBlob
from biometric_exchange.blind.seal import SecretKey, engine


class SecretContext:
    """A fresh key pair and rotation keys: one per partner link and process."""

    __slots__ = ("_secret", "blob")

    def __init__(self) -> None:
        secret, public_key, galois_keys = engine().keygen()
        self._secret = secret
        self.blob = ContextBlob(SCHEME, public_key, galois_keys)

    @property
    def secret_key(self) -> SecretKey:
        return self._secret

    @property
    def digest(self) -> str:
        return self.blob.digest

    def is_private(self) -> bool:
        return True
