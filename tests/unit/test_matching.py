"""Unit tests of the exact matching engine (biometric_exchange.matching)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from biometric_exchange.exceptions import InvalidInput, InvalidTemplate
from biometric_exchange.matching import (
    DEFAULT_THRESHOLD,
    PAD_ID,
    Candidate,
    Gallery,
    SearchResult,
)

DIM = 128


def brute_force(
    ids: list[str],
    templates: NDArray[np.float32],
    probes: NDArray[np.float32],
    k: int,
    threshold: float | None = None,
) -> tuple[list[list[str]], list[list[float]]]:
    """Reference: every distance as norm(row - probe) in float64, sorted by (float32, id)."""
    rows = np.asarray(templates, dtype=np.float32).astype(np.float64)
    out_ids: list[list[str]] = []
    out_dist: list[list[float]] = []
    for probe in np.asarray(probes, dtype=np.float32).astype(np.float64).reshape(-1, rows.shape[1]):
        dist = np.linalg.norm(rows - probe, axis=1).astype(np.float32)
        ranked = sorted(zip(dist.tolist(), ids, strict=True), key=lambda pair: (pair[0], pair[1]))
        if threshold is not None:
            ranked = [pair for pair in ranked if pair[0] < threshold]
        ranked = ranked[:k]
        pad = k - len(ranked)
        out_ids.append([ident for _, ident in ranked] + [PAD_ID] * pad)
        out_dist.append([d for d, _ in ranked] + [np.inf] * pad)
    return out_ids, out_dist


def assert_matches_reference(
    result: SearchResult,
    ids: list[str],
    templates: NDArray[np.float32],
    probes: NDArray[np.float32],
    k: int,
    threshold: float | None = None,
) -> None:
    ref_ids, ref_dist = brute_force(ids, templates, probes, k, threshold)
    assert result.ids.tolist() == ref_ids
    np.testing.assert_allclose(result.distances, np.array(ref_dist), rtol=0, atol=1e-5)


def faces(rng: np.random.Generator, n: int, dim: int = DIM) -> NDArray[np.float32]:
    """Descriptor-like rows: components around 0 with norm near 1."""
    return (rng.normal(0.0, 0.09, size=(n, dim))).astype(np.float32)


def make_ids(n: int, prefix: str = "p") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]


# -- exactness -----------------------------------------------------------


@pytest.mark.parametrize("tile_size", [1, 37, 4096])
def test_search_equals_brute_force(tile_size: int) -> None:
    rng = np.random.default_rng(1)
    templates = faces(rng, 300)
    ids = make_ids(300)
    rng.shuffle(ids)
    probes = np.vstack([faces(rng, 20), templates[:5] + 0.01])
    gallery = Gallery(DIM, tile_size=tile_size)
    gallery.add(ids, templates)

    result = gallery.search(probes, k=10)

    assert result.ids.shape == (25, 10)
    assert result.distances.dtype == np.float32
    assert result.ids.dtype == object
    assert all(isinstance(ident, str) for ident in result.ids.ravel())
    assert_matches_reference(result, ids, templates, probes, 10)
    assert np.all(np.diff(result.distances, axis=1) >= 0)


def test_distances_are_exact_euclidean() -> None:
    rng = np.random.default_rng(2)
    templates = faces(rng, 50)
    probe = faces(rng, 1)[0]
    gallery = Gallery()
    gallery.add(make_ids(50), templates)

    result = gallery.search(probe, k=5)

    for candidate in result.candidates(0):
        row = templates[int(candidate.id[1:])].astype(np.float64)
        expected = np.linalg.norm(row - probe.astype(np.float64))
        assert candidate.distance == pytest.approx(expected, abs=1e-6)


def test_ties_are_broken_by_id_even_beyond_the_shortlist_margin() -> None:
    # 40 identical rows at the same distance: more ties than k + margin.
    rng = np.random.default_rng(3)
    same = np.tile(faces(rng, 1), (40, 1))
    others = faces(rng, 60) + 1.0
    templates = np.vstack([others, same])
    ids = [f"id-{i:03d}" for i in rng.permutation(100)]
    gallery = Gallery(tile_size=16)
    gallery.add(ids, templates)

    result = gallery.search(same[0] + 0.05, k=5)

    tied = sorted(ids[60:])
    assert result.ids[0].tolist() == tied[:5]
    assert len(set(result.distances[0].tolist())) == 1
    assert_matches_reference(result, ids, templates, same[:1] + 0.05, 5)


def test_near_ties_below_float32_resolution_are_ranked_exactly() -> None:
    # Large norms make the float32 |g|^2 - 2qg + |q|^2 error far bigger than the
    # gaps between these distances, so only the exact re-ranking orders them.
    rng = np.random.default_rng(4)
    base = np.full(DIM, 30.0, dtype=np.float32)
    templates = (base + rng.normal(0, 1e-3, size=(200, DIM))).astype(np.float32)
    ids = make_ids(200)
    probes = (base + rng.normal(0, 1e-3, size=(6, DIM))).astype(np.float32)
    gallery = Gallery(tile_size=32)
    gallery.add(ids, templates)

    assert_matches_reference(gallery.search(probes, k=20), ids, templates, probes, 20)


def test_ties_within_the_shortlist_are_broken_by_id() -> None:
    # Few enough ties to be settled by the exact re-ranking of the shortlist.
    templates = np.zeros((6, DIM), dtype=np.float32)
    templates[:, 0] = [1.0, 0.5, 1.0, 0.5, 0.5, 2.0]
    ids = ["f", "e", "d", "c", "b", "a"]
    gallery = Gallery()
    gallery.add(ids, templates)

    result = gallery.search(np.zeros(DIM), k=4)

    assert result.ids[0].tolist() == ["b", "c", "e", "d"]
    assert result.distances[0].tolist() == [0.5, 0.5, 0.5, 1.0]


def test_large_gallery_norms_with_a_small_probe_are_ranked_exactly() -> None:
    # The float32 error grows with |g|^2 even when the probe is small.
    rng = np.random.default_rng(10)
    base = np.full(DIM, 30.0, dtype=np.float32)
    templates = (base + rng.normal(0, 1e-6, size=(300, DIM))).astype(np.float32)
    ids = make_ids(300)
    probes = faces(rng, 4) * np.float32(0.01)
    gallery = Gallery(tile_size=64)
    gallery.add(ids, templates)

    assert_matches_reference(gallery.search(probes, k=5), ids, templates, probes, 5)


def test_huge_values_use_an_exact_path_without_overflow() -> None:
    rng = np.random.default_rng(5)
    templates = (rng.normal(0, 1, size=(30, DIM)) * 1e17).astype(np.float32)
    ids = make_ids(30)
    probes = templates[:3] * np.float32(1.001)
    gallery = Gallery(tile_size=8)
    gallery.add(ids, templates)

    result = gallery.search(probes, k=4)

    assert np.all(np.isfinite(result.distances))
    assert result.ids[:, 0].tolist() == ids[:3]
    ref_ids, ref_dist = brute_force(ids, templates, probes, 4)
    assert result.ids.tolist() == ref_ids
    np.testing.assert_allclose(result.distances, np.array(ref_dist), rtol=1e-6)


@st.composite
def tie_heavy_cases(draw: st.DrawFn) -> tuple[int, list[str], NDArray[np.float32], int, int]:
    """Small integer-valued galleries (many exact ties), random ids and tiles."""
    dim = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    values = draw(st.lists(st.integers(-2, 2), min_size=n * dim, max_size=n * dim))
    ids = draw(
        st.lists(st.text("abc", min_size=1, max_size=4), min_size=n, max_size=n, unique=True)
    )
    templates = (np.array(values, dtype=np.float32) / np.float32(2)).reshape(n, dim)
    return dim, ids, templates, draw(st.integers(1, 25)), draw(st.integers(1, 9))


@settings(max_examples=150, deadline=None)
@given(
    case=tie_heavy_cases(),
    probe_values=st.lists(st.integers(-3, 3), min_size=8, max_size=8),
    threshold=st.one_of(st.none(), st.sampled_from([0.0, 0.5, 1.0, 1.5, 10.0])),
)
def test_property_search_equals_brute_force_with_ties(
    case: tuple[int, list[str], NDArray[np.float32], int, int],
    probe_values: list[int],
    threshold: float | None,
) -> None:
    dim, ids, templates, k, tile_size = case
    probes = (np.array(probe_values, dtype=np.float32) / np.float32(2))[: 2 * dim].reshape(-1, dim)
    gallery = Gallery(dim, tile_size=tile_size)
    gallery.add(ids, templates)

    result = gallery.search(probes, k=k, threshold=threshold)

    assert result.ids.shape == (probes.shape[0], k)
    assert_matches_reference(result, ids, templates, probes, k, threshold)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 120),
    k=st.integers(1, 30),
    removed=st.integers(0, 119),
)
def test_property_random_float_galleries_after_removal(
    seed: int, n: int, k: int, removed: int
) -> None:
    rng = np.random.default_rng(seed)
    templates = faces(rng, n, dim=16)
    ids = make_ids(n)
    gallery = Gallery(16, tile_size=int(rng.integers(1, 50)))
    gallery.add(ids, templates)
    gone = sorted(rng.choice(n, size=min(removed, n - 1), replace=False).tolist())
    gallery.remove([ids[i] for i in gone])
    keep = [i for i in range(n) if i not in set(gone)]
    probes = faces(rng, 3, dim=16)

    result = gallery.search(probes, k=k)

    assert_matches_reference(result, [ids[i] for i in keep], templates[keep], probes, k)


# -- k, padding and threshold ---------------------------------------------


def test_k_larger_than_gallery_pads_with_empty_id_and_inf() -> None:
    rng = np.random.default_rng(6)
    templates = faces(rng, 3)
    gallery = Gallery()
    gallery.add(["a", "b", "c"], templates)

    result = gallery.search(templates[1], k=5)

    assert result.ids.shape == (1, 5)
    assert result.ids[0, 0] == "b"
    assert sorted(result.ids[0, :3].tolist()) == ["a", "b", "c"]
    assert result.ids[0, 3:].tolist() == [PAD_ID, PAD_ID]
    assert np.all(np.isinf(result.distances[0, 3:]))
    assert np.all(np.isfinite(result.distances[0, :3]))
    assert [c.id for c in result.candidates(0)] == result.ids[0, :3].tolist()
    assert [c.rank for c in result.candidates(0)] == [1, 2, 3]
    assert_matches_reference(result, ["a", "b", "c"], templates, templates[1:2], 5)


def test_empty_gallery_returns_only_padding() -> None:
    result = Gallery().search(np.zeros((2, DIM)), k=3)

    assert result.ids.shape == (2, 3)
    assert result.ids.tolist() == [[PAD_ID] * 3] * 2
    assert np.all(np.isposinf(result.distances))
    assert result.candidates(0) == []
    assert result.candidates(1) == []


def test_no_probes_gives_empty_result() -> None:
    gallery = Gallery()
    gallery.add(["a"], np.zeros((1, DIM)))

    result = gallery.search(np.zeros((0, DIM)), k=2)

    assert result.ids.shape == (0, 2)
    assert result.distances.shape == (0, 2)


def test_threshold_keeps_only_distances_strictly_below() -> None:
    # Distances 0.25, 0.5, 0.75 and 1.0 from the origin, all exact in float32.
    templates = np.zeros((4, DIM), dtype=np.float32)
    templates[:, 0] = [0.75, 0.25, 1.0, 0.5]
    gallery = Gallery()
    gallery.add(["d075", "d025", "d100", "d050"], templates)
    origin = np.zeros(DIM, dtype=np.float32)

    below_half = gallery.search(origin, k=4, threshold=0.5)
    below_default = gallery.search(origin, k=4, threshold=DEFAULT_THRESHOLD)
    capped = gallery.search(origin, k=1, threshold=DEFAULT_THRESHOLD)
    unlimited = gallery.search(origin, k=4)

    assert below_half.ids[0].tolist() == ["d025", PAD_ID, PAD_ID, PAD_ID]
    assert below_default.ids[0].tolist() == ["d025", "d050", PAD_ID, PAD_ID]
    assert below_default.distances[0].tolist() == [0.25, 0.5, np.inf, np.inf]
    assert capped.ids[0].tolist() == ["d025"]
    assert unlimited.ids[0].tolist() == ["d025", "d050", "d075", "d100"]
    assert [c.distance for c in below_default.candidates(0)] == [0.25, 0.5]


def test_default_threshold_is_face_recognition_convention() -> None:
    assert DEFAULT_THRESHOLD == 0.6


def test_one_dimensional_probe_equals_single_row_batch() -> None:
    rng = np.random.default_rng(7)
    templates = faces(rng, 40)
    probe = faces(rng, 1)[0]
    gallery = Gallery()
    gallery.add(make_ids(40), templates)

    flat = gallery.search(probe, k=3)
    batch = gallery.search(probe[None, :], k=3)

    assert flat.ids.shape == (1, 3)
    assert flat.ids.tolist() == batch.ids.tolist()
    np.testing.assert_array_equal(flat.distances, batch.distances)
    assert_matches_reference(flat, make_ids(40), templates, probe[None, :], 3)


def test_candidates_are_typed_and_ranked_from_one() -> None:
    templates = np.zeros((2, DIM), dtype=np.float32)
    templates[1, 0] = 0.5
    gallery = Gallery()
    gallery.add(["near", "far"], templates)

    candidates = gallery.search(np.zeros(DIM), k=2).candidates(0)

    assert candidates == [
        Candidate(rank=1, id="near", distance=0.0),
        Candidate(rank=2, id="far", distance=0.5),
    ]
    assert all(type(c.distance) is float for c in candidates)


def test_result_arrays_are_read_only() -> None:
    gallery = Gallery()
    gallery.add(["a"], np.zeros((1, DIM)))
    result = gallery.search(np.zeros(DIM), k=1)

    with pytest.raises(ValueError, match="read-only"):
        result.distances[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        result.ids[0, 0] = "b"


# -- add / remove ----------------------------------------------------------


def test_ids_len_and_contains_follow_insertion_order() -> None:
    gallery = Gallery()
    gallery.add(["z", "a"], np.zeros((2, DIM)))
    gallery.add(["m"], np.ones((1, DIM)))

    assert gallery.ids == ("z", "a", "m")
    assert len(gallery) == 3
    assert "a" in gallery
    assert "q" not in gallery
    assert 3 not in gallery


def test_remove_then_search_matches_brute_force_on_the_rest() -> None:
    rng = np.random.default_rng(8)
    templates = faces(rng, 100)
    ids = make_ids(100)
    gallery = Gallery(tile_size=16)
    gallery.add(ids, templates)
    gone = {3, 50, 51, 99, 0}

    gallery.remove([ids[i] for i in sorted(gone, reverse=True)])

    keep = [i for i in range(100) if i not in gone]
    kept_ids = [ids[i] for i in keep]
    assert gallery.ids == tuple(kept_ids)
    assert len(gallery) == 95
    assert ids[50] not in gallery
    probes = np.vstack([templates[[50, 3]], templates[[4, 98]]])
    result = gallery.search(probes, k=7)
    assert_matches_reference(result, kept_ids, templates[keep], probes, 7)
    # Rows that moved during compaction still map to their own templates.
    assert result.ids[2, 0] == ids[4]
    assert result.ids[3, 0] == ids[98]
    assert result.distances[2, 0] == 0.0


def test_successive_removals_use_the_updated_row_index() -> None:
    rng = np.random.default_rng(11)
    templates = faces(rng, 10)
    ids = make_ids(10)
    gallery = Gallery()
    gallery.add(ids, templates)

    gallery.remove([ids[1]])
    gallery.remove([ids[7], ids[2]])
    gallery.remove([ids[9]])

    keep = [0, 3, 4, 5, 6, 8]
    assert gallery.ids == tuple(ids[i] for i in keep)
    result = gallery.search(templates, k=1)
    assert [result.ids[i, 0] for i in keep] == [ids[i] for i in keep]
    assert all(result.distances[i, 0] == 0.0 for i in keep)
    assert_matches_reference(result, [ids[i] for i in keep], templates[keep], templates, 1)


def test_remove_everything_then_add_again() -> None:
    gallery = Gallery()
    gallery.add(["a", "b"], np.zeros((2, DIM)))
    gallery.remove(["b", "a"])

    assert len(gallery) == 0
    assert gallery.ids == ()
    assert gallery.search(np.zeros(DIM), k=1).ids.tolist() == [[PAD_ID]]

    gallery.add(["a"], np.ones((1, DIM)))
    result = gallery.search(np.ones(DIM), k=2)
    assert result.ids.tolist() == [["a", PAD_ID]]
    assert result.distances[0, 0] == 0.0


def test_removed_id_can_be_added_again_at_the_end() -> None:
    gallery = Gallery()
    gallery.add(["a", "b", "c"], np.eye(3, DIM))
    gallery.remove(["a"])
    gallery.add(["a"], np.eye(3, DIM)[2:] * 2)

    assert gallery.ids == ("b", "c", "a")
    assert gallery.search(np.eye(3, DIM)[2] * 2, k=1).ids[0, 0] == "a"


def test_growth_over_many_adds_keeps_rows_intact() -> None:
    rng = np.random.default_rng(9)
    templates = faces(rng, 200, dim=8)
    ids = make_ids(200)
    gallery = Gallery(8, tile_size=64)
    for start in range(0, 200, 7):
        gallery.add(ids[start : start + 7], templates[start : start + 7])

    result = gallery.search(templates, k=1)

    assert result.ids[:, 0].tolist() == ids
    assert np.all(result.distances[:, 0] == 0.0)


def test_remove_unknown_id_fails_and_removes_nothing() -> None:
    gallery = Gallery()
    gallery.add(["a", "b"], np.zeros((2, DIM)))

    with pytest.raises(InvalidInput, match=r"not in the gallery: 'nope'"):
        gallery.remove(["a", "nope"])

    assert gallery.ids == ("a", "b")


def test_remove_duplicate_ids_in_batch_fails() -> None:
    gallery = Gallery()
    gallery.add(["a", "b"], np.zeros((2, DIM)))

    with pytest.raises(InvalidInput, match=r"duplicate ids in the batch: 'a'"):
        gallery.remove(["a", "a"])

    assert gallery.ids == ("a", "b")


# -- validation ------------------------------------------------------------


def _full(value: float, shape: tuple[int, ...] = (1, DIM)) -> NDArray[np.float64]:
    return np.full(shape, value)


@pytest.mark.parametrize(
    ("templates", "match"),
    [
        (np.zeros((1, DIM - 1)), rf"templates: expected {DIM} values per template, got {DIM - 1}"),
        (np.zeros(DIM), r"templates: expected shape \(n, dim\), got 1-D"),
        (np.zeros((1, 1, DIM)), r"templates: expected shape \(n, dim\), got 3-D"),
        (_full(np.nan), r"templates: values must be finite"),
        (_full(np.inf), r"templates: values must be finite"),
        (_full(1e39), r"templates: values exceed the float32 range"),
        ([[0.0] * DIM, [0.0] * 3], r"templates: values must be numbers in a regular array"),
        ([["x"] * DIM], r"templates: values must be numbers"),
    ],
)
def test_add_rejects_bad_templates(templates: object, match: str) -> None:
    gallery = Gallery()
    count = len(templates) if isinstance(templates, list) else 1

    with pytest.raises(InvalidTemplate, match=match):
        gallery.add([f"id{i}" for i in range(count)], templates)  # type: ignore[arg-type]

    assert len(gallery) == 0


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        (["a"], r"ids: got 1 ids for 2 template rows"),
        (["a", "b", "c"], r"ids: got 3 ids for 2 template rows"),
        (["a", "a"], r"ids: duplicate ids in the batch: 'a'"),
        (["a", ""], r"ids: every id must be a non-empty string, got ''"),
        (["a", 7], r"ids: every id must be a non-empty string, got 7"),
        ("ab", r"ids: expected a sequence of id strings, got a single string"),
    ],
)
def test_add_rejects_bad_ids(ids: object, match: str) -> None:
    gallery = Gallery()

    with pytest.raises(InvalidInput, match=match) as info:
        gallery.add(ids, np.zeros((2, DIM)))  # type: ignore[arg-type]

    assert not isinstance(info.value, InvalidTemplate)
    assert len(gallery) == 0


def test_add_rejects_ids_already_present_and_keeps_gallery_unchanged() -> None:
    gallery = Gallery()
    gallery.add(["a"], np.zeros((1, DIM)))

    with pytest.raises(InvalidInput, match=r"ids: already in the gallery: 'a'"):
        gallery.add(["b", "a"], np.ones((2, DIM)))

    assert gallery.ids == ("a",)
    assert gallery.search(np.ones(DIM), k=2).ids.tolist() == [["a", PAD_ID]]


@pytest.mark.parametrize(
    ("probes", "match"),
    [
        (np.zeros(DIM + 1), rf"probes: expected {DIM} values per template, got {DIM + 1}"),
        (np.zeros((2, 3)), rf"probes: expected {DIM} values per template, got 3"),
        (np.zeros((1, 1, DIM)), r"probes: expected shape \(dim,\) or \(n, dim\), got 3-D"),
        (np.float64(0.0), r"probes: expected shape \(dim,\) or \(n, dim\), got 0-D"),
        (_full(np.nan, (DIM,)), r"probes: values must be finite"),
        (_full(-np.inf, (2, DIM)), r"probes: values must be finite"),
    ],
)
def test_search_rejects_bad_probes(probes: object, match: str) -> None:
    gallery = Gallery()
    gallery.add(["a"], np.zeros((1, DIM)))

    with pytest.raises(InvalidTemplate, match=match):
        gallery.search(probes, k=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -1, True, 1.5])
def test_search_rejects_bad_k(k: object) -> None:
    with pytest.raises(InvalidInput, match=r"k: expected an integer >= 1"):
        Gallery().search(np.zeros(DIM), k=k)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [float("nan"), -0.1])
def test_search_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(InvalidInput, match=r"threshold: expected a non-negative number"):
        Gallery().search(np.zeros(DIM), k=1, threshold=threshold)


@pytest.mark.parametrize(("dim", "tile_size"), [(0, 10), (DIM, 0)])
def test_constructor_rejects_non_positive_sizes(dim: int, tile_size: int) -> None:
    with pytest.raises(InvalidInput, match=r"(dim|tile_size): expected an integer >= 1"):
        Gallery(dim, tile_size=tile_size)


def test_custom_dimension_is_enforced() -> None:
    gallery = Gallery(dim=4)
    gallery.add(["a"], [[0.0, 0.0, 0.0, 1.0]])

    assert gallery.dim == 4
    with pytest.raises(InvalidTemplate, match=r"expected 4 values per template, got 128"):
        gallery.add(["b"], np.zeros((1, DIM)))
