"""``shortlist``: per probe, exactly the ``width`` least scores under the limit, and a
floor no row left out goes below, however the tiles, buffers and threads split it."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.matching.shortlist import shortlist

Floats = NDArray[np.float32]


def _scores(probes: int, rows: int, seed: int) -> Floats:
    """Distinct scores, falling along the rows for some probes (every tile then brings
    new entries, so buffers fill and are cut many times) and random for the others."""
    rng = np.random.default_rng(seed)
    scores = rng.permutation(probes * rows).astype(np.float32).reshape(probes, rows)
    scores[::2] = np.sort(scores[::2], axis=1)[:, ::-1]
    return scores


def _run(scores: Floats, *, width: int, tile: int, workers: int, limit: Floats) -> tuple:
    def score(start: int, stop: int, out: Floats) -> None:
        out[:] = scores[:, start:stop]

    spans = [(a, min(a + tile, scores.shape[1])) for a in range(0, scores.shape[1], tile)]
    found = shortlist(spans, score, limit=limit, width=width, tile_width=tile, workers=workers)
    return found


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("probes", "tile"), [(1, 50), (7, 16), (40, 64)])
def test_the_least_scores_whatever_the_tiles(probes: int, tile: int, workers: int) -> None:
    scores = _scores(probes, 3000, seed=probes * tile)
    width = 12
    found = _run(
        scores,
        width=width,
        tile=tile,
        workers=workers,
        limit=np.full(probes, np.inf, np.float32),
    )
    expected = np.sort(scores, axis=1)[:, :width]
    assert np.array_equal(np.sort(found.scores, axis=1), expected)
    kept = np.take_along_axis(scores, found.rows, axis=1)
    assert np.array_equal(kept, found.scores), "each row is given with its own score"
    assert np.array_equal(found.floor, expected[:, -1].astype(np.float64))


def test_under_a_limit_a_short_list_and_the_limit_as_floor() -> None:
    scores = _scores(9, 2000, seed=5)
    limit = np.sort(scores, axis=1)[:, 6].astype(np.float32)  # 7 rows at most qualify
    limit[0] = np.float32(-1.0)  # none does
    found = _run(scores, width=10, tile=32, workers=2, limit=limit)
    for probe in range(scores.shape[0]):
        under = np.sort(scores[probe][scores[probe] <= limit[probe]])
        got = found.scores[probe][found.rows[probe] >= 0]
        assert np.array_equal(np.sort(got), under)
        assert np.isinf(found.scores[probe][found.rows[probe] < 0]).all()
    assert np.array_equal(found.floor, limit.astype(np.float64)), "not full: the limit"
