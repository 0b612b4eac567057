"""Templates at rest: AES-256-GCM under the node's data key.

A sealed blob is ``version (1 byte) || key id (8 bytes) || nonce || ciphertext``.
The key id names the data key that sealed it, so rows sealed before a key
rotation still open; the associated data binds the blob to its format, table
and record id, so a blob copied onto another row fails.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from biometric_exchange.crypto.keyring import DataKeys, StaticDataKey
from biometric_exchange.domain import Template, template_from_bytes, template_to_bytes
from biometric_exchange.exceptions import ExchangeError

FORMAT_VERSION = 2
NONCE_BYTES = 12
KEY_ID_BYTES = 8
HEADER_BYTES = 1 + KEY_ID_BYTES


class CorruptRecord(ExchangeError):
    """A stored template failed to decrypt: unknown or wrong key, or the row was altered."""


def _keys(keys: bytes | DataKeys) -> DataKeys:
    return StaticDataKey(keys) if isinstance(keys, bytes) else keys


def _associated_data(table: str, record_id: str) -> bytes:
    return f"biometric-exchange/v{FORMAT_VERSION}/at-rest/{table}/{record_id}".encode()


def sealed_key_id(blob: bytes) -> str | None:
    """The id of the data key that sealed ``blob`` (None when it is not a sealed blob)."""
    if len(blob) < HEADER_BYTES or blob[0] != FORMAT_VERSION:
        return None
    return blob[1:HEADER_BYTES].hex()


def seal_template(keys: bytes | DataKeys, table: str, record_id: str, template: Template) -> bytes:
    key_id, key = _keys(keys).current()
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(
        nonce, template_to_bytes(template), _associated_data(table, record_id)
    )
    return bytes([FORMAT_VERSION]) + bytes.fromhex(key_id) + nonce + ciphertext


def open_template(keys: bytes | DataKeys, table: str, record_id: str, blob: bytes) -> Template:
    key_id = sealed_key_id(blob)
    if key_id is None:
        raise CorruptRecord(f"{table} record {record_id}: not a sealed template")
    key = _keys(keys).key(key_id)
    if key is None:
        raise CorruptRecord(f"{table} record {record_id}: sealed under an unknown data key")
    body = blob[HEADER_BYTES:]
    nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(table, record_id))
    except (InvalidTag, ValueError) as exc:
        raise CorruptRecord(f"{table} record {record_id}: template does not decrypt") from exc
    return template_from_bytes(plain)
