"""What the schemes share: input checks, the key-seeded generator, Haar rotations.

A scheme never uses its key bytes directly: HKDF-SHA256 with a label naming
the scheme expands the key into a 256-bit seed, and numpy's PCG64 generator
expands that seed into the scheme's random matrices. The secrecy rests on the
key and HKDF; the generator only stretches the seed (it is not a cipher).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import InvalidInput, InvalidTemplate

FloatMatrix = NDArray[np.float64]
MIN_KEY_BYTES = 16
SEED_LABEL = b"biometric-exchange/v1/template-protection/seed\x00"


def as_templates(values: ArrayLike, *, name: str = "templates") -> FloatMatrix:
    """``values`` as a contiguous (n, 128) float64 matrix of finite numbers, or InvalidTemplate."""
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidTemplate(f"{name}: values must be numbers in a regular array") from exc
    if matrix.ndim != 2 or matrix.shape[1] != TEMPLATE_DIM:
        raise InvalidTemplate(f"{name}: expected shape (n, {TEMPLATE_DIM}), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise InvalidTemplate(f"{name}: values must be finite (no NaN or infinity)")
    return np.ascontiguousarray(matrix)


def as_codes(values: ArrayLike, *, name: str, width: int) -> NDArray[np.uint8]:
    """Protected templates made of small whole numbers (bits, indices): (n, width) uint8.

    They may arrive as floats holding whole numbers: the wire carries every
    template as float32.
    """
    matrix = np.asarray(values)
    if matrix.ndim != 2 or matrix.shape[1] != width:
        raise InvalidInput(f"{name}: expected protected templates of shape (n, {width})")
    if not _whole_in_range(matrix, 255):
        raise InvalidInput(f"{name}: expected whole numbers from 0 to 255")
    return np.ascontiguousarray(matrix, dtype=np.uint8)


def _whole_in_range(matrix: NDArray[Any], largest: int) -> bool:
    """Integers, or floats holding integers (the wire carries float32), in [0, largest]."""
    if matrix.size == 0:
        return True
    if matrix.dtype.kind == "f":
        if not np.all(np.isfinite(matrix)) or not np.all(matrix == np.round(matrix)):
            return False
    elif matrix.dtype.kind not in "biu":
        return False
    return bool(matrix.min() >= 0 and matrix.max() <= largest)


def check_key(key: bytes) -> bytes:
    """At least 16 bytes of key (32 from ``derive_protection_key``), or InvalidInput."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise InvalidInput(f"key: expected at least {MIN_KEY_BYTES} bytes")
    return key


def keyed_generator(key: bytes, scheme: str) -> np.random.Generator:
    """A generator seeded from ``key`` through HKDF-SHA256 with the scheme's name."""
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=SEED_LABEL + scheme.encode()
    ).derive(check_key(key))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(seed))))


def haar_orthogonal(rng: np.random.Generator, dim: int = TEMPLATE_DIM) -> FloatMatrix:
    """A random orthogonal matrix, uniform (Haar) over O(dim).

    QR of a Gaussian matrix, with the signs of R's diagonal moved into Q
    (without that fix, Q is not uniformly distributed; Mezzadri 2007).
    """
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    result: FloatMatrix = q * np.sign(np.diag(r))
    return result


def euclidean(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    """All float64 Euclidean distances between the rows of ``a`` and of ``b``: (len a, len b)."""
    squared = np.einsum("ij,ij->i", a, a)[:, None] - 2.0 * (a @ b.T)
    squared += np.einsum("ij,ij->i", b, b)[None, :]
    result: FloatMatrix = np.sqrt(np.maximum(squared, 0.0))
    return result


def paired_euclidean(a: FloatMatrix, b: FloatMatrix) -> FloatMatrix:
    """Row-wise Euclidean distances ``|a_i - b_i|``."""
    if a.shape != b.shape:
        raise InvalidInput(f"pairs: {a.shape[0]} rows against {b.shape[0]}; expected equal")
    diff = a - b
    result: FloatMatrix = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return result


def paired_mismatch(left: NDArray[np.uint8], right: NDArray[np.uint8]) -> FloatMatrix:
    """Per row pair, the fraction of positions whose codes differ."""
    if left.shape != right.shape:
        raise InvalidInput(f"pairs: {left.shape[0]} rows against {right.shape[0]}")
    result: FloatMatrix = np.count_nonzero(left != right, axis=1) / left.shape[1]
    return result
