"""Ids of a gallery opened from an image, kept as the image's UTF-8 bytes.

``IdIndex`` holds a Python string, a dict entry and an int per row: about
130 bytes, 1.3 GB at 10M rows, more than the int8 codes. ``PackedIds`` keeps
the image's offsets and bytes (views of the mapping) plus two int32 maps
(row -> id, id -> row): about 25 bytes a row for ids of 9 characters. Strings are made only for the
rows a search returns, or for full listings. Looking ids up (membership,
removal) sorts a fixed-width copy of the ids once, on first use.

Ids are numbered in insertion order (the image's order, then appended ones);
an id's row changes when removals fill holes, exactly as in ``IdIndex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching.checks import id_list, preview
from biometric_exchange.matching.idindex import IdIndex

Rows = NDArray[np.intp]
Index = NDArray[np.int64]


class RowIds:
    """``by_row`` of packed ids: indexing with row numbers gives an object array of str."""

    def __init__(self, owner: PackedIds) -> None:
        self._owner = owner

    def __getitem__(self, rows: Rows) -> NDArray[np.object_]:
        rows = np.asarray(rows)
        return self._owner.decode(self._owner.row_to_id[rows.ravel()]).reshape(rows.shape)


class PackedIds(IdIndex):
    """Distinct ids of rows ``0..n-1`` as UTF-8 bytes and offsets."""

    def __init__(self, offsets: Index, raw: NDArray[np.uint8]) -> None:
        super().__init__()
        count = len(offsets) - 1
        self._offsets = offsets
        self._raw = raw
        self._size = count
        self.row_to_id = np.arange(count, dtype=np.int32)
        self._id_to_row = np.arange(count, dtype=np.int32)
        """-1 for an id removed."""
        self._keys: NDArray[np.bytes_] | None = None
        self._order: Index | None = None

    @staticmethod
    def usable(raw: NDArray[np.uint8]) -> bool:
        """Fixed-width lookups drop trailing NUL bytes: ids holding one need ``IdIndex``."""
        return not bool(np.any(raw == 0))

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and bool(self._find([item])[0] >= 0)

    @property
    def in_insertion_order(self) -> tuple[str, ...]:
        return tuple(self.decode(np.flatnonzero(self._id_to_row >= 0)).tolist())

    @property
    def by_row(self) -> RowIds:  # type: ignore[override]
        return RowIds(self)

    def rows_in_insertion_order(self) -> Rows:
        alive = self._id_to_row[self._id_to_row >= 0]
        return alive.astype(np.intp)

    def decode(self, index: NDArray[np.integer[Any]]) -> NDArray[np.object_]:
        """The ids numbered ``index`` (1-D) as an object array of str."""
        out = np.empty(index.size, dtype=object)
        starts, stops = self._offsets[index].tolist(), self._offsets[index + 1].tolist()
        raw = self._raw
        for slot, (start, stop) in enumerate(zip(starts, stops, strict=True)):
            out[slot] = raw[start:stop].tobytes().decode()
        return out

    def check_new(self, ids: Sequence[str]) -> list[str]:
        new_ids = id_list(ids)
        found = self._find(new_ids)
        present = [ident for ident, at in zip(new_ids, found.tolist(), strict=True) if at >= 0]
        if present:
            raise InvalidInput(f"ids: already in the gallery: {preview(present)}")
        return new_ids

    def append(self, new_ids: list[str]) -> None:
        encoded = [ident.encode() for ident in new_ids]
        lengths = np.fromiter((len(item) for item in encoded), np.int64, len(encoded))
        first = len(self._offsets) - 1
        self._raw = np.concatenate([self._raw, np.frombuffer(b"".join(encoded), np.uint8)])
        self._offsets = np.concatenate([self._offsets, self._offsets[-1] + np.cumsum(lengths)])
        numbers = np.arange(first, first + len(encoded), dtype=np.int32)
        rows = np.arange(self._size, self._size + len(encoded), dtype=np.int32)
        self.row_to_id = np.concatenate([self.row_to_id[: self._size], numbers])
        self._id_to_row = np.concatenate([self._id_to_row, rows])
        self._size += len(encoded)
        self._keys = self._order = None

    def plan_removal(self, ids: Sequence[str]) -> tuple[Rows, Rows]:
        gone = id_list(ids)
        found = self._find(gone)
        missing = [ident for ident, at in zip(gone, found.tolist(), strict=True) if at < 0]
        if missing:
            raise InvalidInput(f"ids: not in the gallery: {preview(missing)}")
        size = self._size
        rows = np.sort(self._id_to_row[found])
        self._id_to_row[found] = -1
        keep = size - rows.size
        targets = rows[rows < keep].astype(np.intp)
        tail = np.ones(size - keep, dtype=bool)
        tail[rows[rows >= keep] - keep] = False
        sources = (np.flatnonzero(tail) + keep).astype(np.intp)
        moved = self.row_to_id[sources]
        self.row_to_id[targets] = moved
        self._id_to_row[moved] = targets
        self.row_to_id = self.row_to_id[:keep]
        self._size = keep
        return sources, targets

    def _find(self, ids: list[str]) -> Index:
        """Per id, its number if present (not removed), else -1."""
        keys, order = self._lookup()
        width = keys.dtype.itemsize
        wanted = [ident.encode() for ident in ids]
        result = np.full(len(wanted), -1, dtype=np.int64)
        fits = np.fromiter((0 < len(w) <= width and b"\0" not in w for w in wanted), bool)
        if not fits.any() or not order.size:
            return result
        asked = np.array([w for w, ok in zip(wanted, fits, strict=True) if ok], dtype=keys.dtype)
        sorted_keys = keys[order]
        low = np.searchsorted(sorted_keys, asked, side="left")
        high = np.searchsorted(sorted_keys, asked, side="right")
        numbers = np.full(asked.size, -1, dtype=np.int64)
        for slot in np.flatnonzero(high > low).tolist():  # an id removed and added again
            candidates = order[low[slot] : high[slot]]  # repeats only
            live = candidates[self._id_to_row[candidates] >= 0]
            numbers[slot] = live[0] if live.size else -1
        result[np.flatnonzero(fits)] = numbers
        return result

    def _lookup(self) -> tuple[NDArray[np.bytes_], Index]:
        """Fixed-width keys of every id number and their sorted order (made once)."""
        if self._keys is None or self._order is None:
            lengths = np.diff(self._offsets)
            width = max(1, int(lengths.max(initial=1)))
            table = np.zeros((lengths.size, width), dtype=np.uint8)
            owner = np.repeat(np.arange(lengths.size), lengths)
            column = np.arange(int(lengths.sum())) - np.repeat(self._offsets[:-1], lengths)
            table[owner, column] = self._raw[self._offsets[0] : self._offsets[-1]]
            self._keys = table.view(f"S{width}").reshape(-1)
            self._order = np.argsort(self._keys, kind="stable")
        return self._keys, self._order
