"""Template protection (ISO/IEC 24745): keyed, renewable transforms of face templates.

* ``scheme_for(name, key)``: a ``ProtectionScheme`` by name: "rotation"
  (distance-preserving, invertible with the key), "biohash" (BioHashing
  bits) or "iom" (Index-of-Max hashes).
* ``derive_protection_key``: the key both parties derive from their pinned
  X25519 keys, per agreement, scheme and epoch.
* ``linkability``: the global unlinkability measure D↔sys.
* ``attacks``: pre-image attacks by a key holder.

docs/protection.md has the measured figures and the limits.
"""

from biometric_exchange.protection.biohash import BIOHASH_THRESHOLD, BioHashScheme
from biometric_exchange.protection.iom import IOM_THRESHOLD, IndexOfMaxScheme
from biometric_exchange.protection.linkability import Linkability, linkability
from biometric_exchange.protection.rotation import RotationScheme
from biometric_exchange.protection.scheme import SCHEMES, ProtectionScheme, scheme_for
from biometric_exchange.protection.secret import derive_protection_key

__all__ = [
    "BIOHASH_THRESHOLD",
    "IOM_THRESHOLD",
    "SCHEMES",
    "BioHashScheme",
    "IndexOfMaxScheme",
    "Linkability",
    "ProtectionScheme",
    "RotationScheme",
    "derive_protection_key",
    "linkability",
    "scheme_for",
]
