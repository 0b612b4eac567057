"""Snapshots with labels: each row's kind and last day in force, and the ids' sorted
order, kept after the image; snapshots without them open as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import CompactGallery, Gallery
from biometric_exchange.matching.idorder import ONE_BY_ONE, IdOrder, SortedIds, sorted_order
from biometric_exchange.matching.image import image_pieces, read_image
from biometric_exchange.matching.labels import (
    NO_END,
    EntryLabels,
    LabelError,
    LabelsBuilder,
    encode_block,
    read_block,
)
from biometric_exchange.matching.snapshot import open_snapshot, save_snapshot
from biometric_exchange.synthetic import TemplateModel

KEY = bytes(range(32))
IDS = ["m-2", "a-10", "车-1", "b", "a-9", "zz"]
"""Not in sorted order; one id with a character beyond ASCII."""


def _gallery(ids: list[str], seed: int = 3) -> tuple[Gallery, np.ndarray]:
    model = TemplateModel()
    latents = model.latents(np.random.default_rng(seed), len(ids))
    gallery = Gallery()
    gallery.add(ids, latents)
    return gallery, latents


def _labels(count: int, stamp: str = "7/0a1b") -> EntryLabels:
    builder = LabelsBuilder(stamp)
    kinds = [("red", "CHN"), ("blue", "IND"), ("red", "CHN")]
    builder.add([kinds[i % 3] for i in range(count)], [700_000 + i for i in range(count)])
    return builder.build()


def test_labels_and_id_order_round_trip_through_a_sealed_snapshot(tmp_path: Path) -> None:
    gallery, latents = _gallery(IDS)
    path = tmp_path / "g.snapshot"
    save_snapshot(path, gallery, KEY, labels=_labels(len(IDS)))
    for kind in (lambda size: Gallery(), lambda size: CompactGallery(directory=tmp_path)):
        opened = open_snapshot(path, KEY, gallery=kind)
        assert opened.labels is not None and opened.ids is not None
        assert opened.labels.stamp == "7/0a1b"
        assert opened.labels.kinds == (("red", "CHN"), ("blue", "IND"))
        assert opened.labels.kind.tolist() == [0, 1, 0, 0, 1, 0]
        assert opened.labels.last_day.tolist() == [700_000 + i for i in range(6)]
        assert opened.ids.numbers([*IDS, "absent", ""]).tolist() == [0, 1, 2, 3, 4, 5, -1, -1]
        assert opened.ids.decode([2, 0]) == ["车-1", "m-2"]
        assert opened.gallery.search(latents, k=1).ids[:, 0].tolist() == IDS


def test_a_snapshot_without_labels_opens_as_before(tmp_path: Path) -> None:
    gallery, latents = _gallery(IDS)
    path = tmp_path / "g.snapshot"
    save_snapshot(path, gallery, KEY)
    opened = open_snapshot(path, KEY, gallery=lambda size: CompactGallery(directory=tmp_path))
    assert opened.labels is None and opened.ids is None
    assert opened.gallery.search(latents, k=1).ids[:, 0].tolist() == IDS


def test_labels_for_another_number_of_rows_are_refused(tmp_path: Path) -> None:
    gallery, _ = _gallery(IDS)
    with pytest.raises(InvalidInput, match="labels: 5 rows for a gallery of 6"):
        save_snapshot(tmp_path / "g.snapshot", gallery, KEY, labels=_labels(5))


def test_in_force_compares_the_last_day_and_no_end_never_ends() -> None:
    builder = LabelsBuilder("1/")
    builder.add([("a",)] * 3, [10, 11, NO_END])
    labels = builder.build()
    assert labels.in_force(10).tolist() == [True, True, True]
    assert labels.in_force(11).tolist() == [False, True, True]
    assert labels.in_force(4_000_000).tolist() == [False, False, True]


def test_many_ids_are_found_in_one_pass_as_one_by_one() -> None:
    rng = np.random.default_rng(5)
    ids = [f"id-{n}" for n in rng.permutation(ONE_BY_ONE + 500)]
    encoded = [i.encode() for i in ids]
    offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.int64)
    raw = np.frombuffer(b"".join(encoded), np.uint8)
    order = IdOrder(offsets, raw, sorted_order(ids))
    asked = [*ids[::-1], "id-x", "id-", "id-999999999999"]
    at_once = order.numbers(asked)
    assert len(asked) > ONE_BY_ONE
    assert at_once.tolist() == [order.numbers([a])[0] for a in asked]
    assert at_once.tolist() == [*range(len(ids) - 1, -1, -1), -1, -1, -1]


def test_a_compact_gallery_finds_and_removes_ids_by_their_order() -> None:
    gallery, latents = _gallery(IDS)
    _size, pieces = image_pieces(gallery)
    image = read_image(b"".join(pieces))
    compact = image.compact(order=sorted_order(IDS))
    assert isinstance(compact._index, SortedIds)
    compact.remove(["a-10", "zz"])
    assert "a-10" not in compact and "b" in compact and len(compact) == 4
    with pytest.raises(InvalidInput, match="not in the gallery"):
        compact.remove(["a-10"])
    kept = [n for n, i in enumerate(IDS) if i not in ("a-10", "zz")]
    assert compact.search(latents[kept], k=1).ids[:, 0].tolist() == [IDS[n] for n in kept]
    compact.add(["a-10"], latents[1:2])
    assert compact.search(latents[1:2], k=1).ids[0, 0] == "a-10"
    assert sorted(compact.ids) == sorted([*(IDS[n] for n in kept), "a-10"])


def test_a_damaged_block_is_named_and_a_missing_one_is_none() -> None:
    labels = _labels(3)
    block = encode_block(labels, sorted_order(["c", "a", "b"]), 8)
    plain = bytes(8) + block
    found = read_block(memoryview(plain), 3)
    assert found is not None and found[1].tolist() == [1, 2, 0]
    assert read_block(memoryview(bytes(64)), 3) is None
    with pytest.raises(LabelError, match="does not hold 4 rows"):
        read_block(memoryview(plain), 4)
    bad = bytearray(plain)
    kinds_at = len(plain) - 16 - 4
    bad[kinds_at : kinds_at + 4] = (9).to_bytes(4, "little")
    with pytest.raises(LabelError, match="out of range"):
        read_block(memoryview(bytes(bad)), 3)
    with pytest.raises(LabelError, match="order: 2 ids for 3 rows"):
        encode_block(labels, sorted_order(["a", "b"]), 8)
