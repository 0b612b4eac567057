"""Templates at rest: AES-256-GCM under the node's data key.

Each sealed blob is ``nonce || ciphertext``; the associated data binds the
blob to its table and record id, so a blob copied onto another row fails.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from biometric_exchange.domain import Template, template_from_bytes, template_to_bytes
from biometric_exchange.exceptions import ExchangeError

NONCE_BYTES = 12


class CorruptRecord(ExchangeError):
    """A stored template failed to decrypt: wrong key, or the row was altered."""


def _associated_data(table: str, record_id: str) -> bytes:
    return f"biometric-exchange/v1/at-rest/{table}/{record_id}".encode()


def seal_template(data_key: bytes, table: str, record_id: str, template: Template) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(
        nonce, template_to_bytes(template), _associated_data(table, record_id)
    )
    return nonce + ciphertext


def open_template(data_key: bytes, table: str, record_id: str, blob: bytes) -> Template:
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        plain = AESGCM(data_key).decrypt(nonce, ciphertext, _associated_data(table, record_id))
    except (InvalidTag, ValueError) as exc:
        raise CorruptRecord(f"{table} record {record_id}: template does not decrypt") from exc
    return template_from_bytes(plain)
