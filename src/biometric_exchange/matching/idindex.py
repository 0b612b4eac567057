"""Ids of a gallery's rows: row -> id array, id -> row map, and removal plans."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching.checks import id_list, preview
from biometric_exchange.matching.result import PAD_ID

Rows = NDArray[np.intp]


class IdIndex:
    """Distinct string ids of rows ``0..n-1``; remembers insertion order.

    Removal fills the holes with the last rows (``plan_removal``), so the
    storage moves only as many rows as were removed.
    """

    def __init__(self) -> None:
        self._ids: NDArray[np.object_] = np.empty(0, dtype=object)
        self._row_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item in self._row_of

    @property
    def in_insertion_order(self) -> tuple[str, ...]:
        return tuple(self._row_of)

    @property
    def by_row(self) -> NDArray[np.object_]:
        """Read-only view: the id of each row."""
        view = self._ids[: len(self._row_of)]
        view.setflags(write=False)
        return view

    def rows_in_insertion_order(self) -> Rows:
        return np.fromiter(self._row_of.values(), dtype=np.intp, count=len(self._row_of))

    def check_new(self, ids: Sequence[str]) -> list[str]:
        """``ids`` validated as new, distinct, non-empty strings."""
        new_ids = id_list(ids)
        present = [ident for ident in new_ids if ident in self._row_of]
        if present:
            raise InvalidInput(f"ids: already in the gallery: {preview(present)}")
        return new_ids

    def append(self, new_ids: list[str]) -> None:
        """Give ``new_ids`` (from ``check_new``) the next rows."""
        start = len(self._row_of)
        stop = start + len(new_ids)
        if stop > self._ids.shape[0]:
            grown = np.full(max(stop, 2 * self._ids.shape[0], 16), PAD_ID, dtype=object)
            grown[:start] = self._ids[:start]
            self._ids = grown
        self._ids[start:stop] = new_ids
        self._row_of.update(zip(new_ids, range(start, stop), strict=True))

    def plan_removal(self, ids: Sequence[str]) -> tuple[Rows, Rows]:
        """Forget ``ids`` (all-or-nothing); returns (sources, targets) of the rows to move.

        After the storage copies row ``sources[i]`` to ``targets[i]`` and drops
        every row from ``len(self)`` on, row ``r`` holds the template of
        ``by_row[r]`` again.
        """
        gone = id_list(ids)
        missing = [ident for ident in gone if ident not in self._row_of]
        if missing:
            raise InvalidInput(f"ids: not in the gallery: {preview(missing)}")
        size = len(self._row_of)
        rows = np.sort(np.fromiter((self._row_of.pop(i) for i in gone), np.intp, len(gone)))
        keep = size - rows.size
        targets = rows[rows < keep]
        tail = np.ones(size - keep, dtype=bool)
        tail[rows[rows >= keep] - keep] = False
        sources = np.flatnonzero(tail).astype(np.intp) + keep
        self._ids[targets] = self._ids[sources]
        self._ids[keep:size] = PAD_ID
        for target in targets.tolist():
            self._row_of[str(self._ids[target])] = target
        return sources, targets
