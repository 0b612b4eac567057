"""Probes as a source scores them, with what the engine's proof needs to know.

``Probes.sqnorms`` is ``|q~|^2`` of the vector actually scored and
``Probes.residual`` an upper bound of ``|q - q~|`` (0 when ``q`` is scored
as it is): the engine widens its bounds by it, as by a gallery's residual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

Floats = NDArray[np.float32]
Wide = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Probes:
    form: Floats
    """Float probes: rows ``(-2q, 1)`` (empty for int8 probes)."""
    sqnorms: Wide
    residual: Wide
    words: NDArray[np.int32] = field(default_factory=lambda: np.empty((0, 0), np.int32))
    """int8 probes: codes packed 4 to a word, (q, groups)."""
    codes: Floats = field(default_factory=lambda: np.empty((0, 0), np.float32))
    """int8 probes: the codes as float32, (q, dim)."""
    offsets: NDArray[np.int32] = field(default_factory=lambda: np.empty(0, np.int32))
    """int8 probes: 128 * the sum of the codes."""
    coefs: Floats = field(default_factory=lambda: np.empty(0, np.float32))
    """int8 probes: -2 * the scale."""


def float_probes(queries: Floats) -> Probes:
    """Probes scored as they are: rows ``(-2q, 1)`` against columns ``(g, |g|^2)``."""
    count, dim = queries.shape
    augmented = np.empty((count, dim + 1), dtype=np.float32)
    np.multiply(queries, -2.0, out=augmented[:, :dim])
    augmented[:, dim] = 1.0
    return Probes(augmented, squared_norms(queries), np.zeros(count))


def quantize_probes(queries: Floats, groups: int, centre: Floats | None = None) -> Probes:
    """Probes as int8 codes ``p = round(q / t)``, ``t = max|q_i| / 127``; ``q~ = t p``,
    where ``q`` is the query less ``centre`` (in float64; as it is when None)."""
    count, dim = queries.shape
    shifted = queries.astype(np.float64)
    if centre is not None:
        shifted -= centre.astype(np.float64)
    queries_wide = shifted
    scale = (np.abs(queries_wide).max(axis=1, initial=0.0) / 127).astype(np.float32)
    divisor = np.where(scale > 0, scale, np.float32(1)).astype(np.float64)
    codes = np.clip(np.rint(queries_wide / divisor[:, None]), -127, 127).astype(np.int8)
    padded = np.zeros((count, groups * 4), dtype=np.int8)
    padded[:, :dim] = codes
    scored = codes.astype(np.float64) * scale.astype(np.float64)[:, None]  # exact
    residual = np.linalg.norm(queries_wide - scored, axis=1) * (1.0 + 1e-12)
    probes = Probes(
        form=np.empty((0, 0), np.float32),
        sqnorms=squared_norms(scored),
        residual=residual,
        words=padded.view(np.int32),
        codes=codes.astype(np.float32),
        offsets=(128 * codes.astype(np.int32).sum(axis=1)).astype(np.int32),
        coefs=(np.float32(-2.0) * scale).astype(np.float32),
    )
    return probes


def squared_norms(matrix: NDArray[Any]) -> Wide:
    wide = matrix.astype(np.float64)
    norms: Wide = np.einsum("ij,ij->i", wide, wide)
    return norms
