"""A gallery on disk as one AES-256-GCM-sealed file.

File: ``MAGIC || nonce (12 bytes) || AESGCM(data_key).encrypt(nonce, plain, AD)``
with a random nonce and the associated data naming the format and version,
so a file of another kind or version fails to open. The plaintext is three
``.npy`` records written with ``allow_pickle=False`` (never pickle): the
int64 offsets of each id in the next record, the UTF-8 bytes of the ids, and
the (n, dim) float32 templates, in the gallery's insertion order.

AESGCM seals at most 2 GiB - 1 in one call, which caps a snapshot at about
4.1 million 128-d templates.
"""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from biometric_exchange.exceptions import ExchangeError, InvalidInput
from biometric_exchange.matching.gallery import Gallery

MAGIC = b"BXGSNAP\x01"
ASSOCIATED_DATA = b"biometric-exchange/matching/gallery-snapshot/v1"
NONCE_BYTES = 12
KEY_BYTES = 32
MAX_PLAINTEXT = 2**31 - 1


class SnapshotError(ExchangeError):
    """A snapshot failed to open: wrong key, altered or truncated file, or not a snapshot."""


def save_snapshot(path: Path, gallery: Gallery, data_key: bytes) -> None:
    """Write ``gallery`` to ``path`` (atomically, mode 0600), sealed under ``data_key``."""
    aead = AESGCM(_check_key(data_key))
    ids, templates = gallery.export()
    encoded = [ident.encode() for ident in ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    plain = io.BytesIO()
    np.save(plain, offsets, allow_pickle=False)
    np.save(plain, np.frombuffer(b"".join(encoded), dtype=np.uint8), allow_pickle=False)
    np.save(plain, templates, allow_pickle=False)
    if plain.tell() > MAX_PLAINTEXT:
        raise InvalidInput(
            f"gallery: {len(ids)} templates make a {plain.tell()} byte snapshot; "
            f"one AES-GCM seal holds at most {MAX_PLAINTEXT} bytes"
        )
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = aead.encrypt(nonce, plain.getbuffer(), ASSOCIATED_DATA)
    _write_atomically(Path(path), [MAGIC, nonce, sealed])


def load_snapshot(
    path: Path,
    data_key: bytes,
    *,
    tile_size: int | None = None,
    gallery: Callable[[int], Gallery] | None = None,
) -> Gallery:
    """The gallery saved at ``path``; SnapshotError if it does not open under ``data_key``.

    ``gallery(size)`` makes the empty gallery to fill (a ``CompactGallery`` for a
    large one, say); ``Gallery(dim, tile_size=...)`` by default."""
    aead = AESGCM(_check_key(data_key))
    blob = Path(path).read_bytes()
    head = len(MAGIC) + NONCE_BYTES
    if len(blob) < head or blob[: len(MAGIC)] != MAGIC:
        raise SnapshotError(f"{path}: not a gallery snapshot (format v1)")
    try:
        plain = aead.decrypt(blob[len(MAGIC) : head], memoryview(blob)[head:], ASSOCIATED_DATA)
    except InvalidTag as exc:
        raise SnapshotError(
            f"{path}: snapshot does not decrypt: wrong data key, or the file was altered"
        ) from exc
    del blob
    stream = io.BytesIO(plain)
    try:
        offsets = np.load(stream, allow_pickle=False)
        id_bytes = np.load(stream, allow_pickle=False)
        templates = np.load(stream, allow_pickle=False)
        ids = _decode_ids(offsets, id_bytes, templates, path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path}: snapshot content is not readable: {exc}") from exc
    if gallery is not None:
        made = gallery(len(ids))
    elif tile_size is None:
        made = Gallery(templates.shape[1])
    else:
        made = Gallery(templates.shape[1], tile_size=tile_size)
    made.add(ids, templates)
    return made


def _decode_ids(
    offsets: NDArray[np.int64],
    id_bytes: NDArray[np.uint8],
    templates: NDArray[np.float32],
    path: Path,
) -> list[str]:
    count = templates.shape[0]
    if (
        templates.ndim != 2
        or templates.dtype != np.float32
        or offsets.dtype != np.int64
        or id_bytes.dtype != np.uint8
        or offsets.shape != (count + 1,)
        or offsets[0] != 0
        or offsets[-1] != id_bytes.size
        or np.any(np.diff(offsets) < 0)
    ):
        raise SnapshotError(f"{path}: snapshot content is inconsistent")
    raw = id_bytes.tobytes()
    bounds = offsets.tolist()
    return [raw[bounds[i] : bounds[i + 1]].decode() for i in range(count)]


def _write_atomically(path: Path, parts: list[bytes]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            for part in parts:
                file.write(part)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_key(data_key: bytes) -> bytes:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_BYTES:
        raise InvalidInput(f"data_key: expected {KEY_BYTES} bytes")
    return data_key
