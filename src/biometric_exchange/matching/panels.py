"""int8 codes in panels of 16 rows, the layout the int8 kernel streams.

A panel is ``(groups, 16)`` int32 words: word ``[k, r]`` holds the codes of
dimensions ``4k..4k+3`` of the panel's row ``r`` (``dim`` is padded to a
multiple of 4 with zero codes). Panels sit in blocks of ``BLOCK_COLUMNS``
rows, like ``ColumnBlocks``, so the store grows without copying what is
there; a block is one C-contiguous ``(panels, groups, 16)`` array, which may
also be a read-only view of a mapped file (``from_blocks``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.columns import BLOCK_COLUMNS

LANES = 16
"""Rows per panel."""
Rows = NDArray[np.intp]
Codes = NDArray[np.int8]
Words = NDArray[np.int32]


def groups_for(dim: int) -> int:
    return -(-dim // 4)


class CodePanels:
    """Rows ``0..size-1`` of ``dim`` int8 codes."""

    def __init__(self, dim: int, block: int = BLOCK_COLUMNS) -> None:
        if block % LANES:
            raise ValueError(f"block: a multiple of {LANES} rows")
        self.dim = dim
        self.groups = groups_for(dim)
        self.block = block
        self._blocks: list[Words] = []
        self._size = 0

    @classmethod
    def from_blocks(cls, dim: int, blocks: Sequence[Words], size: int) -> CodePanels:
        """A store over existing blocks (each ``(block // 16, groups, 16)``)."""
        store = cls(dim)
        store._blocks = list(blocks)
        store._size = size
        return store

    @property
    def size(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return sum(part.nbytes for part in self._blocks)

    def append(self, codes: Codes) -> None:
        """Append the rows of an (n, dim) int8 matrix."""
        done, count = 0, codes.shape[0]
        while done < count:
            index, offset = divmod(self._size, self.block)
            if index == len(self._blocks):
                self._blocks.append(np.zeros((0, self.groups, LANES), dtype=np.int32))
            take = min(count - done, self.block - offset)
            self._reserve(index, offset + take)
            rows = np.arange(offset, offset + take)
            self._write(self._blocks[index], rows, codes[done : done + take])
            done += take
            self._size += take

    def gather(self, rows: Rows) -> Codes:
        """The (len(rows), dim) codes of ``rows`` (1-D)."""
        out = np.empty((rows.size, self.groups * 4), dtype=np.int8)
        index, offset = np.divmod(rows, self.block)
        for part in np.unique(index).tolist():
            where = np.flatnonzero(index == part)
            picked = _bytes(self._blocks[part])[offset[where] // LANES, :, offset[where] % LANES]
            out[where] = picked.reshape(where.size, -1)
        return out[:, : self.dim]

    def move(self, sources: Rows, targets: Rows) -> None:
        """Copy row ``sources[i]`` to ``targets[i]`` (sources all after targets)."""
        if sources.size == 0:
            return
        values = self.gather(sources)
        index, offset = np.divmod(targets, self.block)
        for part in np.unique(index).tolist():
            where = np.flatnonzero(index == part)
            self._write(self._own(part), offset[where], values[where])

    def truncate(self, size: int) -> None:
        self._size = size
        del self._blocks[-(-size // self.block) :]

    def spans(self, width: int) -> Iterator[tuple[int, int]]:
        """(start, stop) row ranges of at most ``max(16, width)`` rows (rounded down to
        whole panels), never across a block; every start is a panel's first row."""
        step = max(LANES, width // LANES * LANES)
        for start in range(0, self._size, self.block):
            end = min(self._size, start + self.block)
            for first in range(start, end, step):
                yield first, min(end, first + step)

    def panels(self, start: int, stop: int) -> Words:
        """The panels of rows ``start..stop-1`` (``start`` a panel's first row, one block)."""
        index, offset = divmod(start, self.block)
        first = offset // LANES
        return self._blocks[index][first : first + -(-(stop - start) // LANES)]

    def decoded(self, start: int, stop: int) -> Codes:
        """The (dim, stop - start) codes of rows ``start..stop-1`` (as ``panels``)."""
        words = _bytes(self.panels(start, stop))
        columns = words.transpose(1, 3, 0, 2).reshape(self.groups * 4, -1)
        return columns[: self.dim, : stop - start]

    def blocks(self) -> list[Words]:
        """The blocks, the last one trimmed to whole panels in use."""
        parts = list(self._blocks)
        if parts:
            used = self._size - (len(parts) - 1) * self.block
            parts[-1] = parts[-1][: -(-used // LANES)]
        return parts

    def _own(self, index: int) -> Words:
        """Block ``index``, copied first if it is a read-only view (of a mapped file)."""
        part = self._blocks[index]
        if not part.flags.writeable:
            part = np.array(part)
            self._blocks[index] = part
        return part

    def _write(self, part: Words, rows: Rows, codes: Codes) -> None:
        padded = np.zeros((len(rows), self.groups * 4), dtype=np.int8)
        padded[:, : self.dim] = codes
        _bytes(part)[rows // LANES, :, rows % LANES] = padded.reshape(len(rows), self.groups, 4)

    def _reserve(self, index: int, needed: int) -> None:
        part = self._own(index)
        panels = -(-needed // LANES)
        if panels <= part.shape[0]:
            return
        capacity = min(self.block // LANES, max(panels, 2 * part.shape[0], 16))
        grown = np.zeros((capacity, self.groups, LANES), dtype=np.int32)
        grown[: part.shape[0]] = part
        self._blocks[index] = grown


def _bytes(words: Words) -> NDArray[np.int8]:
    """``(panels, groups, 16)`` words as ``(panels, groups, 16, 4)`` codes."""
    return words.view(np.int8).reshape(*words.shape, 4)
