"""One file sealed as a stream of AES-256-GCM chunks (no 2 GiB cap, bounded memory).

File: ``magic || prefix (8) || chunk size (u32) || plaintext length (u64)``,
then the chunks, each ``AESGCM.encrypt(prefix || index (u32), chunk, AD)``
with ``AD = context || head || index (u64) || last (1 byte)``. The head is
bound into every chunk, the index and the last flag stop reordering,
dropping and truncation; the random prefix makes every file's nonces fresh.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CHUNK = 64 << 20
TAG = 16
_HEAD = struct.Struct("<8sIQ")
_AD = struct.Struct("<QB")


class StreamError(ValueError):
    """The file is not such a stream, or does not decrypt under the key."""


def seal_pieces(
    out: BinaryIO,
    key: bytes,
    magic: bytes,
    context: bytes,
    *,
    size: int,
    pieces: Iterable[bytes],
    chunk: int = CHUNK,
) -> bytes:
    """Write ``size`` bytes of ``pieces`` sealed to ``out``; returns the last chunk's tag."""
    aead = AESGCM(key)
    head = magic + _HEAD.pack(secrets.token_bytes(8), chunk, size)
    out.write(head)
    total = max(1, -(-size // chunk))
    buffer = bytearray()
    index = 0

    def flush(data: bytes | bytearray) -> bytes:
        nonlocal index
        last = index == total - 1
        sealed = aead.encrypt(_nonce(head, index), bytes(data), _ad(context, head, index, last))
        out.write(sealed)
        index += 1
        return sealed[-TAG:]

    for piece in pieces:
        buffer += piece
        while len(buffer) >= chunk and index < total - 1:
            flush(buffer[:chunk])
            del buffer[:chunk]
    if len(buffer) != size - index * chunk or index != total - 1:
        raise ValueError(f"pieces: {index * chunk + len(buffer)} bytes for {size}")
    return flush(buffer)


def last_tag(path: Path, magic: bytes) -> bytes:
    """The tag of the file's last chunk (what names a decrypted copy of it)."""
    with path.open("rb") as file:
        _read_head(file, magic)
        file.seek(-TAG, 2)
        return file.read(TAG)


def verify_last(path: Path, key: bytes, magic: bytes, context: bytes) -> int:
    """Decrypt only the last chunk (proof of the key, cheap); returns the plaintext length."""
    aead = AESGCM(key)
    with path.open("rb") as file:
        head, chunk, size = _read_head(file, magic)
        total = max(1, -(-size // chunk))
        if path.stat().st_size != len(head) + size + total * TAG:
            raise StreamError("truncated or extended")
        last = total - 1
        file.seek(len(head) + last * (chunk + TAG))
        sealed = file.read(size - last * chunk + TAG)
    try:
        aead.decrypt(_nonce(head, last), sealed, _ad(context, head, last, True))
    except InvalidTag as exc:
        raise StreamError("does not decrypt") from exc
    return size


def open_chunks(
    path: Path, key: bytes, magic: bytes, context: bytes
) -> tuple[int, Iterator[bytes]]:
    """The plaintext length and the decrypted chunks, in order (StreamError on any fault)."""
    aead = AESGCM(key)
    file = path.open("rb")
    try:
        head, chunk, size = _read_head(file, magic)
        total = max(1, -(-size // chunk))
        expected = len(head) + size + total * TAG
        if path.stat().st_size != expected:
            raise StreamError("truncated or extended")
    except BaseException:
        file.close()
        raise

    def chunks() -> Iterator[bytes]:
        with file:
            for index in range(total):
                length = min(chunk, size - index * chunk) + TAG
                sealed = file.read(length)
                try:
                    yield aead.decrypt(
                        _nonce(head, index), sealed, _ad(context, head, index, index == total - 1)
                    )
                except InvalidTag as exc:
                    raise StreamError("does not decrypt") from exc

    return size, chunks()


def _read_head(file: BinaryIO, magic: bytes) -> tuple[bytes, int, int]:
    head = file.read(len(magic) + _HEAD.size)
    if len(head) < len(magic) + _HEAD.size or not head.startswith(magic):
        raise StreamError("not a sealed stream of this kind")
    _prefix, chunk, size = _HEAD.unpack_from(head, len(magic))
    if chunk < 1:
        raise StreamError("bad chunk size")
    return head, chunk, size


def _nonce(head: bytes, index: int) -> bytes:
    return head[-_HEAD.size : -_HEAD.size + 8] + struct.pack(">I", index)


def _ad(context: bytes, head: bytes, index: int, last: bool) -> bytes:
    return context + head + _AD.pack(index, int(last))
