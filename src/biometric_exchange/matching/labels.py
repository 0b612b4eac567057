"""What a watchlist search tells of each entry, kept in a snapshot after its image.

Per row, two numbers and no Python object: ``kind`` (uint32), the index of a
tuple of strings in ``kinds`` (the caller's facts about the entry: a
watchlist's category and what makes the subject protected; distinct tuples
are few), and ``last_day``, the last day the entry is in force as a
proleptic ordinal (int32; ``NO_END`` for an entry without end). ``stamp`` says
what the labels were read at (the store's watchlist version): a reader
compares it with the store before trusting them.

The block (``encode_block``), little-endian, page-aligned after the image:
``MAGIC``, a u32 length and a JSON header (stamp, count, kinds) padded to 8
bytes; the ids' numbers sorted by their bytes (int32, ``idorder``), then
``last_day``, then ``kind``; last a footer, ``MAGIC`` and the block's offset
(u64), by which a reader finds it from the end. Read from a mapped snapshot,
the arrays are views of the mapping.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAGIC = b"BXLABEL1"
NO_END = int(np.iinfo(np.int32).max)
"""``last_day`` of an entry in force without end."""
_HEAD = struct.Struct("<8sI")
_FOOT = struct.Struct("<8sQ")
FOOTER_BYTES = _FOOT.size

Kind = tuple[str, ...]


class LabelError(ValueError):
    """Labels whose header or arrays do not add up."""


@dataclass(frozen=True, eq=False)
class EntryLabels:
    """Row ``r``'s facts are ``kinds[kind[r]]``; it is in force through ``last_day[r]``."""

    stamp: str
    kinds: tuple[Kind, ...]
    kind: NDArray[np.uint32]
    last_day: NDArray[np.int32]

    @property
    def count(self) -> int:
        return int(self.kind.size)

    def in_force(self, day: int) -> NDArray[np.bool_]:
        """Which rows are in force on ``day`` (a proleptic ordinal)."""
        found: NDArray[np.bool_] = self.last_day >= day
        return found

    def copy(self) -> EntryLabels:
        """The same labels in memory of their own (not views of a mapping)."""
        return EntryLabels(self.stamp, self.kinds, self.kind.copy(), self.last_day.copy())


def encode_block(labels: EntryLabels, order: NDArray[np.int32], at: int) -> bytes:
    """The block of ``labels`` and the ids' sorted ``order``, to be written at offset
    ``at`` of the snapshot's plaintext (a multiple of 8)."""
    if order.size != labels.count:
        raise LabelError(f"order: {order.size} ids for {labels.count} rows")
    head = json.dumps(
        {"stamp": labels.stamp, "count": labels.count, "kinds": [list(k) for k in labels.kinds]},
        separators=(",", ":"),
    ).encode()
    head += b" " * (-(_HEAD.size + len(head)) % 8)
    return b"".join(
        [
            _HEAD.pack(MAGIC, len(head)),
            head,
            order.astype("<i4", copy=False).tobytes(),
            labels.last_day.astype("<i4", copy=False).tobytes(),
            labels.kind.astype("<u4", copy=False).tobytes(),
            _FOOT.pack(MAGIC, at),
        ]
    )


def read_block(view: memoryview, count: int) -> tuple[EntryLabels, NDArray[np.int32]] | None:
    """The labels and id order at the end of ``view`` for ``count`` rows, or None when
    it ends without a block (a snapshot written before labels were kept)."""
    if len(view) < _FOOT.size:
        return None
    magic, at = _FOOT.unpack_from(view, len(view) - _FOOT.size)
    if magic != MAGIC:
        return None
    end = len(view) - _FOOT.size
    if at % 8 or at + _HEAD.size > end:
        raise LabelError("footer does not point at a block")
    magic, length = _HEAD.unpack_from(view, at)
    start = at + _HEAD.size + length
    if magic != MAGIC or start % 8 or end - start != 12 * count:
        raise LabelError(f"block does not hold {count} rows")
    try:
        head: Any = json.loads(bytes(view[at + _HEAD.size : start]))
    except ValueError as exc:
        raise LabelError("header is not JSON") from exc
    stamp, kinds = _header(head, count)
    order = np.frombuffer(view, np.int32, count, start)
    last_day = np.frombuffer(view, np.int32, count, start + 4 * count)
    kind = np.frombuffer(view, np.uint32, count, start + 8 * count)
    if count and (
        int(kind.max()) >= len(kinds) or int(order.min()) < 0 or int(order.max()) >= count
    ):
        raise LabelError("a row's kind or number is out of range")
    return EntryLabels(stamp, kinds, kind, last_day), order


def _header(head: Any, count: int) -> tuple[str, tuple[Kind, ...]]:
    if not isinstance(head, dict) or head.get("count") != count:
        raise LabelError(f"header does not describe {count} rows")
    stamp, kinds = head.get("stamp"), head.get("kinds")
    if not isinstance(stamp, str):
        raise LabelError("stamp: expected a string")
    if not isinstance(kinds, list) or not all(
        isinstance(k, list) and all(isinstance(s, str) for s in k) for k in kinds
    ):
        raise LabelError("kinds: expected lists of strings")
    return stamp, tuple(tuple(k) for k in kinds)


class LabelsBuilder:
    """Labels made chunk by chunk, in row order: a kind code per distinct tuple."""

    def __init__(self, stamp: str) -> None:
        self._stamp = stamp
        self._codes: dict[Kind, int] = {}
        self._kind: list[NDArray[np.uint32]] = []
        self._last_day: list[NDArray[np.int32]] = []

    def add(self, kinds: Sequence[Kind], last_days: Sequence[int]) -> None:
        """The next ``len(kinds)`` rows: their facts and last days in force."""
        if len(kinds) != len(last_days):
            raise LabelError(f"last_days: {len(last_days)} for {len(kinds)} rows")
        codes = self._codes
        self._kind.append(
            np.fromiter((codes.setdefault(k, len(codes)) for k in kinds), np.uint32, len(kinds))
        )
        self._last_day.append(np.asarray(last_days, dtype=np.int32).reshape(-1))

    def build(self) -> EntryLabels:
        return EntryLabels(
            self._stamp,
            tuple(self._codes),
            np.concatenate([*self._kind, np.empty(0, np.uint32)]),
            np.concatenate([*self._last_day, np.empty(0, np.int32)]),
        )
