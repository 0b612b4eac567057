"""Streaming per-probe shortlists: the ``width`` least approximate scores.

Threads share the gallery's tiles. For each tile a thread computes the scores
of its probes (one matmul), then discards whole probe rows whose minimum is
above their current bound (the largest kept score, or the threshold bound):
after the first tiles almost every row is discarded by one ``min`` pass, so
no sort touches most of the gallery. Rows that may improve keep only the
entries under their bound, tightened to the row's ``width``-th smallest when
far more than ``width`` entries qualify (a partial sort costs more than
merging a few extra entries).

Invariant (returned as ``floor``): every row left out of a probe's shortlist
has an approximate score ``>= floor``; ``floor`` is the largest kept score
when the shortlist is full, else the bound ``limit`` (+inf: nothing left out).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching.parallel import run_on_cores

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]
ScoreTile = Callable[[int, int, Floats], None]
"""``score(start, stop, out)``: write the scores of rows start..stop-1 into ``out``
(C-contiguous)."""


@dataclass(frozen=True)
class Shortlist:
    rows: Rows
    """(q, width) rows, -1 in empty slots."""
    scores: Floats
    """(q, width) approximate scores, +inf in empty slots."""
    floor: NDArray[np.float64]
    """(q,) lower bound of the score of every row left out (+inf: none)."""


def shortlist(
    tiles: Iterable[tuple[int, int]],
    score: ScoreTile,
    *,
    limit: Floats,
    width: int,
    tile_width: int,
    workers: int,
) -> Shortlist:
    """Per probe, the ``width`` rows of least score that are at most ``limit``."""
    pending = _Shared(iter(tiles))
    count = limit.shape[0]
    shared = limit.copy()

    def work() -> _Best:
        best = _Best(limit, width, shared, tile_width)
        buffer = np.empty((count, tile_width), dtype=np.float32)
        for start, stop in pending:
            out = buffer.reshape(-1)[: count * (stop - start)].reshape(count, stop - start)
            score(start, stop, out)
            best.offer(out, start)
        best.finish()
        return best

    parts = run_on_cores(work, workers)
    values = np.concatenate([part.values for part in parts], axis=1)
    rows = np.concatenate([part.rows for part in parts], axis=1)
    if len(parts) > 1:
        keep = np.argpartition(values, width - 1, axis=1)[:, :width]
        values = np.take_along_axis(values, keep, axis=1)
        rows = np.take_along_axis(rows, keep, axis=1)
    full = np.all(rows >= 0, axis=1)
    floor = np.where(full, values.max(axis=1), limit).astype(np.float64)
    return Shortlist(rows=rows, scores=values, floor=floor)


class _Shared:
    """A tile iterator that several threads consume (each tile goes to one)."""

    def __init__(self, tiles: Iterator[tuple[int, int]]) -> None:
        self._tiles = tiles
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        while True:
            with self._lock:
                tile = next(self._tiles, None)
            if tile is None:
                return
            yield tile


class _Best:
    """One thread's shortlists: (q, width) scores and rows, and per-probe bounds.

    ``shared`` holds, per probe, the least bound any thread has published: the
    largest score of some thread's full shortlist (or ``limit``). Every row it
    rules out scores above the merged shortlist's largest score, so threads
    may use it as their own bound; a lost concurrent update only loosens it.

    With several probes, the entries of a tile that qualify are appended to
    the probe's buffer, which is cut back to its ``width`` least (tightening
    the bound) once it holds ``4 width``: one partial sort per many tiles
    instead of one per tile once few entries qualify. Until a cut the bound
    is looser, so a few more entries qualify; the shortlist kept in the end is
    the same. A buffer holds ``4 width`` plus one tile's worth.
    """

    def __init__(self, limit: Floats, width: int, shared: Floats, tile_width: int) -> None:
        count = limit.shape[0]
        self.width = width
        self.crowd = 4 * width + 1024
        self.cut_at = 4 * width
        capacity = self.cut_at + tile_width if count > 1 else width
        self.limit = limit
        self.shared = shared
        self.bound = limit.copy()
        self.buffered: Floats = np.empty((count, capacity), dtype=np.float32)
        self.buffered_rows: Rows = np.empty((count, capacity), dtype=np.intp)
        self.buffered[:, :width] = np.inf
        self.buffered_rows[:, :width] = -1
        self.filled = np.zeros(count, dtype=np.intp)
        """Entries held per probe, at the front of its buffer (the rest of its first
        ``width`` slots is +inf and -1; slots past those are unset)."""

    @property
    def values(self) -> Floats:
        """(q, width) least scores, +inf in empty slots (once ``finish`` has run)."""
        return self.buffered[:, : self.width]

    @property
    def rows(self) -> Rows:
        """(q, width) their rows, -1 in empty slots."""
        return self.buffered_rows[:, : self.width]

    def finish(self) -> None:
        """Cut every buffer back to its ``width`` least (``values`` and ``rows`` then
        hold the shortlist)."""
        self._cut(np.flatnonzero(self.filled > self.width))

    def offer(self, tile: Floats, start: int) -> None:
        """Merge the entries of ``tile`` (rows of column ``start`` on) that may qualify."""
        if tile.shape[0] == 1:
            self._offer_one(tile[0], start)
            return
        np.minimum(self.bound, self.shared, out=self.bound)
        hot = np.flatnonzero(tile.min(axis=1) <= self.bound)
        if hot.size == 0:
            return
        whole = hot.size == tile.shape[0]
        part = tile if whole else tile[hot]
        bound = self.bound[hot]
        mask = part <= bound[:, None]
        found = np.flatnonzero(mask)
        if found.size > self.crowd:
            crowded = np.flatnonzero(np.count_nonzero(mask, axis=1) > self.crowd)
            if crowded.size:
                kth = _kth_of_prefix(part[crowded], self.width, self.crowd)
                mask[crowded] = part[crowded] <= kth[:, None]
                found = np.flatnonzero(mask)
        probe, col = np.divmod(found, part.shape[1])
        counts = np.bincount(probe, minlength=hot.size)
        slot = np.arange(found.size) - np.repeat(np.cumsum(counts) - counts, counts)
        into = hot[probe]
        place = self.filled[into] + slot
        self.buffered[into, place] = part.reshape(-1)[found]
        self.buffered_rows[into, place] = col + start
        self.filled[hot] += counts
        self._cut(hot[self.filled[hot] >= self.cut_at])

    def _cut(self, probes: Rows) -> None:
        """Keep the ``width`` least entries of ``probes``' buffers; tighten their bounds."""
        if probes.size == 0:
            return
        held = self.filled[probes]
        span = max(self.width, int(held.max()))
        values, rows = self.buffered[probes, :span], self.buffered_rows[probes, :span]
        unset = np.arange(span) >= held[:, None]
        values[unset] = np.inf
        rows[unset] = -1
        keep = np.argpartition(values, self.width - 1, axis=1)[:, : self.width]
        kept = np.take_along_axis(values, keep, axis=1)
        self.buffered[probes, : self.width] = kept
        self.buffered_rows[probes, : self.width] = np.take_along_axis(rows, keep, axis=1)
        self.filled[probes] = self.width
        self.bound[probes] = np.minimum(self.bound[probes], kept.max(axis=1))
        self.shared[probes] = np.minimum(self.shared[probes], self.bound[probes])

    def _offer_one(self, scores: Floats, start: int) -> None:
        """``offer`` for a single probe: 1-D passes, cheaper than the 2-D ones."""
        self.bound[0] = min(self.bound[0], self.shared[0])
        cols = np.flatnonzero(scores <= self.bound[0])
        if cols.size == 0:
            return
        if cols.size > self.crowd:
            kth = _kth_of_prefix(scores[cols[: self.crowd]][None, :], self.width, self.crowd)[0]
            cols = np.flatnonzero(scores <= kth)
        values = np.concatenate([self.values[0], scores[cols]])
        rows = np.concatenate([self.rows[0], cols + start])
        keep = np.argpartition(values, self.width - 1)[: self.width]
        self.values[0] = values[keep]
        self.rows[0] = rows[keep]
        self.bound[0] = min(self.bound[0], self.values[0].max())
        self.shared[0] = min(self.shared[0], self.bound[0])


def _kth_of_prefix(part: Floats, width: int, crowd: int) -> Floats:
    """Per row, the ``width``-th smallest of the row's first ``crowd`` entries.

    At least ``width`` entries of the row are at most that, so it is a valid
    tighter bound; a prefix is much cheaper to partition than a whole tile.
    """
    prefix = part[:, :crowd]
    kth: Floats = np.partition(prefix, width - 1, axis=1)[:, width - 1]
    return kth
