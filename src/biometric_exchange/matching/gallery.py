"""The exact engine: an in-memory gallery searchable by exact Euclidean k-NN.

Search is brute force made fast (see ``engine`` for the method and its
proof): float32 scores with ``|g|^2`` folded into one matmul per tile,
tiles shared by threads on every core, whole probe rows discarded by a
``min`` pass against their bound, then an exact float64 re-rank of a short
list with a rigorous float32 error bound; a probe the bound cannot settle is
re-tried wider, then scanned exactly. Results are therefore identical to a
brute-force reference.

Ranking: ascending distance, where a distance is the float64 Euclidean distance
rounded to the returned float32 value; equal distances are ordered by id
(lexicographic, ascending). Probes are rounded to float32, like templates.

Thread safety: a Gallery is not safe for concurrent mutation (``add``,
``remove``) nor for searches running while it is mutated. Concurrent searches
on an unchanged gallery are safe: ``search`` never writes to the gallery.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.domain import TEMPLATE_DIM
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import engine
from biometric_exchange.matching.checks import as_float32, check_threshold, positive_int
from biometric_exchange.matching.columns import BLOCK_COLUMNS
from biometric_exchange.matching.floatrows import FloatRows
from biometric_exchange.matching.idindex import IdIndex
from biometric_exchange.matching.result import SearchResult

Rows = NDArray[np.intp]

DEFAULT_THRESHOLD = 0.6
"""face_recognition convention: same person below this distance."""
DEFAULT_TILE_SIZE = BLOCK_COLUMNS
"""Most gallery rows per matmul tile (large probe batches use narrower tiles)."""


class Store(engine.Source, Protocol):
    """Row storage behind a gallery: what the engine searches, plus upkeep."""

    @property
    def nbytes(self) -> int: ...
    def append(self, matrix: NDArray[np.float32]) -> None: ...
    def remove(self, sources: Rows, targets: Rows, size: int) -> None:
        """Copy rows ``sources`` onto ``targets``, then keep the first ``size`` rows."""
        ...

    def export(self, rows: Rows) -> NDArray[np.float32]:
        """The (len(rows), dim) float32 templates of ``rows``."""
        ...


class Gallery:
    """An in-memory set of (id, template) rows searchable by exact Euclidean k-NN.

    Templates are stored as float32 columns with their squared norms, in
    blocks of ``BLOCK_COLUMNS`` rows (about 516 bytes per 128-d template).
    Not safe for concurrent mutation; searches on an unchanged gallery may
    run concurrently.
    """

    def __init__(self, dim: int = TEMPLATE_DIM, *, tile_size: int = DEFAULT_TILE_SIZE) -> None:
        self._dim = positive_int(dim, "dim")
        self._tile_size = positive_int(tile_size, "tile_size")
        self._rows = self._new_store()
        self._index = IdIndex()

    def _new_store(self) -> Store:
        return FloatRows(self._dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def ids(self) -> tuple[str, ...]:
        """Ids in insertion order."""
        return self._index.in_insertion_order

    @property
    def nbytes(self) -> int:
        """Bytes of template storage in memory (ids not counted)."""
        return self._rows.nbytes

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def add(self, ids: Sequence[str], templates: ArrayLike) -> None:
        """Append one row per id; all-or-nothing. ``templates`` has shape (n, dim)."""
        new_ids = self._index.check_new(ids)
        matrix = as_float32(templates, name="templates", dim=self._dim, ndims=(2,))
        if matrix.shape[0] != len(new_ids):
            raise InvalidInput(f"ids: got {len(new_ids)} ids for {matrix.shape[0]} template rows")
        self._rows.append(matrix)
        self._index.append(new_ids)

    def remove(self, ids: Sequence[str]) -> None:
        """Delete the rows of ``ids``; all-or-nothing."""
        sources, targets = self._index.plan_removal(ids)
        self._rows.remove(sources, targets, len(self._index))

    def search(
        self, probes: ArrayLike, k: int = 10, threshold: float | None = None
    ) -> SearchResult:
        """Exact top-``k`` rows nearest to each probe; (q, dim) or (dim,) probes.

        With ``threshold``, only candidates whose distance is strictly below it
        are kept (still at most k); the other slots are padding.
        """
        top = positive_int(k, "k")
        limit = check_threshold(threshold)
        queries = as_float32(probes, name="probes", dim=self._dim, ndims=(1, 2))
        queries = queries.reshape(-1, self._dim)
        return engine.search(
            self._rows, self._index.by_row, queries, top, limit, tile_size=self._tile_size
        )

    def export(self) -> tuple[tuple[str, ...], NDArray[np.float32]]:
        """Ids and their (n, dim) float32 templates, in insertion order."""
        rows = self._index.rows_in_insertion_order()
        return self._index.in_insertion_order, self._rows.export(rows)

    def sample(self, count: int, *, seed: int) -> NDArray[np.float32]:
        """``count`` templates drawn uniformly without replacement (every one when the
        gallery holds no more), in storage order; the same draw for the same seed."""
        size = len(self)
        if count >= size:
            rows = np.arange(size, dtype=np.intp)
        else:
            drawn = np.random.default_rng(seed).choice(size, count, replace=False)
            rows = np.sort(drawn).astype(np.intp)
        return self._rows.export(rows)

    def export_chunks(self, size: int) -> Iterator[NDArray[np.float32]]:
        """The templates of ``export()``, ``size`` rows at a time (bounded memory)."""
        rows = self._index.rows_in_insertion_order()
        for start in range(0, rows.size, size):
            yield self._rows.export(rows[start : start + size])
