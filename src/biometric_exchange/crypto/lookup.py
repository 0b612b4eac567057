"""Keyed hashes for looking up sealed fields: HMAC-SHA256 under the node's lookup key.

A sealed field cannot be searched, so a field the node looks up by (the
document number) is stored beside its sealed value as a keyed hash. Without
the lookup key the hash cannot be recomputed from a guessed value, so the
database alone does not confirm one. The key is 32 random bytes of the node,
kept in its database sealed under the data key (``store.lookup_key``): a data
key rotation re-seals it, and the hashes stay as they are.
"""

from __future__ import annotations

import hashlib
import hmac

LOOKUP_KEY_BYTES = 32


def normalise_document_number(value: str) -> str:
    """A document number as it is compared: upper case, without blanks."""
    return "".join(value.split()).upper()


def keyed_hash(key: bytes, field: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``value`` for ``field`` (one field's hashes never match
    another's)."""
    if len(key) != LOOKUP_KEY_BYTES:
        raise ValueError(f"a lookup key has {LOOKUP_KEY_BYTES} bytes, not {len(key)}")
    message = f"biometric-exchange/v1/lookup/{field}\x00{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def document_hash(key: bytes, document_number: str) -> str:
    """The keyed hash a document number is looked up by."""
    return keyed_hash(key, "document_number", normalise_document_number(document_number))
