"""Float32 templates as the exact engine scores them: columns of (g, |g|^2)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.columns import BLOCK_COLUMNS, ColumnBlocks
from biometric_exchange.matching.probes import Probes, float_probes

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]

SHORTLIST_MARGIN = 8
"""Shortlist entries beyond k: enough to prove the top k of face-like data."""


class FloatRows:
    """Rows ``0..size-1`` of float32 templates, each stored with its squared norm."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self._columns: ColumnBlocks[np.float32] = ColumnBlocks(dim + 1, np.float32)
        self._max_sqnorm = 0.0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def size(self) -> int:
        return self._columns.size

    @property
    def max_sqnorm(self) -> float:
        return self._max_sqnorm

    @property
    def residual(self) -> float:
        return 0.0

    @property
    def margin(self) -> int:
        return SHORTLIST_MARGIN

    @property
    def nbytes(self) -> int:
        return self._columns.nbytes

    def append(self, matrix: Floats) -> None:
        """Append the rows of an (n, dim) float32 matrix."""
        for start in range(0, matrix.shape[0], BLOCK_COLUMNS):
            part = matrix[start : start + BLOCK_COLUMNS]
            columns = np.empty((self._dim + 1, part.shape[0]), dtype=np.float32)
            columns[: self._dim] = part.T
            columns[self._dim] = squared_norms(part)
            self._columns.append(columns)
            if part.shape[0]:
                self._max_sqnorm = max(self._max_sqnorm, float(columns[self._dim].max()))

    def remove(self, sources: Rows, targets: Rows, size: int) -> None:
        """Copy rows ``sources`` onto ``targets``, then keep the first ``size`` rows."""
        self._columns.move(sources, targets)
        self._columns.truncate(size)
        norms = self._columns.row(self._dim)
        self._max_sqnorm = float(norms.max()) if norms.size else 0.0

    def prepare(self, queries: Floats) -> Probes:
        return float_probes(queries)

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        return self._columns.spans(width)

    def score(self, probes: Probes, start: int, stop: int, out: Floats) -> None:
        score_tile(probes.form, self._columns.view(start, stop), out)

    def gather(self, rows: Rows) -> Floats:
        columns = self._columns.gather(rows.ravel())
        return columns[: self._dim].T.reshape(*rows.shape, self._dim)

    def templates(self, width: int) -> Iterator[tuple[int, Floats]]:
        for start, stop in self._columns.spans(width):
            yield start, self._columns.view(start, stop)[: self._dim].T

    def export(self, rows: Rows) -> Floats:
        """The (len(rows), dim) C-contiguous templates of ``rows``."""
        return np.ascontiguousarray(self.gather(rows))


GEMV_MAX_PROBES = 3
"""Up to this many probes, a tile is scored with one matrix-vector product per probe:
OpenBLAS's sgemm is slow for 2 or 3 rows (one 65,536-column tile, CPU time,
same process: sgemm costs 1.85x two gemv for 2 probes, 1.41x three for 3,
0.96x four for 4, 0.48x eight for 8). Each product is one call over the whole
tile: in a busy server every call back into Python waits for the GIL, so a
pass made of many small products (cache-sized chunks, faster alone) ran
several times slower there."""


def score_tile(probes: Floats, tile: Floats, out: Floats) -> None:
    """``out = probes @ tile`` for a (q, dim + 1) probe block and a (dim + 1, w) tile."""
    if 1 < probes.shape[0] <= GEMV_MAX_PROBES:
        for row in range(probes.shape[0]):
            np.matmul(probes[row], tile, out=out[row])
        return
    np.matmul(probes, tile, out=out)


def squared_norms(matrix: Floats) -> Floats:
    """Row squared norms, summed in float64 and stored as float32."""
    wide = matrix.astype(np.float64)
    norms: Floats = np.einsum("ij,ij->i", wide, wide).astype(np.float32)
    return norms
