"""Gallery snapshots: one AES-256-GCM-sealed file, never pickle."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import Gallery, SnapshotError, load_snapshot, save_snapshot
from biometric_exchange.matching.snapshot import MAGIC
from tests.unit.test_matching import DIM, faces

KEY = bytes(range(32))


def sample_gallery() -> Gallery:
    rng = np.random.default_rng(40)
    gallery = Gallery()
    gallery.add(["ana", "björn", "车", "d-4"], faces(rng, 4))
    gallery.remove(["björn"])
    gallery.add(["e"], faces(rng, 1))
    return gallery


def test_round_trip_keeps_ids_order_and_templates(tmp_path: Path) -> None:
    gallery = sample_gallery()
    path = tmp_path / "gallery.snap"

    save_snapshot(path, gallery, KEY)
    loaded = load_snapshot(path, KEY)

    assert loaded.ids == gallery.ids == ("ana", "车", "d-4", "e")
    np.testing.assert_array_equal(loaded.export()[1], gallery.export()[1])
    probe = gallery.export()[1][1]
    assert loaded.search(probe, k=2).ids.tolist() == gallery.search(probe, k=2).ids.tolist()
    assert path.read_bytes().startswith(MAGIC)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".gallery.snap.*"))


def test_empty_gallery_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.snap"
    save_snapshot(path, Gallery(dim=4), KEY)
    loaded = load_snapshot(path, KEY)
    assert loaded.dim == 4
    assert len(loaded) == 0


def test_each_save_uses_a_fresh_nonce(tmp_path: Path) -> None:
    gallery = sample_gallery()
    save_snapshot(tmp_path / "a", gallery, KEY)
    save_snapshot(tmp_path / "b", gallery, KEY)
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()


def test_tampered_snapshot_fails_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "gallery.snap"
    save_snapshot(path, sample_gallery(), KEY)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))

    with pytest.raises(SnapshotError, match="does not decrypt: wrong data key, or the file was"):
        load_snapshot(path, KEY)


def test_wrong_key_truncation_and_foreign_files_fail(tmp_path: Path) -> None:
    path = tmp_path / "gallery.snap"
    save_snapshot(path, sample_gallery(), KEY)
    with pytest.raises(SnapshotError, match="does not decrypt"):
        load_snapshot(path, bytes(32))

    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(SnapshotError, match="does not decrypt"):
        load_snapshot(path, KEY)

    (tmp_path / "other").write_bytes(b"\x93NUMPY not ours")
    with pytest.raises(SnapshotError, match="not a gallery snapshot"):
        load_snapshot(tmp_path / "other", KEY)


def test_key_must_be_32_bytes(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="data_key: expected 32 bytes"):
        save_snapshot(tmp_path / "x", Gallery(), b"short")
    with pytest.raises(InvalidInput, match="data_key: expected 32 bytes"):
        load_snapshot(tmp_path / "x", "k" * 32)  # type: ignore[arg-type]


def test_load_keeps_a_custom_dimension_and_tile_size(tmp_path: Path) -> None:
    gallery = Gallery(dim=DIM // 2)
    gallery.add(["a", "b"], np.eye(2, DIM // 2, dtype=np.float32))
    save_snapshot(tmp_path / "s", gallery, KEY)

    loaded = load_snapshot(tmp_path / "s", KEY, tile_size=1)

    assert loaded.dim == DIM // 2
    assert loaded.search(np.eye(2, DIM // 2)[1], k=1).ids.tolist() == [["b"]]
