"""Packed ids (a gallery opened from its image) behave as ``IdIndex`` does."""

from __future__ import annotations

import numpy as np
import pytest

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching.idindex import IdIndex
from biometric_exchange.matching.packedids import PackedIds


def _packed(ids: list[str]) -> PackedIds:
    encoded = [ident.encode() for ident in ids]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    return PackedIds(offsets, np.frombuffer(b"".join(encoded), dtype=np.uint8))


def _same(packed: PackedIds, plain: IdIndex) -> None:
    assert len(packed) == len(plain)
    assert packed.in_insertion_order == plain.in_insertion_order
    np.testing.assert_array_equal(packed.rows_in_insertion_order(), plain.rows_in_insertion_order())
    rows = np.arange(len(plain), dtype=np.intp)
    assert packed.by_row[rows].tolist() == plain.by_row[rows].tolist()
    grid = rows[: 6 * (len(plain) // 6)].reshape(6, -1)
    assert packed.by_row[grid].tolist() == plain.by_row[grid].tolist()


def test_packed_ids_follow_removals_and_additions_like_the_index() -> None:
    rng = np.random.default_rng(5)
    names = [f"w-{i:04d}-{'é' if i % 7 == 0 else ''}{'x' * (i % 5)}" for i in range(600)]
    plain = IdIndex()
    plain.append(plain.check_new(names))
    packed = _packed(names)
    _same(packed, plain)
    for step in range(6):
        alive = list(plain.in_insertion_order)
        gone = [alive[i] for i in rng.choice(len(alive), size=40, replace=False)]
        assert packed.plan_removal(gone)[0].tolist() == plain.plan_removal(gone)[0].tolist()
        fresh = [f"new-{step}-{i}" for i in range(15)] + gone[:3]  # some come back
        plain.append(plain.check_new(fresh))
        packed.append(packed.check_new(fresh))
        _same(packed, plain)
    assert gone[0] in packed and "never" not in packed and 7 not in packed
    with pytest.raises(InvalidInput, match="already in the gallery"):
        packed.check_new([gone[0]])
    with pytest.raises(InvalidInput, match="not in the gallery"):
        packed.plan_removal(["never"])


def test_ids_with_a_nul_byte_are_not_packed() -> None:
    assert not PackedIds.usable(np.frombuffer(b"a\0b", dtype=np.uint8))
    assert PackedIds.usable(np.frombuffer("ünï".encode(), dtype=np.uint8))
