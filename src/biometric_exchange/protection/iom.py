"""Index-of-Max hashing, Gaussian random projection variant (Jin et al., IEEE TIFS 2018).

The key seeds ``hashes`` groups of ``width`` Gaussian directions; a template
``x``, centred like BioHashing (``x - centre``, the population mean template by
default), becomes, per group, the index of the
direction with the largest projection. Two hashes are compared by the
fraction of groups whose indices differ (1 - collision rate): about
1 - 1/width for unrelated people and for any pair under different keys.

Like BioHashing it is many-to-one, and like BioHashing it is not
irreversible for a key holder: summing each group's winning direction gives
a pre-image close to the original (``attacks.iom_preimage``).

``IOM_THRESHOLD`` is measured like ``BIOHASH_THRESHOLD`` (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection.biohash import POPULATION_MEAN
from biometric_exchange.protection.common import (
    FloatMatrix,
    as_codes,
    as_templates,
    check_key,
    keyed_generator,
    paired_mismatch,
)

Indices = NDArray[np.uint8]
DEFAULT_HASHES = 128
DEFAULT_WIDTH = 16
IOM_THRESHOLD = 92.5 / 128
"""0.7227: pairs whose indices agree in at least 36 of 128 groups match.

Measured like ``BIOHASH_THRESHOLD`` (same data, keys and target FMR of
3.0e-7): FMR 1.4e-7 pooled (0.8-2.1e-7 per key); FNMR 1.6 %.
"""


@dataclass(frozen=True, eq=False, repr=False)
class IndexOfMaxScheme:
    """Per group of Gaussian directions, the index of the largest projection."""

    NAME = "iom"
    key: bytes
    hashes: int = DEFAULT_HASHES
    width: int = DEFAULT_WIDTH
    threshold: float = IOM_THRESHOLD
    centre: FloatMatrix = field(default_factory=POPULATION_MEAN.copy)
    directions: FloatMatrix = field(init=False)
    """(128, hashes * width): group ``i`` is columns ``i*width`` to ``(i+1)*width - 1``."""

    def __post_init__(self) -> None:
        if not 1 <= self.hashes <= 4096 or not 2 <= self.width <= 256:
            raise InvalidInput("hashes, width: expected 1-4096 groups of 2-256 directions")
        if (self.hashes, self.width) != (DEFAULT_HASHES, DEFAULT_WIDTH) and (
            self.threshold == IOM_THRESHOLD
        ):
            raise InvalidInput("threshold: measured for 128 groups of 16; measure another")
        centre = as_templates(np.reshape(self.centre, (1, -1)), name="centre")
        object.__setattr__(self, "centre", centre)
        rng = keyed_generator(check_key(self.key), self.NAME)
        directions = rng.standard_normal((TEMPLATE_DIM, self.hashes * self.width))
        object.__setattr__(self, "directions", directions)

    @property
    def name(self) -> str:
        return self.NAME

    def protect(self, templates: ArrayLike) -> Indices:
        centred = as_templates(templates) - self.centre
        projections = (centred @ self.directions).reshape(-1, self.hashes, self.width)
        indices: Indices = projections.argmax(axis=2).astype(np.uint8)
        return indices

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> FloatMatrix:
        collisions = self.one_hot(probes, "probes") @ self.one_hot(gallery, "gallery").T
        result: FloatMatrix = 1.0 - collisions.astype(np.float64) / self.hashes
        return result

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> FloatMatrix:
        return paired_mismatch(self.validated(a, "a"), self.validated(b, "b"))

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.compare(probes, gallery) < self.threshold
        return result

    def validated(self, values: ArrayLike, name: str = "indices") -> Indices:
        """``values`` as an (n, hashes) uint8 matrix of indices below width, or InvalidInput."""
        indices: Indices = as_codes(values, name=name, width=self.hashes)
        if np.any(indices >= self.width):
            raise InvalidInput(f"{name}: an index of max hash holds indices below {self.width}")
        return indices

    def one_hot(self, values: ArrayLike, name: str = "indices") -> NDArray[np.float32]:
        """Each row as ``hashes`` one-hot blocks (float32: the matmul counts collisions)."""
        indices = self.validated(values, name)
        columns = np.arange(self.hashes) * self.width + indices
        result = np.zeros((indices.shape[0], self.hashes * self.width), dtype=np.float32)
        np.put_along_axis(result, columns.astype(np.intp), 1.0, axis=1)
        return result
