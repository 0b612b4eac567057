"""Float32 originals read from a mapped snapshot image (read-only pages, shared).

Only the rows a search re-ranks are read, so only their pages become part of
the process. Changes (entries removed: tail rows moved into the holes) are
kept in a small private overlay; the mapping itself is never written.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]


class MappedRows:
    """Rows ``0..size-1`` of an ``(n, dim)`` float32 array, with an overlay of moved rows."""

    def __init__(self, rows: Floats) -> None:
        self._rows = rows
        self._size = int(rows.shape[0])
        self._moved: Rows = np.empty(0, dtype=np.intp)
        """Sorted rows whose template is in ``_values`` instead of the mapping."""
        self._values: Floats = np.empty((0, rows.shape[1]), dtype=np.float32)
        self._extra: Floats = np.empty((0, rows.shape[1]), dtype=np.float32)
        """Rows appended after the mapped ones."""

    @property
    def size(self) -> int:
        return self._size

    def append(self, matrix: Floats) -> None:
        mapped = self._rows.shape[0]
        rows = np.arange(self._size, self._size + matrix.shape[0], dtype=np.intp)
        self._extra = self._extra[: max(0, self._size - mapped)]
        self._extra = np.concatenate([self._extra, matrix[rows >= mapped]])
        self._patch(rows[rows < mapped], matrix[rows < mapped])
        self._size += matrix.shape[0]

    def gather(self, rows: Rows) -> Floats:
        flat = rows.ravel()
        mapped = self._rows.shape[0]
        inside = flat < mapped
        out = np.empty((flat.size, self._rows.shape[1]), dtype=np.float32)
        out[inside] = self._rows[flat[inside]]
        out[~inside] = self._extra[flat[~inside] - mapped]
        if self._moved.size:
            at = np.searchsorted(self._moved, flat)
            hit = (at < self._moved.size) & (
                self._moved[np.minimum(at, self._moved.size - 1)] == flat
            )
            out[hit] = self._values[at[hit]]
        return out.reshape(*rows.shape, self._rows.shape[1])

    def view(self, start: int, stop: int) -> Floats:
        if self._moved.size == 0 and stop <= self._rows.shape[0]:
            return self._rows[start:stop]
        return self.gather(np.arange(start, stop, dtype=np.intp))

    def move(self, sources: Rows, targets: Rows) -> None:
        if sources.size:
            self._patch(targets, self.gather(sources))

    def _patch(self, rows: Rows, values: Floats) -> None:
        """Rows ``rows`` now hold ``values`` (mapped rows via the overlay)."""
        mapped = self._rows.shape[0]
        beyond = rows >= mapped
        self._extra[rows[beyond] - mapped] = values[beyond]
        rows, values = rows[~beyond], values[~beyond]
        if rows.size == 0:
            return
        keep = ~np.isin(self._moved, rows)
        merged = np.concatenate([self._moved[keep], rows])
        order = np.argsort(merged, kind="stable")
        self._moved = merged[order]
        self._values = np.concatenate([self._values[keep], values])[order]

    def truncate(self, size: int) -> None:
        self._size = size
        self._extra = self._extra[: max(0, size - self._rows.shape[0])]
        keep = self._moved < size
        self._moved, self._values = self._moved[keep], self._values[keep]

    def close(self) -> None:
        """Drop the reference to the mapping (unmapped once nothing else holds it)."""
        self._rows = np.empty((0, self._rows.shape[1]), dtype=np.float32)
        self._size = 0
