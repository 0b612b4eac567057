"""Exact distances and the ranking rule: float64 Euclidean, ordered by (float32, id).

A distance is ``norm(row - probe)`` computed in float64 and rounded to the
float32 value that is returned; equal float32 distances are ordered by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

Rows = NDArray[np.intp]
Floats = NDArray[np.float32]
Wide = NDArray[np.float64]
Gather = Callable[[Rows], Floats]
"""``gather(rows)``: the float32 templates of ``rows`` (any shape), shape rows.shape + (dim,)."""

WORK_ELEMENTS = 1 << 21
"""Float64 values per chunk of exact re-ranking: bounds its working memory."""


def distances(rows: Floats, probes: Floats) -> Wide:
    """``norm(row - probe)`` in float64 over the last axis (broadcasting)."""
    diff = rows.astype(np.float64, order="C") - probes.astype(np.float64)
    result: Wide = np.linalg.norm(diff, axis=-1)
    return result


def rerank(
    gather: Gather, ids: NDArray[np.object_], probes: Floats, cand: Rows, top: int
) -> tuple[Rows, Floats, Wide]:
    """Exact top ``top`` of the candidate rows ``cand`` (q, w; -1 = empty) per probe.

    Returns rows (-1 where fewer candidates), float32 distances (+inf there),
    and the float64 distances before rounding.
    """
    count, width = cand.shape
    rows = np.empty((count, top), dtype=np.intp)
    dist = np.empty((count, top), dtype=np.float32)
    wide = np.empty((count, top), dtype=np.float64)
    step = max(1, WORK_ELEMENTS // max(1, width * probes.shape[1]))
    for start in range(0, count, step):
        part = cand[start : start + step]
        real = part >= 0
        safe = np.where(real, part, 0)
        exact = distances(gather(safe), probes[start : start + step, None, :])
        exact[~real] = np.inf
        order = rank_order(ids[safe], exact)[:, :top]
        rows[start : start + step] = np.take_along_axis(part, order, axis=1)
        wide[start : start + step] = np.take_along_axis(exact, order, axis=1)
    dist[:] = wide
    return rows, dist, wide


def rank_order(ids: NDArray[np.object_], exact: Wide) -> Rows:
    """Argsort along the last axis by (float32 distance, id)."""
    order: Rows = np.lexsort((ids, exact.astype(np.float32)), axis=-1)
    return order


def scan(
    tiles: Iterable[tuple[int, Floats]], ids: NDArray[np.object_], probe: Floats, top: int
) -> tuple[Rows, Floats, Wide]:
    """Exact top ``top`` of one probe over every (first row, (w, dim) templates) tile."""
    rows: Rows = np.empty(0, dtype=np.intp)
    wide: Wide = np.empty(0, dtype=np.float64)
    for start, templates in tiles:
        rows = np.concatenate([rows, np.arange(start, start + templates.shape[0], dtype=np.intp)])
        wide = np.concatenate([wide, distances(templates, probe)])
        if wide.size > top:
            cutoff = np.partition(wide.astype(np.float32), top - 1)[top - 1]
            keep = wide.astype(np.float32) <= cutoff
            rows, wide = rows[keep], wide[keep]
    order = rank_order(ids[rows], wide)[:top]
    return rows[order], wide[order].astype(np.float32), wide[order]
