"""A node's key files in one file sealed under a passphrase.

Layout (version 1)::

    magic "BXKEYBAK" (8) | version (1) | log2 N (1) | r (1) | p (1) | salt (16) | nonce (12)
    | AES-256-GCM ciphertext of a JSON document, the 40 header bytes as associated data

The key is Scrypt(passphrase, salt, N, r, p) with a fresh random salt per
backup. The JSON document names the node and country and holds every file of
``keys/`` (data keys retired by a rotation included) by relative path, base64.
A wrong passphrase and any altered byte both fail the GCM tag.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from biometric_exchange.crypto.files import PRIVATE_MODE, write_private
from biometric_exchange.crypto.keyring import RETIRED_DIR
from biometric_exchange.crypto.keys import KEY_FILES, keys_dir
from biometric_exchange.exceptions import ConfigError

MAGIC = b"BXKEYBAK"
VERSION = 1
SALT_BYTES = 16
NONCE_BYTES = 12
HEADER = struct.Struct(f">8sBBBB{SALT_BYTES}s{NONCE_BYTES}s")
SCRYPT_LOG2_N = 17
"""N = 2**17, r = 8, p = 1: 128 MiB and a fraction of a second per derivation."""
SCRYPT_R = 8
SCRYPT_P = 1
MAX_LOG2_N = 18
MIN_PASSPHRASE_CHARS = 12
PASSPHRASE_ENV = "BX_BACKUP_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
DOCUMENT_FORMAT = "biometric-exchange/key-backup"
_RETIRED_NAME = re.compile(rf"^{RETIRED_DIR}/[0-9a-f]{{16}}\.key$")


@dataclass(frozen=True)
class KeyBackup:
    """What a backup holds: the node it came from and its key files by relative path."""

    node: str
    country: str
    created: str
    files: dict[str, bytes]


def _allowed(name: str) -> bool:
    return name in KEY_FILES or _RETIRED_NAME.match(name) is not None


def collect(node_dir: Path) -> dict[str, bytes]:
    """Every key file of the node (the retired data keys too), by relative path."""
    directory = keys_dir(node_dir)
    missing = [name for name in KEY_FILES if not (directory / name).is_file()]
    if missing:
        raise ConfigError(f"{directory} lacks {', '.join(missing)}; nothing backed up")
    files = {name: (directory / name).read_bytes() for name in KEY_FILES}
    for path in sorted((directory / RETIRED_DIR).glob("*.key")):
        name = f"{RETIRED_DIR}/{path.name}"
        if _allowed(name):
            files[name] = path.read_bytes()
    return files


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))


def seal(backup: KeyBackup, passphrase: str) -> bytes:
    """The backup file's bytes: header, then the sealed document."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(f"a backup passphrase has at least {MIN_PASSPHRASE_CHARS} characters")
    salt, nonce = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(NONCE_BYTES)
    header = HEADER.pack(MAGIC, VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, nonce)
    document = {
        "format": DOCUMENT_FORMAT,
        "node": backup.node,
        "country": backup.country,
        "created": backup.created,
        "files": {
            name: base64.b64encode(data).decode("ascii")
            for name, data in sorted(backup.files.items())
        },
    }
    key = _derive(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    plain = json.dumps(document, sort_keys=True).encode("utf-8")
    return header + AESGCM(key).encrypt(nonce, plain, header)


def unseal(blob: bytes, passphrase: str, *, source: Path) -> KeyBackup:
    """The backup in ``blob``; ConfigError naming ``source`` when it does not open."""
    if len(blob) < HEADER.size or not blob.startswith(MAGIC):
        raise ConfigError(f"{source}: not a biometric-exchange key backup")
    magic, version, log2_n, r, p, salt, nonce = HEADER.unpack_from(blob)
    del magic
    if version != VERSION:
        raise ConfigError(f"{source}: backup format version {version}; this tool reads {VERSION}")
    if not (14 <= log2_n <= MAX_LOG2_N and 1 <= r <= 8 and 1 <= p <= 4):
        raise ConfigError(f"{source}: unsupported Scrypt parameters in the header")
    header = blob[: HEADER.size]
    key = _derive(passphrase, salt, log2_n, r, p)
    try:
        plain = AESGCM(key).decrypt(nonce, blob[HEADER.size :], header)
    except InvalidTag:
        raise ConfigError(
            f"{source}: wrong passphrase, or the file was altered; nothing restored"
        ) from None
    return _document(plain, source)


def _document(plain: bytes, source: Path) -> KeyBackup:
    try:
        document = json.loads(plain)
        if document.get("format") != DOCUMENT_FORMAT:
            raise ValueError("format")
        files = {
            str(name): base64.b64decode(text, validate=True)
            for name, text in document["files"].items()
        }
        backup = KeyBackup(
            str(document["node"]), str(document["country"]), str(document["created"]), files
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise ConfigError(f"{source}: the backup's content is not readable ({exc})") from None
    unknown = sorted(name for name in files if not _allowed(name))
    missing = sorted(name for name in KEY_FILES if name not in files)
    if unknown or missing:
        raise ConfigError(
            f"{source}: the backup holds unexpected files ({', '.join(unknown) or 'none'}) "
            f"or lacks key files ({', '.join(missing) or 'none'})"
        )
    return backup


def write_backup(path: Path, blob: bytes) -> None:
    """Create ``path`` with mode 0600; an existing file is never overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite it") from None
    try:
        os.fchmod(fd, PRIVATE_MODE)
        os.write(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_keys(node_dir: Path, node: str, country: str, out: Path, passphrase: str) -> int:
    """Seal every key file of ``node_dir`` into ``out``; return how many files."""
    files = collect(node_dir)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    write_backup(out, seal(KeyBackup(node, country, created, files), passphrase))
    return len(files)


def restore_keys(
    node_dir: Path, backup: KeyBackup, *, country: str, force: bool = False
) -> list[str]:
    """Write the backup's files into ``node_dir/keys`` (files 0600, folders 0700).

    Refused, with nothing written, when the backup is another country's or an
    existing file differs from the backup's (unless ``force``). Returns the names
    written."""
    if backup.country != country:
        raise ConfigError(
            f"the backup holds {backup.country}'s keys ({backup.node}); "
            f"{node_dir} is a {country} node; nothing restored"
        )
    directory = keys_dir(node_dir)
    differing = sorted(
        name
        for name, data in backup.files.items()
        if (directory / name).exists() and (directory / name).read_bytes() != data
    )
    if differing and not force:
        raise ConfigError(
            f"{directory} holds other keys than the backup ({', '.join(differing)}); "
            "nothing restored (pass --force to replace them)"
        )
    for folder in (directory, directory / RETIRED_DIR):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    for name, data in sorted(backup.files.items()):
        write_private(directory / name, data, overwrite=True)
    return sorted(backup.files)
