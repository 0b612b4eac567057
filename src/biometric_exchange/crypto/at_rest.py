"""Templates and personal fields at rest: AES-256-GCM under the node's data key.

A sealed blob is ``version (1 byte) || key id (8 bytes) || nonce || ciphertext``.
The key id names the data key that sealed it, so rows sealed before a key
rotation still open; the associated data binds the blob to its format, table
and record id (and, for a field, its column), so a blob copied onto another
row or column fails.
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


def _field_associated_data(table: str, column: str, record_id: str) -> bytes:
    prefix = f"biometric-exchange/v{FORMAT_VERSION}/at-rest-field"
    return f"{prefix}/{table}/{column}/{record_id}".encode()


def _seal(keys: bytes | DataKeys, plain: bytes, associated_data: bytes) -> bytes:
    key_id, key = _keys(keys).current()
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plain, associated_data)
    return bytes([FORMAT_VERSION]) + bytes.fromhex(key_id) + nonce + ciphertext


def _open(
    keys: bytes | DataKeys, blob: object, associated_data: bytes, where: str, noun: str
) -> bytes:
    """The plaintext of ``blob``; CorruptRecord naming the row (``where``) and what
    was sealed (``noun``) when it does not open."""
    if not isinstance(blob, bytes) or (key_id := sealed_key_id(blob)) is None:
        raise CorruptRecord(f"{where}: not a sealed {noun}")
    key = _keys(keys).key(key_id)
    if key is None:
        raise CorruptRecord(f"{where}: sealed under an unknown data key")
    body = blob[HEADER_BYTES:]
    nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except (InvalidTag, ValueError) as exc:
        raise CorruptRecord(f"{where}: {noun} does not decrypt") from exc


def seal_template(keys: bytes | DataKeys, table: str, record_id: str, template: Template) -> bytes:
    return _seal(keys, template_to_bytes(template), _associated_data(table, record_id))


def open_template(keys: bytes | DataKeys, table: str, record_id: str, blob: bytes) -> Template:
    where = f"{table} record {record_id}"
    associated_data = _associated_data(table, record_id)
    return template_from_bytes(_open(keys, blob, associated_data, where, "template"))


def seal_field(
    keys: bytes | DataKeys, table: str, column: str, record_id: str, value: bytes
) -> bytes:
    """``value`` sealed for one column of one row (it opens nowhere else)."""
    return _seal(keys, value, _field_associated_data(table, column, record_id))


def open_field(
    keys: bytes | DataKeys, table: str, column: str, record_id: str, blob: object
) -> bytes:
    """The value ``seal_field`` sealed for this column of this row; CorruptRecord
    when ``blob`` is not sealed, or was sealed for another row or column."""
    associated_data = _field_associated_data(table, column, record_id)
    return _open(keys, blob, associated_data, f"{table} record {record_id}", column)
