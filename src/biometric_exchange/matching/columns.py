"""Column-major row storage in fixed-size blocks.

Row ``r`` of a gallery is column ``r % block`` of block ``r // block``; each
block is a C-contiguous (height, block) array. Column storage makes a one-probe
search a streaming ``y += q[j] * row_j`` (BLAS gemv "N"), which runs near
memory bandwidth; blocks let the gallery grow without copying what is there
(only the last block grows, by doubling, up to ``block`` columns).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

BLOCK_COLUMNS = 1 << 16
"""Columns per full block."""

Scalar = TypeVar("Scalar", bound=np.generic)
Rows = NDArray[np.intp]


class ColumnBlocks(Generic[Scalar]):
    """``size`` columns of ``height`` values of one dtype."""

    def __init__(self, height: int, dtype: type[Scalar], block: int = BLOCK_COLUMNS) -> None:
        self.height = height
        self.block = block
        self._dtype = dtype
        self._blocks: list[NDArray[Scalar]] = []
        self._size = 0

    @classmethod
    def from_blocks(
        cls, height: int, dtype: type[Scalar], blocks: list[NDArray[Scalar]], size: int
    ) -> ColumnBlocks[Scalar]:
        """A store over existing (height, block) blocks, such as read-only views of a
        mapped file; a block is copied before its first write."""
        store = cls(height, dtype)
        store._blocks = list(blocks)
        store._size = size
        return store

    @property
    def size(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held, including the unused capacity of the last block."""
        return sum(part.nbytes for part in self._blocks)

    def append(self, columns: NDArray[Scalar]) -> None:
        """Append the columns of a (height, m) array."""
        done, count = 0, columns.shape[1]
        while done < count:
            index, offset = divmod(self._size, self.block)
            if index == len(self._blocks):
                self._blocks.append(np.empty((self.height, 0), dtype=self._dtype))
            take = min(count - done, self.block - offset)
            self._reserve(index, offset + take)
            self._blocks[index][:, offset : offset + take] = columns[:, done : done + take]
            done += take
            self._size += take

    def gather(self, rows: Rows) -> NDArray[Scalar]:
        """Columns ``rows`` (1-D, any order) as a (height, len(rows)) array."""
        if rows.size and int(rows[-1]) - int(rows[0]) + 1 == rows.size:
            first, last = divmod(int(rows[0]), self.block), int(rows[-1]) // self.block
            if first[0] == last and bool(np.all(np.diff(rows) == 1)):  # one run in one block
                return self._blocks[first[0]][:, first[1] : first[1] + rows.size].copy()
        out = np.empty((self.height, rows.size), dtype=self._dtype)
        index, offset = np.divmod(rows, self.block)
        if len(self._blocks) == 1:
            out[:] = self._blocks[0][:, offset]
            return out
        for part in np.unique(index).tolist():
            where = np.flatnonzero(index == part)
            out[:, where] = self._blocks[part][:, offset[where]]
        return out

    def move(self, sources: Rows, targets: Rows) -> None:
        """Copy column ``sources[i]`` to ``targets[i]`` (sources all after targets)."""
        if sources.size == 0:
            return
        values = self.gather(sources)
        index, offset = np.divmod(targets, self.block)
        for part in np.unique(index).tolist():
            where = np.flatnonzero(index == part)
            if not self._blocks[part].flags.writeable:
                self._blocks[part] = np.array(self._blocks[part])
            self._blocks[part][:, offset[where]] = values[:, where]

    def truncate(self, size: int) -> None:
        """Keep the first ``size`` columns; empty blocks are freed."""
        self._size = size
        del self._blocks[-(-size // self.block) :]

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        """(start, stop) column ranges of at most ``width``, never across a block."""
        for start in range(0, self._size, self.block):
            end = min(self._size, start + self.block)
            for first in range(start, end, width):
                yield first, min(end, first + width)

    def view(self, start: int, stop: int) -> NDArray[Scalar]:
        """The (height, stop - start) view of columns in one block (see ``spans``)."""
        index, offset = divmod(start, self.block)
        return self._blocks[index][:, offset : offset + stop - start]

    def row(self, index: int) -> NDArray[Scalar]:
        """Values of one row (one of ``height``) over all columns, concatenated."""
        if not self._blocks:
            return np.empty(0, dtype=self._dtype)
        last = self._size - (len(self._blocks) - 1) * self.block
        parts = [part[index] for part in self._blocks[:-1]] + [self._blocks[-1][index, :last]]
        return np.concatenate(parts)

    def _reserve(self, index: int, needed: int) -> None:
        part = self._blocks[index]
        if not part.flags.writeable:
            part = self._blocks[index] = np.array(part)
        if needed <= part.shape[1]:
            return
        capacity = min(self.block, max(needed, 2 * part.shape[1], 16))
        grown = np.empty((self.height, capacity), dtype=self._dtype)
        used = min(part.shape[1], self._size - index * self.block)
        grown[:, :used] = part[:, :used]
        self._blocks[index] = grown
