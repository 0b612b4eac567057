"""Float32 rows kept in a temporary file and memory-mapped.

Only the pages of rows actually read (a compact gallery's re-scored
shortlist) are brought into memory; the kernel may drop them again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]


class RowFile:
    """Rows ``0..size-1`` of ``dim`` float32 values in an anonymous temporary file."""

    def __init__(self, dim: int, directory: Path | None = None) -> None:
        self._dim = dim
        self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed in close()
        self._map: np.memmap[Any, np.dtype[np.float32]] | None = None
        self._capacity = 0
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, matrix: Floats) -> None:
        stop = self._size + matrix.shape[0]
        if stop > self._capacity:
            self._grow(max(stop, 2 * self._capacity, 1024))
        self._mapped()[self._size : stop] = matrix
        self._size = stop

    def gather(self, rows: Rows) -> Floats:
        """Rows ``rows`` (any shape) as an in-memory array, shape rows.shape + (dim,)."""
        if self._map is None:
            return np.empty((*rows.shape, self._dim), dtype=np.float32)
        return np.array(self._map[rows], dtype=np.float32)

    def view(self, start: int, stop: int) -> Floats:
        return self._mapped()[start:stop]

    def move(self, sources: Rows, targets: Rows) -> None:
        if sources.size:
            mapped = self._mapped()
            mapped[targets] = mapped[sources]

    def truncate(self, size: int) -> None:
        self._size = size

    def close(self) -> None:
        """Unmap and delete the file."""
        self._map = None
        self._file.close()

    def _mapped(self) -> np.memmap[Any, np.dtype[np.float32]]:
        if self._map is None:
            raise ValueError("row file is empty or closed")
        return self._map

    def _grow(self, capacity: int) -> None:
        self._file.truncate(capacity * self._dim * 4)
        self._map = np.memmap(self._file, dtype=np.float32, mode="r+", shape=(capacity, self._dim))
        self._capacity = capacity
