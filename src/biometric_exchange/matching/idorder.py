"""Finding ids among an image's packed ids through the image's id order section.

An image keeps, beside its ids (UTF-8 bytes and offsets, in row order), their
numbers sorted by those bytes (``sorted_order``, made when the image is
written). So an id's number is a binary search away, with no index built when
the image opens: ``IdOrder`` does a few lookups one by one and many in one
vectorised pass over a fixed-width copy made for that pass.
``SortedIds`` is ``PackedIds`` looking ids up that way.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.packedids import PackedIds

Numbers = NDArray[np.int64]
ONE_BY_ONE = 4096
"""Lookups up to this many ids search one by one; more make one fixed-width pass."""


def sorted_order(ids: Sequence[str]) -> NDArray[np.int32]:
    """The numbers of distinct ``ids`` ordered by their UTF-8 bytes (code point order)."""
    if all(a < b for a, b in itertools.pairwise(ids)):
        return np.arange(len(ids), dtype=np.int32)
    return np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int32)


class IdOrder:
    """Ids numbered ``0..n-1`` (``raw[offsets[i]:offsets[i+1]]``) and ``order``, their
    numbers sorted by those bytes."""

    def __init__(
        self, offsets: NDArray[np.int64], raw: NDArray[np.uint8], order: NDArray[np.int32]
    ) -> None:
        self._offsets = offsets
        self._raw = raw
        self._order = order
        self._has_nul: bool | None = None
        """Whether an id holds a NUL byte (fixed-width bytes would drop it): found once."""

    def __len__(self) -> int:
        return int(self._order.size)

    def copy(self) -> IdOrder:
        """The same ids in memory of their own (not views of an image)."""
        return IdOrder(self._offsets.copy(), self._raw.copy(), self._order.copy())

    def decode(self, numbers: Sequence[int] | NDArray[np.integer]) -> list[str]:
        """The ids numbered ``numbers``."""
        offsets, raw = self._offsets, self._raw
        return [
            raw[offsets[n] : offsets[n + 1]].tobytes().decode()
            for n in np.asarray(numbers).tolist()
        ]

    def numbers(self, ids: Sequence[str]) -> Numbers:
        """Each id's number, -1 for an id not among them."""
        if self._has_nul is None:
            self._has_nul = bool(np.any(self._raw == 0))
        if len(ids) <= ONE_BY_ONE or self._has_nul:
            return np.fromiter((self._number(i.encode()) for i in ids), np.int64, len(ids))
        return self._numbers_at_once([i.encode() for i in ids])

    def _key(self, position: int) -> bytes:
        number = int(self._order[position])
        return self._raw[self._offsets[number] : self._offsets[number + 1]].tobytes()

    def _number(self, wanted: bytes) -> int:
        size = len(self)
        at = bisect.bisect_left(range(size), wanted, key=self._key)
        if at < size and self._key(at) == wanted:
            return int(self._order[at])
        return -1

    def _numbers_at_once(self, wanted: list[bytes]) -> Numbers:
        """One pass: every id as fixed-width bytes in sorted order, searched at once
        (ids hold no NUL byte here, which fixed-width bytes would drop)."""
        starts = self._offsets[:-1][self._order]
        lengths = self._offsets[1:][self._order] - starts
        width = max(1, int(lengths.max(initial=1)))
        table = np.zeros((len(self), width), dtype=np.uint8)
        for column in range(width):
            rows = np.flatnonzero(lengths > column)
            table[rows, column] = self._raw[starts[rows] + column]
        keys = table.view(f"S{width}").reshape(-1)
        del table
        result = np.full(len(wanted), -1, dtype=np.int64)
        fits = np.fromiter((0 < len(w) <= width and b"\0" not in w for w in wanted), bool)
        if not fits.any() or not keys.size:
            return result
        asked = np.array([w for w, ok in zip(wanted, fits, strict=True) if ok], dtype=keys.dtype)
        at = np.minimum(np.searchsorted(keys, asked), keys.size - 1)
        hit = keys[at] == asked
        numbers = np.where(hit, self._order[at], -1)
        result[np.flatnonzero(fits)] = numbers
        return result


class SortedIds(PackedIds):
    """``PackedIds`` of an image that looks ids up by the image's id order: nothing is
    sorted when the image opens, nor on the first lookup (until an id is appended)."""

    def __init__(
        self, offsets: NDArray[np.int64], raw: NDArray[np.uint8], order: NDArray[np.int32]
    ) -> None:
        super().__init__(offsets, raw)
        self._sorted: IdOrder | None = IdOrder(offsets, raw, order)

    def append(self, new_ids: list[str]) -> None:
        self._sorted = None
        super().append(new_ids)

    def _find(self, ids: list[str]) -> Numbers:
        if self._sorted is None:
            return super()._find(ids)
        numbers = self._sorted.numbers(ids)
        present = np.flatnonzero(numbers >= 0)
        removed = self._id_to_row[numbers[present]] < 0
        numbers[present[removed]] = -1
        return numbers
