"""Templates as int8 codes with a per-row scale, scored against int8 probes.

Rows and probes are quantised about a **centre** ``m`` (the mean of the first
rows added, kept with the codes): distances do not change under the shift,
and face encodings share a large mean vector, so the shifted values are
smaller and their rounding errors less than half as large. Below, ``g`` and
``q`` stand for ``g - m`` and ``q - m``, computed in float64.

Row ``g`` is stored as ``c = round(g / s)`` with ``s = max|g_i| / 127``
(int8, in 16-row panels: ``panels``) plus three float32 values: ``s``,
``|h|^2`` and an upper bound of ``|g - h|``, where ``h = s c`` (exactly).
That is ``dim + 12`` bytes per row (0.27x float32 at 128-d). A probe ``q``
is quantised the same way (``p = round(q / t)``, ``q~ = t p``), so a score
is one exact integer dot product ``p . c`` (AVX-512 VNNI, ``_int8scores``;
numpy where the extension is not built) and three float32 roundings::

    score = (-2 t s) * (p . c) + |h|^2  ~  |q~ - h|^2 - |q~|^2

By the triangle inequality ``|q - g| >= |q~ - h| - |q - q~| - |g - h|``, so
the engine's proof holds with both residuals widening every bound; the
rounding of the score (at most ``3u (|q~|^2 + 2|h|^2)``) is far inside the
engine's float32 error term. Shortlisted rows are re-scored exactly from the
float32 originals (``RowFile``, or a mapped snapshot).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.columns import BLOCK_COLUMNS, ColumnBlocks
from biometric_exchange.matching.panels import CodePanels
from biometric_exchange.matching.probes import Probes, quantize_probes
from biometric_exchange.matching.rowfile import RowFile

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]
Wide = NDArray[np.float64]

SHORTLIST_MARGIN = 128
"""Wider than the exact engine's: the residuals loosen the proof. At 1M synthetic
templates, one-probe top-10 searches with 32 failed the proof for 39 of 200 probes
(each then searched again, 8x wider) and none with 64 or more; 128 leaves room for
larger galleries (``benchmarks/int8_margin.py``; docs/matching.md)."""
_SCALE, _SQNORM, _RESIDUAL = 0, 1, 2


def _kernel() -> ModuleType | None:
    try:
        return importlib.import_module("biometric_exchange.matching._int8scores")
    except ImportError:  # pragma: no cover - built by the install unless no compiler
        return None


KERNEL = _kernel()


def kernel_name() -> str:
    """Which int8 kernel scores: ``avx512-vnni``, ``portable`` (C) or ``numpy``."""
    return str(KERNEL.KERNEL) if KERNEL is not None else "numpy"


class Originals(Protocol):
    """Where the float32 originals live: a temporary file, or a mapped snapshot."""

    def append(self, matrix: Floats) -> None: ...
    def gather(self, rows: Rows) -> Floats: ...
    def view(self, start: int, stop: int) -> Floats: ...
    def move(self, sources: Rows, targets: Rows) -> None: ...
    def truncate(self, size: int) -> None: ...
    def close(self) -> None: ...


class QuantizedRows:
    """Rows ``0..size-1``: int8 codes and side values in memory, originals on disk."""

    def __init__(
        self,
        dim: int,
        directory: Path | None = None,
        *,
        parts: tuple[CodePanels, ColumnBlocks[np.float32], Originals] | None = None,
        centre: Floats | None = None,
        numpy_only: bool = False,
    ) -> None:
        """``parts``: existing codes, side values and originals (a mapped snapshot),
        quantised about ``centre``; without parts, ``centre`` is the mean of the first
        rows appended unless given; ``numpy_only``: score with numpy even where the C
        kernel is built."""
        self._dim = dim
        if parts is None:
            parts = (CodePanels(dim), ColumnBlocks(3, np.float32), RowFile(dim, directory))
        elif centre is None:
            centre = np.zeros(dim, dtype=np.float32)
        self._centre = None if centre is None else _checked_centre(centre, dim)
        self._codes, self._side, self._originals = parts
        self._kernel = None if numpy_only else KERNEL
        self._max_sqnorm = 0.0
        self._residual = 0.0
        self._refresh_maxima()

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def size(self) -> int:
        return self._codes.size

    @property
    def centre(self) -> Floats:
        """The vector rows and probes are quantised about (zeros until rows are added)."""
        if self._centre is None:
            return np.zeros(self._dim, dtype=np.float32)
        return self._centre

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

    @property
    def parts(self) -> tuple[CodePanels, ColumnBlocks[np.float32], Originals]:
        return self._codes, self._side, self._originals

    def append(self, matrix: Floats) -> None:
        if self._centre is None and matrix.shape[0]:
            self._centre = centre_of(matrix)
        for start in range(0, matrix.shape[0], BLOCK_COLUMNS):
            part = matrix[start : start + BLOCK_COLUMNS]
            codes, side = quantize(part, self.centre)
            self._codes.append(np.ascontiguousarray(codes.T))
            self._side.append(side)
            self._originals.append(part)
            if part.shape[0]:
                self._max_sqnorm = max(self._max_sqnorm, float(side[_SQNORM].max()))
                self._residual = max(self._residual, float(side[_RESIDUAL].max()))

    def remove(self, sources: Rows, targets: Rows, size: int) -> None:
        for store in (self._codes, self._side, self._originals):
            store.move(sources, targets)
            store.truncate(size)
        self._refresh_maxima()

    def prepare(self, queries: Floats) -> Probes:
        return quantize_probes(queries, self._codes.groups, self.centre)

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        return self._codes.spans(width)

    def score(self, prepared: Probes, start: int, stop: int, out: Floats) -> None:
        side = self._side.view(start, stop)
        scales, norms = side[_SCALE], side[_SQNORM]
        if self._kernel is not None:
            self._kernel.scores(
                self._codes.panels(start, stop),
                self._codes.groups,
                stop - start,
                prepared.words,
                prepared.offsets,
                prepared.coefs,
                np.ascontiguousarray(scales),
                np.ascontiguousarray(norms),
                out,
                out.shape[0],
                out.strides[0] // out.itemsize,
            )
            return
        codes = self._codes.decoded(start, stop).astype(np.float32)
        dots = np.matmul(prepared.codes, codes)  # exact: integers below 2^24
        np.multiply(prepared.coefs[:, None], scales[None, :], out=out)
        np.multiply(out, dots, out=out)
        np.add(out, norms[None, :], out=out)

    def gather(self, rows: Rows) -> Floats:
        return self._originals.gather(rows)

    def templates(self, width: int) -> Iterator[tuple[int, Floats]]:
        for start in range(0, self.size, width):
            yield start, self._originals.view(start, min(self.size, start + width))

    def export(self, rows: Rows) -> Floats:
        return self._originals.gather(rows)

    def close(self) -> None:
        self._originals.close()

    def _refresh_maxima(self) -> None:
        norms = self._side.row(_SQNORM)
        self._max_sqnorm = float(norms.max()) if norms.size else 0.0
        residuals = self._side.row(_RESIDUAL)
        self._residual = float(residuals.max()) if residuals.size else 0.0


def centre_of(matrix: Floats) -> Floats:
    """The mean row of ``matrix``, as float32: the centre to quantise about."""
    centre: Floats = matrix.astype(np.float64).mean(axis=0).astype(np.float32)
    return centre


def _checked_centre(centre: Floats, dim: int) -> Floats:
    vector = np.ascontiguousarray(centre, dtype=np.float32)
    if vector.shape != (dim,) or not np.all(np.isfinite(vector)):
        raise ValueError(f"centre: expected {dim} finite values, got shape {vector.shape}")
    return vector


def quantize(rows: Floats, centre: Floats | None = None) -> tuple[NDArray[np.int8], Floats]:
    """(dim, n) int8 codes and (3, n) side values (scale, |h|^2, |g - h| rounded up) of
    ``g = rows - centre`` (in float64; zero centre when None), with ``h = scale * codes``
    exactly."""
    matrix = rows.astype(np.float64)
    if centre is not None:
        matrix -= centre.astype(np.float64)
    scale = (np.abs(matrix).max(axis=1, initial=0.0) / np.float32(127)).astype(np.float32)
    divisor = np.where(scale > 0, scale, np.float32(1)).astype(np.float64)
    codes = np.clip(np.rint(matrix / divisor[:, None]), -127, 127).astype(np.int8)
    decoded = codes.astype(np.float64) * scale.astype(np.float64)[:, None]  # exact
    side = np.empty((3, matrix.shape[0]), dtype=np.float32)
    side[_SCALE] = scale
    side[_SQNORM] = np.einsum("ij,ij->i", decoded, decoded)
    residual = np.linalg.norm(matrix - decoded, axis=1) * (1.0 + 1e-12)
    side[_RESIDUAL] = np.nextafter(residual.astype(np.float32), np.float32(np.inf))
    return np.ascontiguousarray(codes.T), side
