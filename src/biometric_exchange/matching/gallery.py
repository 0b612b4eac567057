"""Exact k-nearest-neighbour search over face templates (Euclidean distance).

The engine is brute force made fast: for each tile of gallery rows it computes
approximate squared distances ``|g|^2 - 2 q.g + |q|^2`` with one float32 BLAS
matmul, keeps a per-probe shortlist of ``k + margin`` rows with
``np.argpartition``, then recomputes the shortlisted distances exactly as
``np.linalg.norm(row - probe)`` in float64. A rigorous float32 error bound
checks that no row left out of the shortlist could still belong to the top k;
a probe that fails the check (many near-ties) is answered by an exact scan.
Results are therefore identical to a brute-force reference.

Ranking: ascending distance, where a distance is the float64 Euclidean distance
rounded to the returned float32 value; equal distances are ordered by id
(lexicographic, ascending). Probes are rounded to float32, like templates.

Thread safety: a Gallery is not safe for concurrent mutation (``add``,
``remove``) nor for searches running while it is mutated. Concurrent searches
on an unchanged gallery are safe: ``search`` never writes to the gallery.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import InvalidInput, InvalidTemplate

DEFAULT_THRESHOLD = 0.6
"""face_recognition convention: same person below this distance."""
DEFAULT_TILE_SIZE = 4096
"""Gallery rows per matmul tile; bounds the working memory of a search."""
PAD_ID = ""
"""Id of a padding slot in a SearchResult (its distance is +inf)."""

_SHORTLIST_MARGIN = 16
_WORK_ELEMENTS = 1 << 22
_EPS32 = float(np.finfo(np.float32).eps)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_APPROX_LIMIT = 1e30
"""Largest squared norm for which the float32 approximation cannot overflow."""

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One real candidate of a probe: rank starts at 1."""

    rank: int
    id: str
    distance: float


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Top-k answer for q probes: ``ids`` (object str) and ``distances`` (float32), (q, k).

    Slots without a candidate hold ``PAD_ID`` and ``+inf``; they always come last.
    """

    ids: NDArray[np.object_]
    distances: Floats

    def candidates(self, i: int) -> list[Candidate]:
        """The real candidates of probe ``i``, best first, padding omitted."""
        return [
            Candidate(rank=rank, id=str(ident), distance=float(distance))
            for rank, (ident, distance) in enumerate(
                zip(self.ids[i], self.distances[i], strict=True), start=1
            )
            if ident != PAD_ID
        ]


class Gallery:
    """An in-memory set of (id, template) rows searchable by exact Euclidean k-NN.

    Templates are stored as one contiguous float32 matrix in insertion order,
    with their squared norms cached. Not safe for concurrent mutation; searches
    on an unchanged gallery may run concurrently.
    """

    def __init__(self, dim: int = TEMPLATE_DIM, *, tile_size: int = DEFAULT_TILE_SIZE) -> None:
        self._dim = _positive_int(dim, "dim")
        self._tile_size = _positive_int(tile_size, "tile_size")
        self._vectors: Floats = np.empty((0, self._dim), dtype=np.float32)
        self._sqnorms: Floats = np.empty(0, dtype=np.float32)
        self._id_array: NDArray[np.object_] = np.empty(0, dtype=object)
        self._row_of: dict[str, int] = {}
        self._size = 0
        self._max_sqnorm = 0.0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def ids(self) -> tuple[str, ...]:
        """Ids in insertion order."""
        return tuple(self._row_of)

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item in self._row_of

    def add(self, ids: Sequence[str], templates: ArrayLike) -> None:
        """Append one row per id; all-or-nothing. ``templates`` has shape (n, dim)."""
        new_ids = _id_list(ids)
        self._reject_present(new_ids)
        matrix = _as_float32(templates, name="templates", dim=self._dim, ndims=(2,))
        if matrix.shape[0] != len(new_ids):
            raise InvalidInput(f"ids: got {len(new_ids)} ids for {matrix.shape[0]} template rows")
        start, stop = self._size, self._size + len(new_ids)
        self._reserve(stop)
        self._vectors[start:stop] = matrix
        self._sqnorms[start:stop] = _squared_norms(matrix)
        self._id_array[start:stop] = new_ids
        self._row_of.update(zip(new_ids, range(start, stop), strict=True))
        self._size = stop
        if stop > start:
            self._max_sqnorm = max(self._max_sqnorm, float(self._sqnorms[start:stop].max()))

    def remove(self, ids: Sequence[str]) -> None:
        """Delete the rows of ``ids``; all-or-nothing. Later rows move up (order kept)."""
        gone = _id_list(ids)
        missing = [ident for ident in gone if ident not in self._row_of]
        if missing:
            raise InvalidInput(f"ids: not in the gallery: {_preview(missing)}")
        if not gone:
            return
        rows = np.sort(np.fromiter((self._row_of.pop(ident) for ident in gone), dtype=np.intp))
        self._compact(rows)

    def search(
        self, probes: ArrayLike, k: int = 10, threshold: float | None = None
    ) -> SearchResult:
        """Exact top-``k`` rows nearest to each probe; (q, dim) or (dim,) probes.

        With ``threshold``, only candidates whose distance is strictly below it
        are kept (still at most k); the other slots are padding.
        """
        top = _positive_int(k, "k")
        limit = _check_threshold(threshold)
        queries = _as_float32(probes, name="probes", dim=self._dim, ndims=(1, 2))
        queries = queries.reshape(-1, self._dim)
        ids = np.full((queries.shape[0], top), PAD_ID, dtype=object)
        distances = np.full((queries.shape[0], top), np.inf, dtype=np.float32)
        if self._size > 0:
            block = max(1, _WORK_ELEMENTS // self._tile_size)
            for start in range(0, queries.shape[0], block):
                rows, dist = self._search_block(queries[start : start + block], top)
                ids[start : start + block, : rows.shape[1]] = self._id_array[rows]
                distances[start : start + block, : rows.shape[1]] = dist
        if limit is not None:
            outside = ~(distances.astype(np.float64) < limit)
            ids[outside] = PAD_ID
            distances[outside] = np.inf
        ids.setflags(write=False)
        distances.setflags(write=False)
        return SearchResult(ids=ids, distances=distances)

    # -- storage ---------------------------------------------------------

    def _reject_present(self, ids: list[str]) -> None:
        present = [ident for ident in ids if ident in self._row_of]
        if present:
            raise InvalidInput(f"ids: already in the gallery: {_preview(present)}")

    def _reserve(self, needed: int) -> None:
        capacity = self._vectors.shape[0]
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity, 16)
        vectors = np.empty((capacity, self._dim), dtype=np.float32)
        sqnorms = np.empty(capacity, dtype=np.float32)
        id_array = np.full(capacity, PAD_ID, dtype=object)
        vectors[: self._size] = self._vectors[: self._size]
        sqnorms[: self._size] = self._sqnorms[: self._size]
        id_array[: self._size] = self._id_array[: self._size]
        self._vectors, self._sqnorms, self._id_array = vectors, sqnorms, id_array

    def _compact(self, rows: Rows) -> None:
        """Close the gaps left by the sorted ``rows``; only rows after the first gap move."""
        first, size = int(rows[0]), self._size
        keep = np.ones(size - first, dtype=bool)
        keep[rows - first] = False
        survivors = np.flatnonzero(keep) + first
        stop = first + survivors.size
        self._vectors[first:stop] = self._vectors[survivors]
        self._sqnorms[first:stop] = self._sqnorms[survivors]
        self._id_array[first:stop] = self._id_array[survivors]
        self._id_array[stop:size] = PAD_ID
        for row in range(first, stop):
            self._row_of[str(self._id_array[row])] = row
        self._size = stop
        self._max_sqnorm = float(self._sqnorms[:stop].max()) if stop else 0.0

    # -- search ----------------------------------------------------------

    def _search_block(self, queries: Floats, k: int) -> tuple[Rows, Floats]:
        """Exact top-min(k, n) rows and float32 distances for a block of probes."""
        size = self._size
        top = min(k, size)
        qnorms = _squared_norms(queries)
        if self._max_sqnorm > _APPROX_LIMIT:
            unsafe = np.ones(queries.shape[0], dtype=bool)
            rows = np.zeros((queries.shape[0], top), dtype=np.intp)
            dist = np.zeros((queries.shape[0], top), dtype=np.float32)
        else:
            shortlist = min(size, k + _SHORTLIST_MARGIN)
            cand, approx = self._shortlist(queries, qnorms, shortlist)
            unsafe = self._unsafe(approx, qnorms, top, dropped_any=shortlist < size)
            rows, dist = self._rerank(queries, cand, top)
        for probe in np.flatnonzero(unsafe):
            rows[probe], dist[probe] = self._exact_scan(queries[probe], top)
        return rows, dist

    def _shortlist(self, queries: Floats, qnorms: Floats, shortlist: int) -> tuple[Rows, Floats]:
        """Per probe: ``shortlist`` rows of least approximate squared distance, and those.

        Invariant: every row left out has an approximation at least the largest
        one kept (the tile pre-filter only skips values above the current largest).
        """
        count = queries.shape[0]
        rows: Rows = np.empty((count, 0), dtype=np.intp)
        approx: Floats = np.empty((count, 0), dtype=np.float32)
        for start in range(0, self._size, self._tile_size):
            stop = min(self._size, start + self._tile_size)
            tile = queries @ self._vectors[start:stop].T
            tile *= -2.0
            tile += self._sqnorms[start:stop]
            tile += qnorms[:, None]
            if approx.shape[1] < shortlist:
                tile_rows = np.broadcast_to(np.arange(start, stop, dtype=np.intp), tile.shape)
            else:
                tile_rows, tile = _entries_at_most(tile, approx.max(axis=1), start)
            approx = np.concatenate([approx, tile], axis=1)
            rows = np.concatenate([rows, tile_rows], axis=1)
            if approx.shape[1] > shortlist:
                keep = np.argpartition(approx, shortlist - 1, axis=1)[:, :shortlist]
                approx = np.take_along_axis(approx, keep, axis=1)
                rows = np.take_along_axis(rows, keep, axis=1)
        return rows, approx

    def _unsafe(
        self, approx: Floats, qnorms: Floats, top: int, *, dropped_any: bool
    ) -> NDArray[np.bool_]:
        """Probes for which a row left out of the shortlist might rank within the top k.

        Left-out rows approximate no lower than the shortlist's largest value.
        The float32 formula errs by at most about (dim + 5) eps (|q|^2 + |g|^2);
        the bound used is twice that per side, plus the band of distances that
        round to the same float32 value as the k-th one (ties broken by id).
        """
        too_large = qnorms.astype(np.float64) > _APPROX_LIMIT
        if not dropped_any:
            return too_large
        kth = np.partition(approx, top - 1, axis=1)[:, top - 1].astype(np.float64)
        floor = approx.max(axis=1).astype(np.float64)
        error = 2.0 * (self._dim + 8) * _EPS32 * (qnorms.astype(np.float64) + self._max_sqnorm)
        band = 8.0 * _EPS32 * np.abs(kth)
        result: NDArray[np.bool_] = (floor <= kth + 2.0 * error + band) | too_large
        return result

    def _rerank(self, queries: Floats, cand: Rows, top: int) -> tuple[Rows, Floats]:
        """Exact float64 distances of the shortlisted rows, sorted, cut to ``top``."""
        count, width = cand.shape
        step = max(1, _WORK_ELEMENTS // (width * self._dim))
        rows = np.empty((count, top), dtype=np.intp)
        dist = np.empty((count, top), dtype=np.float32)
        for start in range(0, count, step):
            part = slice(start, start + step)
            exact = _exact_distances(self._vectors[cand[part]], queries[part, None, :])
            order = np.lexsort((self._id_array[cand[part]], exact), axis=-1)[:, :top]
            rows[part] = np.take_along_axis(cand[part], order, axis=1)
            dist[part] = np.take_along_axis(exact, order, axis=1)
        return rows, dist

    def _exact_scan(self, query: Floats, top: int) -> tuple[Rows, Floats]:
        """Exact top rows of one probe by scanning every tile (no approximation)."""
        rows: Rows = np.empty(0, dtype=np.intp)
        dist: Floats = np.empty(0, dtype=np.float32)
        for start in range(0, self._size, self._tile_size):
            stop = min(self._size, start + self._tile_size)
            tile = _exact_distances(self._vectors[start:stop], query)
            rows = np.concatenate([rows, np.arange(start, stop, dtype=np.intp)])
            dist = np.concatenate([dist, tile])
            rows, dist = self._best(rows, dist, top)
        order = np.lexsort((self._id_array[rows], dist))
        return rows[order], dist[order]

    def _best(self, rows: Rows, dist: Floats, top: int) -> tuple[Rows, Floats]:
        """The ``top`` best of (rows, dist) by (distance, id), in any order."""
        if dist.size <= top:
            return rows, dist
        cutoff = np.partition(dist, top - 1)[top - 1]
        keep = dist <= cutoff
        rows, dist = rows[keep], dist[keep]
        if dist.size > top:
            order = np.lexsort((self._id_array[rows], dist))[:top]
            rows, dist = rows[order], dist[order]
        return rows, dist


def _entries_at_most(tile: Floats, bound: Floats, start: int) -> tuple[Rows, Floats]:
    """Per row, the entries of ``tile`` at most ``bound``: left-packed, padded with +inf."""
    probe, col = np.nonzero(tile <= bound[:, None])
    counts = np.bincount(probe, minlength=tile.shape[0])
    slot = np.arange(probe.size) - np.repeat(np.cumsum(counts) - counts, counts)
    width = int(counts.max()) if counts.size else 0
    values = np.full((tile.shape[0], width), np.inf, dtype=np.float32)
    rows = np.zeros((tile.shape[0], width), dtype=np.intp)
    values[probe, slot] = tile[probe, col]
    rows[probe, slot] = col + start
    return rows, values


def _exact_distances(rows: Floats, probes: Floats) -> Floats:
    """``np.linalg.norm(row - probe)`` in float64 over the last axis, as float32."""
    diff = rows.astype(np.float64) - probes.astype(np.float64)
    distances: Floats = np.linalg.norm(diff, axis=-1).astype(np.float32)
    return distances


def _squared_norms(matrix: Floats) -> Floats:
    """Row squared norms, summed in float64 and stored as float32."""
    wide = matrix.astype(np.float64)
    norms: Floats = np.einsum("ij,ij->i", wide, wide).astype(np.float32)
    return norms


def _as_float32(values: ArrayLike, *, name: str, dim: int, ndims: tuple[int, ...]) -> Floats:
    """``values`` as a C-contiguous float32 array of rank in ``ndims``, last axis ``dim``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidTemplate(f"{name}: values must be numbers in a regular array") from exc
    if array.ndim not in ndims:
        shapes = " or ".join("(n, dim)" if n == 2 else "(dim,)" for n in ndims)
        raise InvalidTemplate(f"{name}: expected shape {shapes}, got {array.ndim}-D {array.shape}")
    if array.shape[-1] != dim:
        raise InvalidTemplate(f"{name}: expected {dim} values per template, got {array.shape[-1]}")
    if not np.all(np.isfinite(array)):
        raise InvalidTemplate(f"{name}: values must be finite (no NaN or infinity)")
    if np.any(np.abs(array) > _FLOAT32_MAX):
        raise InvalidTemplate(f"{name}: values exceed the float32 range")
    return np.ascontiguousarray(array, dtype=np.float32)


def _id_list(ids: Sequence[str]) -> list[str]:
    """``ids`` as a list of distinct non-empty strings, or InvalidInput."""
    if isinstance(ids, str | bytes):
        raise InvalidInput("ids: expected a sequence of id strings, got a single string")
    try:
        id_list = list(ids)
    except TypeError as exc:
        raise InvalidInput("ids: expected a sequence of id strings") from exc
    bad = [ident for ident in id_list if not isinstance(ident, str) or not ident]
    if bad:
        raise InvalidInput(f"ids: every id must be a non-empty string, got {_preview(bad)}")
    if len(set(id_list)) != len(id_list):
        counts = Counter(id_list)
        twice = [ident for ident, count in counts.items() if count > 1]
        raise InvalidInput(f"ids: duplicate ids in the batch: {_preview(twice)}")
    return id_list


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInput(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def _check_threshold(threshold: float | None) -> float | None:
    if threshold is None:
        return None
    try:
        limit = float(threshold)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"threshold: expected a number, got {threshold!r}") from exc
    if math.isnan(limit) or limit < 0:
        raise InvalidInput(f"threshold: expected a non-negative number, got {threshold!r}")
    return limit


def _preview(items: Sequence[object], limit: int = 5) -> str:
    shown = ", ".join(repr(item) for item in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
