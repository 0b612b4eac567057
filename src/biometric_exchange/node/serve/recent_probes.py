"""One partner's recent probes, and the probes that repeat or copy one of them.

A probe is refused when it lies within ``radius`` of a recent probe (a
near-duplicate), or when its difference to one lies, for at least
``axis_share`` of its squared norm, within ``AXIS_COORDINATES`` coordinates
(an axis-perturbed copy, whatever the size of the step). The same holds
between the probes of one request. An exact repeat under the reference of
the probe it repeats is a retry, allowed and not remembered twice.

The probes are kept centred on the population mean in a preallocated ring,
split into ``AXIS_COORDINATES + 1`` blocks of coordinates, each row stored as
``[x_b, 1, |x_b|²]`` so that one product with ``[-2 q_b, |q_b|², 1]`` gives
the squared distance within the block. A copy perturbed in two coordinates
leaves at least one block untouched, so the pairs worth an exact look are
those within ``radius``, or with one block holding at most ``1 - axis_share``
of their squared distance: few, and checked exactly in float64.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput, NearDuplicateProbe

AXIS_COORDINATES = 2
BLOCKS = AXIS_COORDINATES + 1
TILE_CELLS = 32_768
"""(probe, recent probe) scores computed at once, so that they stay in the cache."""
NEAR_SLACK = 1e-3
"""Pairs this much (relatively) past the radius are still checked exactly..."""
ROUNDING = 1e-5
"""...and this share of the probes' mean squared norm more (float32 rounding)."""
SHARE_SLACK = 1e-3
"""Pairs whose least block holds up to ``1 - axis_share`` plus this are checked exactly."""
Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class _Pairs:
    """Pairs (probe, other) found offending, with what was measured."""

    probe: NDArray[np.intp]
    other: NDArray[np.intp]
    distance: NDArray[np.float64]
    share: NDArray[np.float64]
    """Share of the squared difference in the ``AXIS_COORDINATES`` largest coordinates."""
    retry: NDArray[np.bool_]


_NONE = np.zeros(0, np.intp)
_NO_PAIRS = _Pairs(_NONE, _NONE, np.zeros(0), np.zeros(0), np.zeros(0, np.bool_))
"""A request of one probe pairs with nothing of its own."""


class _Scratch:
    """Reused buffers for one tile's scores (used under the owner's lock)."""

    def __init__(self) -> None:
        self._floats = np.zeros(0, np.float32)
        self._flags = np.zeros(0, np.bool_)

    def floats(self, count: int, rows: int, cols: int) -> list[Matrix]:
        size = rows * cols
        if self._floats.size < count * size:
            self._floats = np.empty(count * size, np.float32)
        return [self._floats[k * size : (k + 1) * size].reshape(rows, cols) for k in range(count)]

    def flags(self, count: int, rows: int, cols: int) -> list[NDArray[np.bool_]]:
        size = rows * cols
        if self._flags.size < count * size:
            self._flags = np.empty(count * size, np.bool_)
        return [self._flags[k * size : (k + 1) * size].reshape(rows, cols) for k in range(count)]


class RecentProbes:
    """A partner's latest ``capacity`` probes. Safe to share between threads."""

    def __init__(
        self, *, capacity: int, origin: NDArray[np.float32], radius: float, axis_share: float
    ) -> None:
        dim = int(origin.shape[0])
        if dim < BLOCKS:
            raise InvalidInput(f"templates of {dim} values are too short to screen")
        if capacity < 1 or radius <= 0 or not 0 < axis_share <= 1:
            raise InvalidInput("recent probes: capacity, radius and axis share must be positive")
        self.capacity = capacity
        self.radius = radius
        self.axis_share = axis_share
        self._origin = np.asarray(origin, dtype=np.float32)
        edges = np.linspace(0, dim, BLOCKS + 1).astype(int)
        self._spans = [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]
        self._blocks = [np.zeros((capacity, s.stop - s.start + 2), np.float32) for s in self._spans]
        self._refs = np.full(capacity, "", dtype=object)
        self._size = 0
        self._next = 0
        self._scratch = _Scratch()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def centred(self, templates: Matrix) -> Matrix:
        result: Matrix = templates - self._origin
        return result

    def admit(self, refs: Sequence[str], centred: Matrix) -> None:
        """Remember the probes (rows of ``centred``, named by ``refs``), or raise
        NearDuplicateProbe naming the first probe that repeats or copies another."""
        if len(refs) != len(centred):
            raise InvalidInput(f"{len(refs)} probe references for {len(centred)} templates")
        asked = [_query_block(centred[:, span]) for span in self._spans]
        rows = [_row_block(centred[:, span]) for span in self._spans]
        names = np.array(refs, dtype=object)
        with self._lock:
            held = [block[: self._size] for block in self._blocks]
            recent = self._offending(asked, held, centred, self._stored)
            request = (
                self._offending(asked, rows, centred, lambda slots: centred[slots])
                if len(refs) > 1
                else _NO_PAIRS
            )
            retry = recent.retry & (self._refs[recent.other] == names[recent.probe])
            self._refuse_first(refs, recent, ~retry, request, request.other < request.probe)
            fresh = np.setdiff1d(np.arange(len(refs)), recent.probe[retry])
            self._remember(names[fresh], [block[fresh] for block in rows])

    def _stored(self, slots: NDArray[np.intp]) -> Matrix:
        """The centred probes in ``slots``."""
        return np.hstack([block[slots, :-2] for block in self._blocks])

    def _candidates(
        self, asked: list[Matrix], held: list[Matrix], near_cut: float
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(probe, row) pairs within ``near_cut`` (squared) or with a block holding
        little of their squared distance, one tile of rows at a time."""
        probes, count = asked[0].shape[0], held[0].shape[0]
        scale = 1.0 / (1.0 - self.axis_share + SHARE_SLACK)
        tile = max(TILE_CELLS // max(probes, 1), 1)
        found_probes, found_rows = [], []
        for start in range(0, count, tile):
            stop = min(start + tile, count)
            *within, total, least = self._scratch.floats(BLOCKS + 2, probes, stop - start)
            flagged, near = self._scratch.flags(2, probes, stop - start)
            for query, rows, out in zip(asked, held, within, strict=True):
                np.matmul(query, rows[start:stop].T, out=out)
            np.add(within[0], within[1], out=total)
            np.minimum(within[0], within[1], out=least)
            for block in within[2:]:
                np.add(total, block, out=total)
                np.minimum(least, block, out=least)
            np.multiply(least, scale, out=least)
            np.less_equal(least, total, out=flagged)
            np.less_equal(total, near_cut, out=near)
            np.logical_or(flagged, near, out=flagged)
            if flagged.any():
                probe, row = np.nonzero(flagged)
                found_probes.append(probe)
                found_rows.append(row + start)
        if not found_probes:
            return np.zeros(0, np.intp), np.zeros(0, np.intp)
        return np.concatenate(found_probes), np.concatenate(found_rows)

    def _offending(
        self,
        asked: list[Matrix],
        held: list[Matrix],
        probes: Matrix,
        others: Callable[[NDArray[np.intp]], Matrix],
    ) -> _Pairs:
        """Pairs of a probe and a held row that are near-duplicates, axis copies or
        exact repeats (``retry`` marks the last; the caller decides on references)."""
        mean_square = float(np.einsum("ij,ij->", probes, probes)) / max(len(probes), 1)
        near_cut = self.radius**2 * (1 + NEAR_SLACK) + ROUNDING * mean_square
        probe, other = self._candidates(asked, held, near_cut)
        if not len(probe):
            return _NO_PAIRS
        difference = probes[probe].astype(np.float64) - others(other).astype(np.float64)
        squared = difference * difference
        total = squared.sum(axis=1)
        dim = squared.shape[1]
        largest = np.partition(squared, dim - AXIS_COORDINATES, axis=1)[:, -AXIS_COORDINATES:]
        share = np.divide(largest.sum(axis=1), total, out=np.ones_like(total), where=total > 0)
        offending = (total <= self.radius**2) | (share >= self.axis_share)
        return _Pairs(
            probe[offending],
            other[offending],
            np.sqrt(total[offending]),
            share[offending],
            total[offending] == 0,
        )

    def _refuse_first(
        self,
        refs: Sequence[str],
        recent: _Pairs,
        recent_counts: NDArray[np.bool_],
        request: _Pairs,
        request_counts: NDArray[np.bool_],
    ) -> None:
        found: list[tuple[int, float, str]] = []
        for pairs, counts, name in (
            (recent, recent_counts, self._recent_name),
            (request, request_counts, _request_name),
        ):
            for k in np.flatnonzero(counts):
                distance, share = float(pairs.distance[k]), float(pairs.share[k])
                reason = self._reason(name(int(pairs.other[k])), distance, share)
                found.append((int(pairs.probe[k]), distance, reason))
        if found:
            probe, _, reason = min(found)
            raise NearDuplicateProbe(f"probes[{probe}] ({refs[probe]}): {reason}")

    def _recent_name(self, slot: int) -> str:
        return f"recent probe {self._refs[slot]}"

    def _reason(self, other: str, distance: float, share: float) -> str:
        if distance == 0:
            return f"repeats {other} under another reference"
        if distance <= self.radius:
            return (
                f"{distance:.4f} from {other}, within the near-duplicate radius {self.radius:.4f}"
            )
        return (
            f"copies {other} but for {AXIS_COORDINATES} coordinates, which hold {share:.1%} "
            f"of the difference (at least {self.axis_share:.0%}): an axis-perturbed copy"
        )

    def _remember(self, refs: NDArray[np.object_], rows: list[Matrix]) -> None:
        count = min(len(refs), self.capacity)
        if count == 0:
            return
        slots = (self._next + np.arange(count)) % self.capacity
        for block, new in zip(self._blocks, rows, strict=True):
            block[slots] = new[len(new) - count :]
        self._refs[slots] = refs[len(refs) - count :]
        self._next = int(slots[-1] + 1) % self.capacity
        self._size = min(self._size + count, self.capacity)


def _query_block(part: Matrix) -> Matrix:
    """``[-2 q, |q|², 1]``: its product with a stored row is the squared distance."""
    width = part.shape[1]
    block = np.empty((len(part), width + 2), np.float32)
    np.multiply(part, -2.0, out=block[:, :width])
    block[:, width] = np.einsum("ij,ij->i", part, part)
    block[:, width + 1] = 1.0
    return block


def _row_block(part: Matrix) -> Matrix:
    """``[x, 1, |x|²]``, as the ring stores it."""
    width = part.shape[1]
    block = np.empty((len(part), width + 2), np.float32)
    block[:, :width] = part
    block[:, width] = 1.0
    block[:, width + 1] = np.einsum("ij,ij->i", part, part)
    return block


def _request_name(index: int) -> str:
    return f"probes[{index}] of this request"
