"""How well face_recognition tells drawn faces apart: match rates at the tolerance.

``identities`` drawn identities (``faces.identity_seed(seed, i)``) times
``captures`` captures each are encoded by ``encode`` (``biometric_exchange.faces
.encode_image`` with the real model; passed in, so this module needs no dlib).
Every pair of two captures of one identity is a genuine pair, every pair of
captures of two identities an impostor pair; a pair matches below the
tolerance (face_recognition's ``compare_faces``). Rates carry 95 % Wilson
intervals (pairs share images, so the intervals are narrower than an
identity-level bootstrap would give).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy import stats

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.faces import draw_face, identity_seed

TOLERANCE = 0.6
Encoder = Callable[[Image.Image], NDArray[np.float32]]


@dataclass(frozen=True)
class PairRate:
    pairs: int
    matches: int
    median_distance: float

    @property
    def rate(self) -> float:
        return self.matches / self.pairs

    def interval(self) -> tuple[float, float]:
        ci = stats.binomtest(self.matches, self.pairs).proportion_ci(0.95, method="wilson")
        return float(ci.low), float(ci.high)

    def describe(self) -> str:
        low, high = self.interval()
        return (
            f"{self.matches:,} of {self.pairs:,} match ({self.rate:.1%}, 95 % CI "
            f"{low:.1%}-{high:.1%}); median distance {self.median_distance:.3f}"
        )


@dataclass(frozen=True)
class FaceRates:
    identities: int
    captures: int
    tolerance: float
    genuine: PairRate
    impostor: PairRate


def _rate(distances: NDArray[np.float64], tolerance: float) -> PairRate:
    return PairRate(
        int(distances.size),
        int(np.count_nonzero(distances < tolerance)),
        float(np.median(distances)),
    )


def drawn_face_rates(
    encode: Encoder,
    *,
    identities: int,
    captures: int = 3,
    seed: int = 2017,
    tolerance: float = TOLERANCE,
) -> FaceRates:
    """Encode the drawn faces and count matches among genuine and impostor pairs."""
    if identities < 2 or captures < 2:
        raise InvalidInput("identities, captures: need at least 2 of each")
    rows = []
    for index in range(identities):
        identity = identity_seed(seed, index)
        rows += [np.asarray(encode(draw_face(identity, c)), np.float64) for c in range(captures)]
    templates = np.stack(rows)
    owner = np.repeat(np.arange(identities), captures)
    squared = np.einsum("ij,ij->i", templates, templates)
    gram = squared[:, None] + squared[None, :] - 2.0 * templates @ templates.T
    distances = np.sqrt(np.maximum(gram, 0.0))
    upper = np.triu_indices(len(rows), 1)
    same = (owner[:, None] == owner[None, :])[upper]
    pairs = distances[upper]
    return FaceRates(
        identities,
        captures,
        tolerance,
        _rate(pairs[same], tolerance),
        _rate(pairs[~same], tolerance),
    )
