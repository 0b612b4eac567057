"""Templates as int8 codes with a per-row scale, scored from dequantised tiles.

Row ``g`` is stored as ``codes = round(g / s)`` with ``s = max|g_i| / 127``
(int8, ``dim`` bytes) plus three float32 values: ``s``, ``|h|^2`` and an
upper bound of ``|g - h|``, where ``h = float32(codes * s)`` is exactly the
vector a search scores (dequantised tile by tile, so the float32 arithmetic
of ``engine`` applies to ``h`` unchanged). That is ``dim + 12`` bytes per row
(0.27x float32 at 128-d). By the triangle inequality
``| |q - g| - |q - h| | <= |g - h|``, so the engine's proof holds with the
residual widening every bound; shortlisted rows are re-scored exactly from
the float32 originals, which live in a memory-mapped file (``RowFile``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.columns import BLOCK_COLUMNS, ColumnBlocks
from biometric_exchange.matching.floatrows import score_tile, squared_norms
from biometric_exchange.matching.rowfile import RowFile

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]

SHORTLIST_MARGIN = 32
"""Wider than the exact engine's: the residual loosens the proof."""
_SCALE, _SQNORM, _RESIDUAL = 0, 1, 2


class QuantizedRows:
    """Rows ``0..size-1``: int8 codes and side values in memory, originals on disk."""

    def __init__(self, dim: int, directory: Path | None = None) -> None:
        self._dim = dim
        self._codes: ColumnBlocks[np.int8] = ColumnBlocks(dim, np.int8)
        self._side: ColumnBlocks[np.float32] = ColumnBlocks(3, np.float32)
        self._originals = RowFile(dim, directory)
        self._max_sqnorm = 0.0
        self._residual = 0.0
        self._scratch = threading.local()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def size(self) -> int:
        return self._codes.size

    @property
    def max_sqnorm(self) -> float:
        return self._max_sqnorm

    @property
    def residual(self) -> float:
        return self._residual

    @property
    def margin(self) -> int:
        return SHORTLIST_MARGIN

    @property
    def nbytes(self) -> int:
        """Bytes in memory: codes and side values (the originals are on disk)."""
        return self._codes.nbytes + self._side.nbytes

    def append(self, matrix: Floats) -> None:
        for start in range(0, matrix.shape[0], BLOCK_COLUMNS):
            part = matrix[start : start + BLOCK_COLUMNS]
            codes, side = quantize(part)
            self._codes.append(codes)
            self._side.append(side)
            self._originals.append(part)
            if part.shape[0]:
                self._max_sqnorm = max(self._max_sqnorm, float(side[_SQNORM].max()))
                self._residual = max(self._residual, float(side[_RESIDUAL].max()))

    def remove(self, sources: Rows, targets: Rows, size: int) -> None:
        for store in (self._codes, self._side, self._originals):
            store.move(sources, targets)
            store.truncate(size)
        norms = self._side.row(_SQNORM)
        self._max_sqnorm = float(norms.max()) if norms.size else 0.0
        residuals = self._side.row(_RESIDUAL)
        self._residual = float(residuals.max()) if residuals.size else 0.0

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        return self._codes.spans(width)

    def score(self, probes: Floats, start: int, stop: int, out: Floats) -> None:
        width = stop - start
        tile = self._tile(width)
        side = self._side.view(start, stop)
        np.multiply(self._codes.view(start, stop), side[_SCALE], out=tile[: self._dim])
        tile[self._dim] = side[_SQNORM]
        score_tile(probes, tile, out)

    def gather(self, rows: Rows) -> Floats:
        return self._originals.gather(rows)

    def templates(self, width: int) -> Iterator[tuple[int, Floats]]:
        for start in range(0, self.size, width):
            yield start, self._originals.view(start, min(self.size, start + width))

    def export(self, rows: Rows) -> Floats:
        return self._originals.gather(rows)

    def close(self) -> None:
        self._originals.close()

    def _tile(self, width: int) -> Floats:
        """This thread's (dim + 1, width) scratch tile."""
        tile: Floats | None = getattr(self._scratch, "tile", None)
        if tile is None or tile.shape[1] < width:
            tile = np.empty((self._dim + 1, width), dtype=np.float32)
            self._scratch.tile = tile
        return tile[:, :width]


def quantize(matrix: Floats) -> tuple[NDArray[np.int8], Floats]:
    """(dim, n) int8 codes and (3, n) side values (scale, |h|^2, |g - h| rounded up)."""
    scale = (np.abs(matrix).max(axis=1, initial=0.0) / np.float32(127)).astype(np.float32)
    divisor = np.where(scale > 0, scale, np.float32(1)).astype(np.float64)
    codes = np.clip(np.rint(matrix / divisor[:, None]), -127, 127).astype(np.int8)
    decoded = codes.astype(np.float32) * scale[:, None]
    side = np.empty((3, matrix.shape[0]), dtype=np.float32)
    side[_SCALE] = scale
    side[_SQNORM] = squared_norms(decoded)
    residual = np.linalg.norm(matrix.astype(np.float64) - decoded.astype(np.float64), axis=1)
    side[_RESIDUAL] = np.nextafter(residual.astype(np.float32), np.float32(np.inf))
    return np.ascontiguousarray(codes.T), side
