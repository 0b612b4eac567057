"""CompactGallery: int8 codes in memory, the same hits as the exact engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput, InvalidTemplate
from biometric_exchange.matching import CompactGallery, Gallery
from biometric_exchange.matching.quantized import quantize
from tests.unit.test_matching import DIM, faces, make_ids
from tests.unit.test_matching_engine import face_like


def assert_same_answers(
    templates: NDArray[np.float32],
    probes: NDArray[np.float32],
    k: int,
    threshold: float | None,
    tmp_path: Path,
    tile_size: int = 64,
) -> None:
    ids = make_ids(templates.shape[0])
    exact = Gallery(tile_size=tile_size)
    exact.add(ids, templates)
    with CompactGallery(tile_size=tile_size, directory=tmp_path) as compact:
        compact.add(ids, templates)
        got = compact.search(probes, k=k, threshold=threshold)
    want = exact.search(probes, k=k, threshold=threshold)
    assert got.ids.tolist() == want.ids.tolist()
    np.testing.assert_array_equal(got.distances, want.distances)


@pytest.mark.parametrize("threshold", [None, 0.6])
def test_hits_equal_exact_on_face_like_data(threshold: float | None, tmp_path: Path) -> None:
    rng = np.random.default_rng(30)
    templates = face_like(rng, 400, captures=3)
    probes = np.vstack([templates[::40] + rng.normal(0, 0.02, (30, DIM)), face_like(rng, 10)])
    assert_same_answers(templates, probes.astype(np.float32), 10, threshold, tmp_path)


def test_hits_equal_exact_for_rows_straddling_the_threshold(tmp_path: Path) -> None:
    # Rows at threshold +- 1e-7 .. 1e-3 from the probe: far inside the int8
    # quantisation error (~7e-3), so only the exact re-scoring can sort them.
    rng = np.random.default_rng(31)
    probe = face_like(rng, 1)[0]
    directions = rng.normal(size=(200, DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    offsets = np.concatenate([-np.logspace(-7, -3, 100), np.logspace(-7, -3, 100)])
    templates = (probe + directions * (0.6 + offsets)[:, None]).astype(np.float32)
    spiky = templates[:20].copy()
    spiky[:, 0] += 0.4  # one large coordinate: a coarse scale for the whole row
    templates = np.vstack([templates, spiky])
    assert_same_answers(templates, probe[None, :], 250, 0.6, tmp_path)
    assert_same_answers(templates, probe[None, :], 7, 0.6, tmp_path)
    assert_same_answers(templates, probe[None, :], 7, None, tmp_path)


def test_hits_equal_exact_with_duplicates_and_mixed_scales(tmp_path: Path) -> None:
    rng = np.random.default_rng(32)
    base = faces(rng, 300) * rng.uniform(0.1, 3.0, size=(300, 1)).astype(np.float32)
    templates = np.vstack([base, base[:40], np.zeros((2, DIM), dtype=np.float32)])
    probes = np.vstack([base[:10], base[50:60] * 1.01, np.zeros((1, DIM))]).astype(np.float32)
    for threshold in (None, 0.3, 0.6, 2.0):
        assert_same_answers(templates, probes, 12, threshold, tmp_path, tile_size=50)


def test_remove_then_search_matches_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(33)
    templates = face_like(rng, 500)
    ids = make_ids(500)
    exact = Gallery(tile_size=64)
    exact.add(ids, templates)
    with CompactGallery(tile_size=64, directory=tmp_path) as compact:
        compact.add(ids, templates)
        gone = [ids[i] for i in rng.choice(500, size=150, replace=False)]
        compact.remove(gone)
        exact.remove(gone)
        got = compact.search(templates[:20], k=5, threshold=0.6)
        assert compact.ids == exact.ids
        assert compact.export()[0] == exact.export()[0]
        np.testing.assert_array_equal(compact.export()[1], exact.export()[1])
    want = exact.search(templates[:20], k=5, threshold=0.6)
    assert got.ids.tolist() == want.ids.tolist()


def test_memory_is_under_three_tenths_of_float32(tmp_path: Path) -> None:
    rng = np.random.default_rng(34)
    with CompactGallery(directory=tmp_path) as compact:
        compact.add(make_ids(4096), faces(rng, 4096))
        assert compact.nbytes <= 0.3 * 4096 * DIM * 4


def test_quantisation_residual_bounds_the_real_error() -> None:
    rng = np.random.default_rng(35)
    matrix = np.vstack([faces(rng, 50), np.zeros((1, DIM)), np.full((1, DIM), 1e-30)])
    matrix = matrix.astype(np.float32)
    codes, side = quantize(matrix)
    decoded = codes.T.astype(np.float64) * side[0].astype(np.float64)[:, None]  # h = s c exactly
    error = np.linalg.norm(matrix.astype(np.float64) - decoded, axis=1)
    assert codes.dtype == np.int8
    assert np.all(np.abs(codes.astype(int)) <= 127)
    assert np.all(error <= side[2])


def test_validation_is_the_gallery_validation(tmp_path: Path) -> None:
    with CompactGallery(directory=tmp_path) as compact:
        with pytest.raises(InvalidTemplate, match="values must be finite"):
            compact.add(["a"], np.full((1, DIM), np.nan))
        with pytest.raises(InvalidInput, match="k: expected an integer >= 1"):
            compact.search(np.zeros(DIM), k=0)
        assert len(compact) == 0
        assert compact.search(np.zeros(DIM), k=2).ids.tolist() == [["", ""]]
