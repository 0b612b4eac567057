"""Snapshots v2: sealed in chunks, opened into a mapping a compact gallery searches in
place, optionally left in shared memory for the next process."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from biometric_exchange.matching import CompactGallery, Gallery, SnapshotError
from biometric_exchange.matching.placement import PREFIX
from biometric_exchange.matching.sealedstream import (
    StreamError,
    open_chunks,
    seal_pieces,
    verify_last,
)
from biometric_exchange.matching.snapshot import discard_images, load_snapshot, save_snapshot
from biometric_exchange.matching.snapshot_v1 import ASSOCIATED_DATA
from biometric_exchange.matching.snapshot_v1 import MAGIC as MAGIC_V1
from biometric_exchange.synthetic import TemplateModel

KEY = bytes(range(32))


def _gallery(count: int, seed: int = 1) -> tuple[Gallery, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = TemplateModel()
    latents = model.latents(rng, count)
    gallery = Gallery()
    gallery.add([f"e{i:06d}" for i in range(count)], latents)
    probes = model.captures(latents[:: max(1, count // 60)], rng)
    return gallery, np.vstack([probes, model.latents(rng, 40)])


def _same(a: Gallery, b: Gallery, probes: np.ndarray) -> None:
    for k, threshold in ((3, 0.6), (7, None)):
        got, want = (
            a.search(probes, k=k, threshold=threshold),
            b.search(probes, k=k, threshold=threshold),
        )
        assert got.ids.tolist() == want.ids.tolist()
        np.testing.assert_array_equal(got.distances, want.distances)


def test_a_compact_load_searches_the_mapped_image(tmp_path: Path) -> None:
    gallery, probes = _gallery(66_000)  # two blocks, the second partial
    path = tmp_path / "w.snapshot"
    save_snapshot(path, gallery, KEY)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = load_snapshot(path, KEY, gallery=lambda _n: CompactGallery(), image_dir=tmp_path)
    assert isinstance(loaded, CompactGallery)
    assert loaded.ids == gallery.ids
    assert not list(tmp_path.glob(f"{PREFIX}*")) and not list(tmp_path.glob(f".{PREFIX}*"))
    _same(loaded, gallery, probes)
    gone = [*list(gallery.ids[5:40000:97]), gallery.ids[-1]]
    loaded.remove(gone)
    gallery.remove(gone)
    extra = probes[:5] + np.float32(0.01)
    loaded.add(["x1", "x2", "x3", "x4", "x5"], extra)
    gallery.add(["x1", "x2", "x3", "x4", "x5"], extra)
    _same(loaded, gallery, np.vstack([probes, extra]))
    np.testing.assert_array_equal(loaded.export()[1], gallery.export()[1])
    float_load = load_snapshot(path, KEY)
    assert type(float_load) is Gallery


def test_a_shared_image_is_kept_reused_and_discarded(tmp_path: Path) -> None:
    gallery, probes = _gallery(3_000)
    sealed, shared = tmp_path / "data", tmp_path / "shm"
    sealed.mkdir()
    shared.mkdir()
    path = sealed / "w.snapshot"
    save_snapshot(path, gallery, KEY)

    def load(key: bytes = KEY) -> Gallery:
        return load_snapshot(
            path, key, gallery=lambda _n: CompactGallery(), image_dir=shared, keep_image=True
        )

    first = load()
    (image,) = shared.glob(f"{PREFIX}*.image")
    assert os.stat(image).st_mode & 0o777 == 0o600
    inode = os.stat(image).st_ino
    second = load()
    assert os.stat(image).st_ino == inode, "mapped again, not decrypted anew"
    _same(second, first, probes)
    _same(second, gallery, probes)
    with pytest.raises(SnapshotError, match="does not decrypt"):
        load(bytes(32))  # the image is there, the key is still checked
    save_snapshot(path, gallery, KEY)  # a new snapshot: a new image name
    load()
    assert len(list(shared.glob(f"{PREFIX}*.image"))) == 2
    discard_images(shared, sealed, keep=path)
    assert len(list(shared.glob(f"{PREFIX}*.image"))) == 1
    discard_images(shared, sealed)
    assert not list(shared.glob(f"{PREFIX}*"))


def _sealed(size: int, chunk: int) -> tuple[bytes, bytes]:
    plain = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    out = io.BytesIO()
    pieces = [plain[i : i + 333] for i in range(0, size, 333)]
    seal_pieces(out, KEY, b"TESTMAGC", b"ctx", size=size, pieces=pieces, chunk=chunk)
    return plain, out.getvalue()


@pytest.mark.parametrize(("size", "chunk"), [(1, 64), (640, 64), (700, 64), (5000, 4096)])
def test_a_stream_round_trips_in_chunks(size: int, chunk: int, tmp_path: Path) -> None:
    plain, blob = _sealed(size, chunk)
    path = tmp_path / "s"
    path.write_bytes(blob)
    assert verify_last(path, KEY, b"TESTMAGC", b"ctx") == size
    length, chunks = open_chunks(path, KEY, b"TESTMAGC", b"ctx")
    assert length == size and b"".join(chunks) == plain


def test_a_stream_refuses_tampering_reordering_truncation_and_context(tmp_path: Path) -> None:
    _plain, blob = _sealed(640, 64)
    head = 8 + 20
    sealed = 64 + 16
    swapped = bytearray(blob)
    swapped[head : head + sealed], swapped[head + sealed : head + 2 * sealed] = (
        blob[head + sealed : head + 2 * sealed],
        blob[head : head + sealed],
    )
    flipped = bytearray(blob)
    flipped[head + 3 * sealed + 5] ^= 1
    dropped = blob[:head] + blob[head + sealed :]
    for bad, context in ((swapped, b"ctx"), (flipped, b"ctx"), (dropped, b"ctx"), (blob, b"other")):
        path = tmp_path / "bad"
        path.write_bytes(bytes(bad))
        with pytest.raises(StreamError):
            _length, chunks = open_chunks(path, KEY, b"TESTMAGC", context)
            b"".join(chunks)


def test_a_version_1_snapshot_still_opens(tmp_path: Path) -> None:
    gallery, probes = _gallery(500)
    ids, templates = gallery.export()
    encoded = [ident.encode() for ident in ids]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    plain = io.BytesIO()
    np.save(plain, offsets, allow_pickle=False)
    np.save(plain, np.frombuffer(b"".join(encoded), dtype=np.uint8), allow_pickle=False)
    np.save(plain, templates, allow_pickle=False)
    nonce = bytes(12)
    path = tmp_path / "v1.snapshot"
    path.write_bytes(
        MAGIC_V1 + nonce + AESGCM(KEY).encrypt(nonce, plain.getvalue(), ASSOCIATED_DATA)
    )
    _same(load_snapshot(path, KEY), gallery, probes)
    _same(load_snapshot(path, KEY, gallery=lambda _n: CompactGallery()), gallery, probes)
    with pytest.raises(SnapshotError, match="does not decrypt"):
        load_snapshot(path, bytes(32))
