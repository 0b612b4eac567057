"""BioHashing (Teoh, Ngo and Goh, Pattern Recognition 37, 2004): keyed random bits.

The key seeds ``bits`` orthonormal directions ``W`` (rows of a Haar random
orthogonal matrix); a template ``x`` becomes the bits ``W (x - c) > 0``, and
two bit strings are compared by their normalised Hamming distance (the
fraction of differing bits). ``c`` is a fixed centring that does not depend
on the key: the population mean template, ``POPULATION_MEAN``, which is the
centre fitted to real face_recognition encodings (``protection.centre``)
around which the synthetic model draws its identities. Without centring most
bits would take the same value for everyone (real encodings share a mean of
length about 1.28, against a spread of about 0.6 around it); a deployment with
its own descriptors passes the mean of a public, non-enrolled set as
``centre``.

Many templates give the same bits (each bit keeps only the sign of one
projection), so the transform cannot be undone exactly. That is NOT
irreversibility: whoever holds the key can compute a pre-image that matches
the original (see ``attacks.biohash_preimage`` and docs/protection.md).

The threshold is measured, not derived: ``BIOHASH_THRESHOLD`` holds the
operating point the unprotected system has at 0.6, i.e. a per-comparison
FMR of 3.0e-7 (FPIR 0.003 when searching a 10,000-entry watchlist). The
1:1 point FMR = 0.1 % (46.5/128) would flag nearly every probe of a 1:N
search. Another ``bits`` needs its own measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection.centre import FACE_CENTRE
from biometric_exchange.protection.common import (
    FloatMatrix,
    as_codes,
    as_templates,
    check_key,
    haar_orthogonal,
    keyed_generator,
    paired_mismatch,
)

Bits = NDArray[np.uint8]
DEFAULT_BITS = TEMPLATE_DIM
POPULATION_MEAN: FloatMatrix = np.asarray(FACE_CENTRE, dtype=np.float64).reshape(1, TEMPLATE_DIM)
"""The population mean template, fitted to real encodings (see the module docstring)."""
BIOHASH_THRESHOLD = 35.5 / 128
"""0.2773: pairs differing in at most 35 of 128 bits match.

Measured with ``evaluation.protection.calibrate_threshold`` (seed 2024,
10,000 synthetic identities with two captures each, 5 random keys,
99,990,000 impostor pairs per key) for a target FMR of 3.0e-7: FMR 1.3e-7
pooled (1.1-1.6e-7 per key), 36.5/128 already above the target; FNMR 9.1 %.
The same procedure on unprotected distances gives 0.598, the system's 0.6.
"""


@dataclass(frozen=True, eq=False, repr=False)
class BioHashScheme:
    """Sign bits of key-seeded orthonormal projections; normalised Hamming distance."""

    NAME = "biohash"
    key: bytes
    bits: int = DEFAULT_BITS
    threshold: float = BIOHASH_THRESHOLD
    centre: FloatMatrix = field(default_factory=POPULATION_MEAN.copy)
    projection: FloatMatrix = field(init=False)
    """(bits, 128) with orthonormal rows."""

    def __post_init__(self) -> None:
        if not 1 <= self.bits <= TEMPLATE_DIM:
            raise InvalidInput(f"bits: expected 1 to {TEMPLATE_DIM} orthonormal projections")
        if self.bits != DEFAULT_BITS and self.threshold == BIOHASH_THRESHOLD:
            raise InvalidInput(
                f"threshold: measured for {DEFAULT_BITS} bits; measure one for "
                f"{self.bits} bits (evaluation.protection.calibrate_threshold)"
            )
        centre = as_templates(np.reshape(self.centre, (1, -1)), name="centre")
        rotation = haar_orthogonal(keyed_generator(check_key(self.key), self.NAME))
        object.__setattr__(self, "centre", centre)
        object.__setattr__(self, "projection", np.ascontiguousarray(rotation[: self.bits]))

    @property
    def name(self) -> str:
        return self.NAME

    def project(self, templates: ArrayLike) -> FloatMatrix:
        """The real-valued projections ``W (x - c)`` before binarisation."""
        result: FloatMatrix = (as_templates(templates) - self.centre) @ self.projection.T
        return result

    def protect(self, templates: ArrayLike) -> Bits:
        return (self.project(templates) > 0).astype(np.uint8)

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> FloatMatrix:
        a = self._signs(probes, "probes")
        b = self._signs(gallery, "gallery")
        # ±1 vectors: agreements - disagreements = a·b, so disagreements = (bits - a·b) / 2.
        result: FloatMatrix = (self.bits - (a @ b.T).astype(np.float64)) / (2.0 * self.bits)
        return result

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> FloatMatrix:
        return paired_mismatch(self.validated(a, "a"), self.validated(b, "b"))

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.compare(probes, gallery) < self.threshold
        return result

    def validated(self, values: ArrayLike, name: str = "bits") -> Bits:
        """``values`` as an (n, bits) uint8 matrix of 0 and 1, or InvalidInput."""
        bits: Bits = as_codes(values, name=name, width=self.bits)
        if np.any(bits > 1):
            raise InvalidInput(f"{name}: a BioHash holds bits 0 and 1 only")
        return bits

    def _signs(self, values: ArrayLike, name: str) -> NDArray[np.float32]:
        """Bits as ±1 float32 (exact: dot products of at most 128 terms)."""
        result: NDArray[np.float32] = self.validated(values, name).astype(np.float32) * 2 - 1
        return result
