"""Int8 codes quantised about the gallery's centre: smaller errors, the same answers,
and a centre that survives the image (first-version images still read, about zero)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from biometric_exchange.matching import CompactGallery, Gallery
from biometric_exchange.matching.image import MAGIC_V1, image_pieces, read_image
from biometric_exchange.matching.quantized import QuantizedRows, quantize
from tests.unit.test_matching_int8 import _population


def _image_bytes(gallery: Gallery) -> bytes:
    _size, pieces = image_pieces(gallery)
    return b"".join(pieces)


def test_the_centre_is_the_first_rows_mean_and_halves_the_residuals(tmp_path: Path) -> None:
    _ids, rows, _queries = _population(5000, 0, seed=3)
    source = QuantizedRows(rows.shape[1], tmp_path)
    source.append(rows)
    source.append(rows[:10] + np.float32(0.5))  # later rows do not move it
    np.testing.assert_allclose(source.centre, rows.astype(np.float64).mean(axis=0), atol=1e-6)
    about_zero = np.median(quantize(rows)[1][2])
    about_centre = np.median(quantize(rows, source.centre)[1][2])
    assert about_centre < 0.5 * about_zero
    source.close()


def test_answers_equal_the_float_engine_far_from_zero(tmp_path: Path) -> None:
    ids, rows, queries = _population(20000, 400, seed=5)
    shift = np.float32(3.0)  # every vector moved far off zero: distances unchanged
    exact = Gallery()
    exact.add(ids, rows + shift)
    with CompactGallery(directory=tmp_path) as compact:
        compact.add(ids, rows + shift)
        want_centre = (rows + shift).astype(np.float64).mean(axis=0)
        assert float(np.abs(compact.centre - want_centre).max()) < 1e-5
        for k, threshold in ((10, None), (5, 0.6)):
            got = compact.search(queries + shift, k=k, threshold=threshold)
            want = exact.search(queries + shift, k=k, threshold=threshold)
            assert got.ids.tolist() == want.ids.tolist()
            np.testing.assert_array_equal(got.distances, want.distances)
        hits = compact.search(queries + shift, threshold=0.6).distances
        assert int(np.isfinite(hits).sum()) > 100


def test_the_image_keeps_the_centre_and_a_first_version_image_reads_about_zero(
    tmp_path: Path,
) -> None:
    ids, rows, queries = _population(3000, 200, seed=7)
    with CompactGallery(directory=tmp_path) as compact:
        compact.add(ids, rows)
        image = read_image(_image_bytes(compact))
        np.testing.assert_array_equal(image.centre, compact.centre)
        reopened = image.compact()
        want = compact.search(queries, k=10)
        got = reopened.search(queries, k=10)
        assert got.ids.tolist() == want.ids.tolist()
        np.testing.assert_array_equal(reopened.centre, compact.centre)

    exact = Gallery()
    exact.add(ids, rows)
    # A first-version image: codes about zero, no centre section, the old magic.
    zero = CompactGallery(directory=tmp_path, centre=np.zeros(rows.shape[1], np.float32))
    zero.add(ids, rows)
    current = _image_bytes(zero)
    old = _first_version(current, rows.shape[1])
    first = read_image(old)
    np.testing.assert_array_equal(first.centre, np.zeros(rows.shape[1], np.float32))
    got = first.compact().search(queries, k=10, threshold=0.6)
    want = exact.search(queries, k=10, threshold=0.6)
    assert got.ids.tolist() == want.ids.tolist()
    np.testing.assert_array_equal(got.distances, want.distances)
    zero.close()


def _first_version(image: bytes, dim: int) -> bytes:
    """``image`` (quantised about zero) rewritten as the first format: old magic, five
    sections, no centre."""
    from biometric_exchange.matching import image as module

    current = read_image(image)
    layout = module.Layout(dim, current.count, len(current.id_bytes), MAGIC_V1)
    body = bytearray(layout.size)
    body[: module.PAGE] = layout.header()
    new_offsets = module.Layout(dim, current.count, len(current.id_bytes)).offsets()[:-1]
    for old_at, new_at, length in zip(layout.offsets(), new_offsets, layout.lengths(), strict=True):
        body[old_at : old_at + length] = image[new_at : new_at + length]
    return bytes(body)
