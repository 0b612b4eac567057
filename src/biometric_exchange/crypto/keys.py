"""A node's key material on disk: ``<node_dir>/keys/``.

| file          | what                                              | mode |
|---------------|---------------------------------------------------|------|
| ca.key/.crt   | the country's CA (ECDSA P-256)                    | 0600 |
| tls.key/.crt  | the node's TLS certificate, server and client     | 0600 |
| signing.key   | Ed25519 key signing every envelope                | 0600 |
| kex.key       | X25519 key receiving sealed envelopes             | 0600 |
| data.key      | 32-byte AES-256-GCM key for templates at rest     | 0600 |

Public halves (``*.crt``, ``signing.pub``, ``kex.pub``) go into the agreement.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from biometric_exchange.crypto import pki
from biometric_exchange.crypto.files import (
    check_private_folder,
    read_private,
    read_public,
    write_private,
    write_public,
)
from biometric_exchange.crypto.keyring import RETIRED_DIR
from biometric_exchange.exceptions import ConfigError

KEYS_DIRNAME = "keys"
KEY_FILES = (
    "ca.key",
    "ca.crt",
    "tls.key",
    "tls.crt",
    "signing.key",
    "signing.pub",
    "kex.key",
    "kex.pub",
    "data.key",
)
PRIVATE_KEY_FILES = tuple(name for name in KEY_FILES if name.endswith(".key"))
DATA_KEY_BYTES = 32


def keys_dir(node_dir: Path) -> Path:
    return node_dir / KEYS_DIRNAME


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key: how envelopes and revocation lists name it."""
    return hashlib.sha256(raw_public(key)).hexdigest()


def encode_public(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """Base64 of the raw 32-byte public key, as written in the agreement."""
    return base64.b64encode(raw_public(key)).decode("ascii")


def decode_signing_public(text: str, *, field_name: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise ConfigError(f"{field_name}: not a base64 Ed25519 public key") from exc


def decode_kex_public(text: str, *, field_name: str) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise ConfigError(f"{field_name}: not a base64 X25519 public key") from exc


@dataclass(frozen=True)
class NodeKeys:
    """Everything secret a node holds, loaded from its keys directory."""

    ca_certificate_pem: bytes
    tls_key_pem: bytes
    tls_certificate_pem: bytes
    signing_key: Ed25519PrivateKey
    kex_key: X25519PrivateKey
    data_key: bytes

    @property
    def signing_public(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def kex_public(self) -> X25519PublicKey:
        return self.kex_key.public_key()


def _pkcs8(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def init_keys(node_dir: Path, node_name: str, country: str, *, overwrite: bool = False) -> Path:
    """Create a CA, TLS certificate, signing, key-agreement and data keys."""
    directory = keys_dir(node_dir)
    existing = [name for name in KEY_FILES if (directory / name).exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{directory} already holds {', '.join(existing)}; pass --force to replace them"
        )
    ca = pki.create_ca(country)
    tls = pki.issue_node_certificate(ca, node_name, country)
    signing = Ed25519PrivateKey.generate()
    kex = X25519PrivateKey.generate()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    write_private(directory / "ca.key", ca.key_pem(), overwrite=overwrite)
    write_public(directory / "ca.crt", ca.certificate_pem())
    write_private(directory / "tls.key", tls.key_pem(), overwrite=overwrite)
    write_public(directory / "tls.crt", tls.certificate_pem())
    write_private(directory / "signing.key", _pkcs8(signing), overwrite=overwrite)
    write_public(directory / "signing.pub", encode_public(signing.public_key()).encode())
    write_private(directory / "kex.key", _pkcs8(kex), overwrite=overwrite)
    write_public(directory / "kex.pub", encode_public(kex.public_key()).encode())
    write_private(directory / "data.key", secrets.token_bytes(DATA_KEY_BYTES), overwrite=overwrite)
    return directory


def _load_private(path: Path) -> object:
    try:
        return serialization.load_pem_private_key(read_private(path), password=None)
    except ValueError as exc:
        raise ConfigError(f"{path}: not a readable PEM private key") from exc


def private_files(node_dir: Path) -> list[Path]:
    """The node's private key files present on disk, retired data keys included."""
    directory = keys_dir(node_dir)
    present = [directory / name for name in PRIVATE_KEY_FILES if (directory / name).exists()]
    return present + sorted((directory / RETIRED_DIR).glob("*.key"))


def check_key_modes(node_dir: Path) -> None:
    """Refuse keys that other users can reach: the folders 0700, private files 0600."""
    directory = keys_dir(node_dir)
    check_private_folder(directory)
    check_private_folder(directory / RETIRED_DIR)
    for path in private_files(node_dir):
        read_private(path)


def load_keys(node_dir: Path) -> NodeKeys:
    """Load a node's keys, with a clear error naming any missing or unsafe file."""
    directory = keys_dir(node_dir)
    check_key_modes(node_dir)
    signing = _load_private(directory / "signing.key")
    kex = _load_private(directory / "kex.key")
    if not isinstance(signing, Ed25519PrivateKey):
        raise ConfigError(f"{directory / 'signing.key'}: expected an Ed25519 key")
    if not isinstance(kex, X25519PrivateKey):
        raise ConfigError(f"{directory / 'kex.key'}: expected an X25519 key")
    data_key = read_private(directory / "data.key")
    if len(data_key) != DATA_KEY_BYTES:
        raise ConfigError(f"{directory / 'data.key'}: expected {DATA_KEY_BYTES} bytes")
    return NodeKeys(
        ca_certificate_pem=read_public(directory / "ca.crt"),
        tls_key_pem=read_private(directory / "tls.key"),
        tls_certificate_pem=read_public(directory / "tls.crt"),
        signing_key=signing,
        kex_key=kex,
        data_key=data_key,
    )
