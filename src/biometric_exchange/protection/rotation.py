"""Keyed random rotation: a distance-preserving, renewable, INVERTIBLE transform.

The key seeds a random orthogonal matrix ``R`` (Haar-distributed: QR of a
Gaussian matrix, sign-fixed); a template ``x`` is protected as ``R x``.
Euclidean distances are preserved exactly (to float rounding), so matching
keeps the unprotected threshold (0.6) and the unprotected accuracy.
Permutations and sign flips are orthogonal matrices too, so a Haar rotation
already covers them; they are not applied on top.

What it gives: templates under two keys (two agreements, or two epochs of
one) look unrelated to the system's comparator, so a new epoch renews them
and a leaked protected set cannot be matched against another application's.

What it does NOT give: irreversibility. Whoever holds the key recovers
``x = Rᵀ (R x)`` exactly (``invert``). Under an agreement both parties
derive the key, so the partner can always recover the templates; the
rotation protects only against someone who has the protected data but not
the key. Rotations also preserve norms and every distance within a set, so
an attacker with two protected sets can link people by template norm, or
align the sets (orthogonal Procrustes) from a handful of known pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.protection.common import (
    FloatMatrix,
    as_templates,
    check_key,
    euclidean,
    haar_orthogonal,
    keyed_generator,
    paired_euclidean,
)


@dataclass(frozen=True, eq=False, repr=False)
class RotationScheme:
    """``R x`` with ``R`` a key-seeded random orthogonal matrix; Euclidean comparison."""

    NAME = "rotation"
    key: bytes
    threshold: float = DEFAULT_THRESHOLD
    """Unchanged from unprotected matching: distances are preserved."""
    matrix: FloatMatrix = field(init=False)

    def __post_init__(self) -> None:
        rotation = haar_orthogonal(keyed_generator(check_key(self.key), self.NAME))
        object.__setattr__(self, "matrix", rotation)

    @property
    def name(self) -> str:
        return self.NAME

    def protect(self, templates: ArrayLike) -> FloatMatrix:
        result: FloatMatrix = as_templates(templates) @ self.matrix.T
        return result

    def invert(self, protected: ArrayLike) -> FloatMatrix:
        """The original templates, for whoever holds the key: ``Rᵀ (R x) = x``."""
        result: FloatMatrix = as_templates(protected, name="protected") @ self.matrix
        return result

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> FloatMatrix:
        return euclidean(as_templates(probes, name="probes"), as_templates(gallery, name="gallery"))

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> FloatMatrix:
        return paired_euclidean(as_templates(a, name="a"), as_templates(b, name="b"))

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.compare(probes, gallery) < self.threshold
        return result
