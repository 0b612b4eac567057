"""The exact engine beyond the basics: threads, retries, duplicates, scoring hooks."""

from __future__ import annotations

import importlib
import threading

import numpy as np
import pytest
from numpy.typing import NDArray

from biometric_exchange.matching import PAD_ID, Candidate, Gallery
from biometric_exchange.matching.parallel import run_on_cores, single_threaded_blas
from tests.unit.test_matching import DIM, assert_matches_reference, faces, make_ids


def face_like(rng: np.random.Generator, identities: int, captures: int = 1) -> NDArray[np.float32]:
    """TemplateModel-like rows: latent N(0, 0.05^2) plus capture noise N(0, 0.025^2)."""
    latent = rng.normal(0.0, 0.05, size=(identities, DIM))
    rows = np.repeat(latent, captures, axis=0)
    return (rows + rng.normal(0.0, 0.025, size=rows.shape)).astype(np.float32)


@pytest.mark.parametrize("threshold", [None, 0.6])
def test_threaded_multi_tile_search_equals_brute_force(threshold: float | None) -> None:
    rng = np.random.default_rng(20)
    templates = face_like(rng, 3000)
    ids = make_ids(3000)
    probes = np.vstack([templates[:30] + rng.normal(0, 0.02, (30, DIM)), face_like(rng, 20)])
    gallery = Gallery(tile_size=128)
    gallery.add(ids, templates)

    result = gallery.search(probes.astype(np.float32), k=10, threshold=threshold)

    assert_matches_reference(result, ids, templates, probes, 10, threshold)


def test_duplicate_templates_under_different_ids_tie_by_id() -> None:
    rng = np.random.default_rng(21)
    base = faces(rng, 50)
    templates = np.vstack([base, base[:5], base[:5]])
    ids = make_ids(60)
    gallery = Gallery(tile_size=16)
    gallery.add(ids, templates)

    result = gallery.search(base[:5], k=3)

    for i in range(5):
        assert result.ids[i].tolist() == [ids[i], ids[50 + i], ids[55 + i]]
        assert result.distances[i].tolist() == [0.0, 0.0, 0.0]
    assert_matches_reference(result, ids, templates, base[:5], 3)


def test_more_ties_than_any_shortlist_fall_back_to_an_exact_scan() -> None:
    rng = np.random.default_rng(22)
    same = np.tile(faces(rng, 1), (300, 1))
    templates = np.vstack([same, faces(rng, 100) + 1.0])
    ids = [f"t{i:04d}" for i in rng.permutation(400)]
    gallery = Gallery(tile_size=32)
    gallery.add(ids, templates)

    result = gallery.search(same[0] + 0.01, k=7)

    assert result.ids[0].tolist() == sorted(ids[:300])[:7]
    assert_matches_reference(result, ids, templates, same[:1] + 0.01, 7)


def test_threshold_with_more_hits_than_k_keeps_the_best_k() -> None:
    rng = np.random.default_rng(23)
    templates = face_like(rng, 1, captures=60)
    ids = make_ids(60)
    gallery = Gallery(tile_size=8)
    gallery.add(ids, templates)

    result = gallery.search(templates[0], k=5, threshold=0.6)

    assert PAD_ID not in result.ids[0].tolist()
    assert_matches_reference(result, ids, templates, templates[:1], 5, 0.6)


def test_empty_gallery_and_k_beyond_size() -> None:
    gallery = Gallery()
    empty = gallery.search(np.zeros((2, DIM)), k=3, threshold=0.6)
    assert empty.ids.tolist() == [[PAD_ID] * 3] * 2
    assert np.all(np.isinf(empty.distances))

    gallery.add(["only"], np.zeros((1, DIM)))
    result = gallery.search(np.zeros(DIM), k=4)
    assert result.ids.tolist() == [["only", PAD_ID, PAD_ID, PAD_ID]]


def test_remove_then_search_across_blocks_and_threads() -> None:
    rng = np.random.default_rng(24)
    templates = face_like(rng, 2000)
    ids = make_ids(2000)
    gallery = Gallery(tile_size=100)
    gallery.add(ids, templates)
    gone = set(rng.choice(2000, size=700, replace=False).tolist())

    gallery.remove([ids[i] for i in gone])

    keep = [i for i in range(2000) if i not in gone]
    assert gallery.ids == tuple(ids[i] for i in keep)
    probes = templates[[keep[0], keep[-1], *sorted(gone)[:3]]]
    result = gallery.search(probes, k=6)
    assert_matches_reference(result, [ids[i] for i in keep], templates[keep], probes, 6)
    assert result.ids[0, 0] == ids[keep[0]]
    assert result.ids[1, 0] == ids[keep[-1]]


def test_export_returns_insertion_order_after_removal() -> None:
    rng = np.random.default_rng(25)
    templates = faces(rng, 10)
    ids = make_ids(10)
    gallery = Gallery()
    gallery.add(ids, templates)
    gallery.remove([ids[2], ids[5]])

    exported_ids, exported = gallery.export()

    keep = [0, 1, 3, 4, 6, 7, 8, 9]
    assert exported_ids == tuple(ids[i] for i in keep)
    np.testing.assert_array_equal(exported, templates[keep])
    assert exported.flags.c_contiguous


def test_candidates_can_carry_scores_from_a_scorer() -> None:
    class Halves:
        def score(self, distances: object) -> NDArray[np.float64]:
            return np.asarray(distances, dtype=np.float64) / 2

    gallery = Gallery()
    gallery.add(["a", "b"], np.eye(2, DIM, dtype=np.float32))
    result = gallery.search(np.eye(2, DIM)[0], k=3)

    first, second = result.candidates(0, Halves())
    assert first == Candidate(rank=1, id="a", distance=0.0, score=0.0)
    assert (second.rank, second.id) == (2, "b")
    assert second.distance == pytest.approx(2**0.5)
    assert second.score == pytest.approx(2**-0.5)
    assert result.candidates(0)[0].score is None


def test_run_on_cores_runs_every_worker_and_restores_blas() -> None:
    threadpool_info = importlib.import_module("threadpoolctl").threadpool_info

    def numpy_blas_threads() -> list[int]:
        return [
            lib["num_threads"]
            for lib in threadpool_info()
            if lib["user_api"] == "blas" and "numpy" in lib["filepath"]
        ]

    before = numpy_blas_threads()
    results = run_on_cores(lambda: 7, 3)
    with single_threaded_blas(), single_threaded_blas():
        inside = numpy_blas_threads()

    assert results == [7, 7, 7]
    assert inside and all(count == 1 for count in inside)
    assert numpy_blas_threads() == before


def test_run_on_cores_raises_the_calling_threads_error_after_every_worker_ends() -> None:
    main = threading.get_ident()
    finished: list[int] = []
    gate = threading.Event()

    def task() -> int:
        if threading.get_ident() == main:
            gate.set()
            raise ValueError("this thread's own error")
        gate.wait()
        finished.append(1)
        return 1

    with pytest.raises(ValueError, match="own error"):
        run_on_cores(task, 3)
    assert finished == [1, 1], "both workers ended before the error came out"
