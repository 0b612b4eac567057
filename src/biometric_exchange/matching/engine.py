"""Exact k-NN over any ``Source``: approximate shortlist, exact re-rank, proof.

1. Scores ``|g|^2 - 2 q.g`` (the squared distance less ``|q|^2``) of every row
   come from one float32 matmul per tile, ``|g|^2`` folded in as an extra
   column; ``shortlist`` keeps the ``k + margin`` least per probe.
2. The shortlisted rows are re-ranked exactly (``exact.rerank``).
3. A probe is answered only if no row left out could rank within its top k
   (or, with a threshold, be a hit): every left-out row has score >= floor,
   so its distance is at least ``sqrt(floor + |q~|^2 - err) - residual``,
   where ``q~`` is the probe as scored (``Source.prepare``), ``err`` bounds
   the float32 error of a score and ``residual`` bounds how far the scored
   templates and probe are from the real ones (0 unless quantised).
   That lower bound must clear the k-th exact distance (and the threshold) by
   the float32 rounding band, since equal float32 distances rank by id.
4. Probes that fail retry with a shortlist 8x wider, then scan exactly.

Float32 error: a score is a dot product of ``dim + 1`` terms whose absolute
values sum to at most ``2|q||g| + |g|^2 <= |q|^2 + 2|g|^2``; any summation
order errs by at most ``(dim + 1) u / (1 - (dim + 1) u)`` times that, with
``u = eps32 / 2``; storing ``|g|^2`` in float32 adds ``u |g|^2``. The bound
used, ``(dim + 8) eps32 (|q|^2 + 2 max|g|^2)``, is more than twice that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.matching import exact
from biometric_exchange.matching.parallel import available_cores
from biometric_exchange.matching.probes import Probes
from biometric_exchange.matching.result import PAD_ID, SearchResult
from biometric_exchange.matching.shortlist import shortlist

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]
Wide = NDArray[np.float64]

EPS32 = float(np.finfo(np.float32).eps)
FLOAT32_MAX = float(np.finfo(np.float32).max)
APPROX_LIMIT = 1e30
"""Largest squared norm for which float32 scores cannot overflow."""
TILE_ELEMENTS = 1 << 20
"""Scores per thread per tile: bounds the working memory of a search."""
MAX_PROBES = 1024
"""Probes searched together."""
RETRY_GROWTH = 8
_BAND = 2.0**-20
"""Relative gap above which a float64 distance rounds to a larger float32 (2^-22 suffices)."""
_PARALLEL_MIN_SCORES = 1 << 16


class Source(Protocol):
    """Rows as the engine sees them: scored approximately, fetched exactly."""

    @property
    def dim(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def max_sqnorm(self) -> float:
        """Largest squared norm of a scored template."""
        ...

    @property
    def residual(self) -> float:
        """Largest distance between a scored template and the real one."""
        ...

    @property
    def margin(self) -> int:
        """Shortlist entries beyond k."""
        ...

    def prepare(self, queries: Floats) -> Probes:
        """The probes as ``score`` takes them, with their norms and residuals."""
        ...

    def spans(self, width: int) -> Iterator[tuple[int, int]]: ...
    def score(self, probes: Probes, start: int, stop: int, out: Floats) -> None:
        """``out[i, j] ~ |g~|^2 - 2 q~_i . g~`` for rows ``start + j`` (C-contiguous ``out``)."""
        ...

    def gather(self, rows: Rows) -> Floats:
        """Real float32 templates of ``rows``, shape ``rows.shape + (dim,)``."""
        ...

    def templates(self, width: int) -> Iterator[tuple[int, Floats]]:
        """(first row, (w, dim) real templates) covering every row."""
        ...


def search(
    source: Source,
    ids: NDArray[np.object_],
    queries: Floats,
    k: int,
    threshold: float | None,
    *,
    tile_size: int,
) -> SearchResult:
    """Exact top-k rows per probe (rows of ``queries``), as ids and float32 distances."""
    count = queries.shape[0]
    out_ids = np.full((count, k), PAD_ID, dtype=object)
    out_dist = np.full((count, k), np.inf, dtype=np.float32)
    if source.size > 0:
        for start in range(0, count, MAX_PROBES):
            block = queries[start : start + MAX_PROBES]
            rows, dist = _search_block(
                source, ids=ids, queries=block, k=k, threshold=threshold, tile_size=tile_size
            )
            width = rows.shape[1]
            out_ids[start : start + block.shape[0], :width] = np.where(
                rows >= 0, ids[np.maximum(rows, 0)], PAD_ID
            )
            out_dist[start : start + block.shape[0], :width] = dist
    if threshold is not None:
        outside = ~(out_dist.astype(np.float64) < threshold)
        out_ids[outside] = PAD_ID
        out_dist[outside] = np.inf
    out_ids.setflags(write=False)
    out_dist.setflags(write=False)
    return SearchResult(ids=out_ids, distances=out_dist)


def _search_block(
    source: Source,
    *,
    ids: NDArray[np.object_],
    queries: Floats,
    k: int,
    threshold: float | None,
    tile_size: int,
) -> tuple[Rows, Floats]:
    size = source.size
    top = min(k, size)
    qnorms = _squared_norms(queries)
    rows = np.full((queries.shape[0], top), -1, dtype=np.intp)
    dist = np.full((queries.shape[0], top), np.inf, dtype=np.float32)
    overflow = qnorms > APPROX_LIMIT
    if source.max_sqnorm > APPROX_LIMIT:
        overflow[:] = True
    pending = np.flatnonzero(~overflow)
    first = min(size, k + source.margin)
    for width in (first, min(size, first * RETRY_GROWTH))[: 1 if first == size else 2]:
        if not pending.size:
            break
        got_rows, got_dist, safe = _attempt(
            source,
            ids=ids,
            queries=queries[pending],
            top=top,
            width=width,
            threshold=threshold,
            tile_size=tile_size,
        )
        rows[pending[safe]] = got_rows[safe]
        dist[pending[safe]] = got_dist[safe]
        pending = pending[~safe]
    for probe in np.concatenate([np.flatnonzero(overflow), pending]).tolist():
        found, found_dist, _ = exact.scan(source.templates(tile_size), ids, queries[probe], top)
        rows[probe], dist[probe] = found, found_dist
    return rows, dist


def _attempt(
    source: Source,
    *,
    ids: NDArray[np.object_],
    queries: Floats,
    top: int,
    width: int,
    threshold: float | None,
    tile_size: int,
) -> tuple[Rows, Floats, NDArray[np.bool_]]:
    """Shortlist, re-rank and prove; returns rows, distances and which probes are proven."""
    count, dim = queries.shape
    prepared = source.prepare(queries)
    scored = prepared.sqnorms
    residual = source.residual + prepared.residual
    error = (dim + 8) * EPS32 * (scored + 2.0 * source.max_sqnorm)
    limit = _score_limit(threshold, scored, error, residual)
    spans = list(source.spans(_tile_width(count, source.size, tile_size)))
    tile = max(stop - start for start, stop in spans)
    scores = count * source.size
    workers = min(available_cores(), len(spans)) if scores >= _PARALLEL_MIN_SCORES else 1

    def score(start: int, stop: int, out: Floats) -> None:
        source.score(prepared, start, stop, out)

    short = shortlist(spans, score, limit=limit, width=width, tile_width=tile, workers=workers)
    rows, dist, wide = exact.rerank(source.gather, ids, queries, short.rows, top)
    if width >= source.size:
        return rows, dist, np.ones(count, dtype=bool)
    with np.errstate(invalid="ignore"):
        bound = np.sqrt(np.maximum(short.floor + scored - error, 0.0)) - residual
    cut = wide[:, top - 1] * (1.0 + _BAND)
    if threshold is not None:
        cut = np.minimum(cut, threshold * (1.0 + _BAND))
    safe = np.isinf(short.floor) | (bound > cut)
    return rows, dist, safe


def _score_limit(threshold: float | None, qnorms: Wide, error: Wide, residual: Wide) -> Floats:
    """Per probe, a float32 score above which no row can be a hit (+inf: no threshold).

    A hit has distance < threshold, so its score is at most
    ``(threshold + residual)^2 - |q~|^2 + err``; the extra band and err leave
    room for the float64 arithmetic of the proof in ``_attempt``.
    """
    if threshold is None:
        return np.full(qnorms.shape, np.inf, dtype=np.float32)
    reach = (threshold * (1.0 + _BAND) + residual) ** 2 * (1.0 + _BAND)
    wide = reach - qnorms + 2.0 * error
    limit = np.where(wide > FLOAT32_MAX, np.inf, wide).astype(np.float32)
    bumped: Floats = np.nextafter(limit, np.float32(np.inf))
    return bumped


def _tile_width(count: int, size: int, tile_size: int) -> int:
    """Rows per tile: wide for few probes (less Python per row), narrow for many,
    and at least one tile per core."""
    width = min(TILE_ELEMENTS // max(1, count), -(-size // available_cores()))
    return max(1, min(tile_size, max(256, width // 64 * 64)))


def _squared_norms(matrix: Floats) -> Wide:
    wide = matrix.astype(np.float64)
    norms: Wide = np.einsum("ij,ij->i", wide, wide)
    return norms
