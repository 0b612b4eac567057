"""Reading format v1 snapshots: ``MAGIC || nonce (12) || AESGCM(plain, AD)`` in one
seal, the plaintext three ``.npy`` records (id offsets, id bytes, templates)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from biometric_exchange.matching.gallery import Gallery

MAGIC = b"BXGSNAP\x01"
ASSOCIATED_DATA = b"biometric-exchange/matching/gallery-snapshot/v1"
NONCE_BYTES = 12


class V1Error(ValueError):
    """A v1 snapshot that does not open."""


def load(
    path: Path,
    key: bytes,
    *,
    tile_size: int | None,
    gallery: Callable[[int], Gallery] | None,
) -> Gallery:
    blob = path.read_bytes()
    head = len(MAGIC) + NONCE_BYTES
    try:
        plain = AESGCM(key).decrypt(
            blob[len(MAGIC) : head], memoryview(blob)[head:], ASSOCIATED_DATA
        )
    except (InvalidTag, ValueError) as exc:
        raise V1Error("snapshot does not decrypt: wrong data key, or the file was altered") from exc
    del blob
    stream = io.BytesIO(plain)
    try:
        offsets = np.load(stream, allow_pickle=False)
        id_bytes = np.load(stream, allow_pickle=False)
        templates = np.load(stream, allow_pickle=False)
        ids = _decode_ids(offsets, id_bytes, templates)
    except (ValueError, UnicodeDecodeError) as exc:
        raise V1Error(f"snapshot content is not readable: {exc}") from exc
    if gallery is not None:
        made = gallery(len(ids))
    elif tile_size is None:
        made = Gallery(templates.shape[1])
    else:
        made = Gallery(templates.shape[1], tile_size=tile_size)
    made.add(ids, templates)
    return made


def _decode_ids(
    offsets: NDArray[np.int64], id_bytes: NDArray[np.uint8], templates: NDArray[np.float32]
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
        raise V1Error("snapshot content is inconsistent")
    raw = id_bytes.tobytes()
    bounds = offsets.tolist()
    return [raw[bounds[i] : bounds[i + 1]].decode() for i in range(count)]
