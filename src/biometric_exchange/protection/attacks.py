"""Pre-image attacks by a key holder: how far "non-invertible" goes (ISO/IEC 30136).

Each attack sees the protected template and the scheme (its key, hence its
random matrices) and returns a template ``x̂`` in the original space: a
direction scaled to ``norm`` (a typical distance of a template from the
scheme's centre, which an attacker learns from public data), plus the
centre. The attack succeeds when ``x̂`` matches the original template under
the unprotected comparator (Euclidean distance below 0.6): then the
protected template, with its key, is as good as the face template itself.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection.biohash import BioHashScheme
from biometric_exchange.protection.common import FloatMatrix
from biometric_exchange.protection.iom import IndexOfMaxScheme


def biohash_preimage(scheme: BioHashScheme, bits: ArrayLike, norm: float) -> FloatMatrix:
    """Least-squares pre-image of BioHash bits: ``x̂ = Wᵀ (±1) · scale + c``.

    Each projection is known only by its sign; for an isotropic Gaussian the
    expected projection given its sign is ``sign · constant``, so ``Wᵀ`` of the
    signs (``W`` has orthonormal rows, so ``Wᵀ`` is its pseudo-inverse) is the
    best estimate of ``x - c`` up to scale.
    """
    signs = scheme.validated(bits).astype(np.float64) * 2 - 1
    direction = signs @ scheme.projection
    return _scaled(direction, norm) + scheme.centre


def iom_preimage(scheme: IndexOfMaxScheme, indices: ArrayLike, norm: float) -> FloatMatrix:
    """Pre-image of Index-of-Max hashes: the sum over groups of the winning direction
    minus the group's mean direction (each winner leans towards the centred template),
    plus the centre."""
    groups = scheme.directions.reshape(-1, scheme.hashes, scheme.width)  # (128, hashes, width)
    centred = (groups - groups.mean(axis=2, keepdims=True)).reshape(groups.shape[0], -1)
    # One-hot rows pick each group's winner; the product sums the chosen directions.
    return _scaled(scheme.one_hot(indices).astype(np.float64) @ centred.T, norm) + scheme.centre


def _scaled(directions: FloatMatrix, norm: float) -> FloatMatrix:
    if not norm > 0:
        raise InvalidInput(f"norm: expected a positive template norm, got {norm!r}")
    lengths = np.linalg.norm(directions, axis=1, keepdims=True)
    result: FloatMatrix = directions * (norm / np.maximum(lengths, np.finfo(np.float64).tiny))
    return result
