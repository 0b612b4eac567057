"""The int8 path: C kernel and numpy agree, and answers equal the exact float engine
at scale and on adversarial galleries (ties, boundary distances, duplicates, large k)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.matching import CompactGallery, Gallery, SearchResult
from biometric_exchange.matching.panels import CodePanels
from biometric_exchange.matching.quantized import KERNEL, QuantizedRows, kernel_name
from biometric_exchange.synthetic import TemplateModel

DIM = 128
Matrix = NDArray[np.float32]


def _same(got: SearchResult, want: SearchResult) -> None:
    assert got.ids.tolist() == want.ids.tolist()
    np.testing.assert_array_equal(got.distances, want.distances)


def _pair(
    ids: list[str], rows: Matrix, tmp_path: Path, **compact: bool
) -> tuple[Gallery, CompactGallery]:
    exact = Gallery()
    exact.add(ids, rows)
    gallery = CompactGallery(directory=tmp_path, **compact)
    gallery.add(ids, rows)
    return exact, gallery


def _population(count: int, probes: int, seed: int) -> tuple[list[str], Matrix, Matrix]:
    """Face-like captures; half the probes new captures of enrolled subjects."""
    rng = np.random.default_rng(seed)
    model = TemplateModel()
    latents = model.latents(rng, count)
    rows = model.captures(latents, rng, max_noise_factor=1.0)
    mated = latents[rng.integers(0, count, probes // 2)]
    strangers = model.latents(rng, probes - probes // 2)
    queries = model.captures(np.vstack([mated, strangers]).astype(np.float32), rng)
    return [f"w{i:07d}" for i in range(count)], rows, queries


def test_the_kernel_is_built_here() -> None:
    assert KERNEL is not None, "the int8 extension was not built (no C compiler?)"
    assert kernel_name() in {"avx512-vnni", "portable"}


@pytest.mark.parametrize("rows", [1, 15, 16, 17, 1000, 4099])
def test_kernel_and_numpy_scores_are_bit_identical(rows: int) -> None:
    rng = np.random.default_rng(rows)
    matrix = rng.normal(0, 0.1, (rows, DIM)).astype(np.float32)
    queries = rng.normal(0, 0.1, (11, DIM)).astype(np.float32)
    outs = []
    for numpy_only in (False, True):
        source = QuantizedRows(DIM, numpy_only=numpy_only)
        source.append(matrix)
        prepared = source.prepare(queries)
        out = np.full((11, rows), np.nan, dtype=np.float32)
        source.score(prepared, 0, rows, out)
        outs.append(out)
        source.close()
    np.testing.assert_array_equal(outs[0], outs[1])


def test_panels_round_trip_rows_and_removals() -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, (300, 130), dtype=np.int8)  # dim not a multiple of 4
    panels = CodePanels(130, block=64)
    panels.append(codes[:100])
    panels.append(codes[100:])
    rows = np.array([0, 15, 16, 63, 64, 299])
    np.testing.assert_array_equal(panels.gather(rows), codes[rows])
    np.testing.assert_array_equal(panels.decoded(64, 100), codes[64:100].T)
    panels.move(np.array([298, 299]), np.array([3, 70]))
    panels.truncate(298)
    assert panels.size == 298
    np.testing.assert_array_equal(panels.gather(np.array([3, 70])), codes[[298, 299]])
    assert all(start % 16 == 0 for start, _ in panels.spans(40))


def test_equal_to_exact_float_on_a_large_gallery(tmp_path: Path) -> None:
    ids, rows, queries = _population(100_000, 1_000, seed=7)
    exact, compact = _pair(ids, rows, tmp_path)
    with compact:
        hits = exact.search(queries, k=3, threshold=0.6)
        _same(compact.search(queries, k=3, threshold=0.6), hits)
        assert 250 < int(np.count_nonzero(hits.ids[:, 0] != "")) < 750
        _same(compact.search(queries[:200], k=10), exact.search(queries[:200], k=10))
        for probe in queries[::100]:  # the one-probe path
            _same(
                compact.search(probe, k=3, threshold=0.6), exact.search(probe, k=3, threshold=0.6)
            )
            _same(compact.search(probe, k=10), exact.search(probe, k=10))


def _shell(probe: Matrix, radii: NDArray[np.float64], rng: np.random.Generator) -> Matrix:
    directions = rng.normal(size=(len(radii), DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return (probe + directions * radii[:, None]).astype(np.float32)


def test_ties_and_rows_at_the_threshold(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    probe = np.zeros(DIM, dtype=np.float32)
    # Rows whose float32 distance is exactly 0.6f, just below and just above,
    # and a crowd at one equal distance (ranked by id).
    at = np.float32(0.6)
    below, above = np.nextafter(at, np.float32(0)), np.nextafter(at, np.float32(1))
    axes = np.eye(DIM, dtype=np.float32)
    rows = np.vstack(
        [axes[:40] * at, axes[40:60] * below, -axes[:20] * above, axes[60:100] * np.float32(0.3)]
    )
    ids = [f"t{i:03d}" for i in rng.permutation(len(rows))]
    exact, compact = _pair(ids, rows, tmp_path)
    with compact:
        for k, threshold in ((5, 0.6), (50, 0.6), (200, 0.6), (5, None), (120, None)):
            _same(
                compact.search(probe, k=k, threshold=threshold),
                exact.search(probe, k=k, threshold=threshold),
            )
        hits = exact.search(probe, k=200, threshold=0.6)
        assert int(np.count_nonzero(hits.ids != "")) == 60  # 0.3 and just below 0.6
        for threshold in (float(at), float(below), float(above), 0.3):
            got = compact.search(probe, k=200, threshold=threshold)
            _same(got, exact.search(probe, k=200, threshold=threshold))


def test_probes_on_the_boundary_of_real_faces(tmp_path: Path) -> None:
    ids, rows, queries = _population(20_000, 20, seed=11)
    shells = [
        _shell(
            q,
            0.6 + np.concatenate([-np.logspace(-7, -2, 30), np.logspace(-7, -2, 30)]),
            np.random.default_rng(i),
        )
        for i, q in enumerate(queries)
    ]
    boundary = np.vstack([rows, *shells])
    names = ids + [f"s{i:06d}" for i in range(len(boundary) - len(ids))]
    exact, compact = _pair(names, boundary, tmp_path)
    with compact:
        for k in (3, 40, 70):
            _same(
                compact.search(queries, k=k, threshold=0.6),
                exact.search(queries, k=k, threshold=0.6),
            )
            _same(
                compact.search(queries[0], k=k, threshold=0.6),
                exact.search(queries[0], k=k, threshold=0.6),
            )


def test_duplicates_and_k_larger_than_the_candidates(tmp_path: Path) -> None:
    ids, rows, queries = _population(3_000, 40, seed=5)
    doubled = np.vstack([rows, rows[:500], rows[:500]])
    names = ids + [f"d{i:05d}" for i in range(1_000)]
    exact, compact = _pair(names, doubled, tmp_path)
    with compact:
        mated = np.vstack([rows[:10], queries])
        for k in (1, 3, 4_000, 5_000):
            _same(
                compact.search(mated, k=k, threshold=0.6), exact.search(mated, k=k, threshold=0.6)
            )
        _same(compact.search(mated[:3], k=4_000), exact.search(mated[:3], k=4_000))
        exact_rows = compact.search(rows[0], k=3)
        assert exact_rows.distances[0].tolist() == [0.0, 0.0, 0.0]
        assert exact_rows.ids[0].tolist() == sorted([names[0], "d00000", "d00500"])


def test_numpy_fallback_gives_the_same_answers(tmp_path: Path) -> None:
    ids, rows, queries = _population(5_000, 200, seed=9)
    exact, compact = _pair(ids, rows, tmp_path, numpy_only=True)
    with compact:
        _same(
            compact.search(queries, k=3, threshold=0.6), exact.search(queries, k=3, threshold=0.6)
        )
        _same(compact.search(queries[0], k=5), exact.search(queries[0], k=5))
