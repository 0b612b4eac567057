"""Blind identify's slot packing, in the clear: the algebra the holder evaluates under
encryption, the private order, the masks and the decoys (numpy only, no keys)."""

from __future__ import annotations

import numpy as np
import pytest

from biometric_exchange.blind.packing import (
    baby_steps,
    decoy_constants,
    decoy_rows,
    multipliers,
    new_layout,
    new_masks,
    paired,
    replicate,
    value_bound,
)
from biometric_exchange.blind.params import (
    DECOY_GAP,
    DECOY_SHARE,
    DIM,
    HEADROOM,
    MARGIN,
    MASK_SPAN_BITS,
    SLOTS,
    slot_count,
)
from biometric_exchange.blind.requester import decide


def _rotate(values: np.ndarray, steps: int) -> np.ndarray:
    """SEAL's left rotation of the slots."""
    return np.roll(values, -steps)


@pytest.mark.parametrize("baby", [16, 128])
def test_the_diagonal_sums_give_each_slot_its_masked_dot_product(baby: int) -> None:
    rng = np.random.default_rng(7)
    probe = rng.normal(0, 0.05, DIM)
    rows = rng.normal(0, 0.05, (SLOTS, DIM))
    mask = rng.uniform(0.5, 2, SLOTS) * (1 + 1j * rng.uniform(0.5, 2, SLOTS))
    weights = multipliers(rows, mask, baby)
    steps = [_rotate(replicate(probe).astype(np.complex128), i) for i in range(baby)]
    total = np.zeros(SLOTS, dtype=np.complex128)
    for giant in reversed(range(DIM // baby)):
        inner = sum(steps[i] * weights[giant * baby + i] for i in range(baby))
        total = _rotate(total, baby) + inner if giant < DIM // baby - 1 else inner
    np.testing.assert_allclose(total, 2 * (rows @ probe) * mask, rtol=1e-12, atol=1e-14)


def test_baby_steps_give_way_to_one_chain_of_rotations_on_large_galleries() -> None:
    assert baby_steps(1) == baby_steps(15) == 16
    assert baby_steps(16) == baby_steps(28) == DIM


@pytest.mark.parametrize(
    ("entries", "slots"), [(0, SLOTS), (1000, SLOTS), (3584, SLOTS), (3585, 2 * SLOTS)]
)
def test_slots_leave_room_for_an_eighth_of_decoys(entries: int, slots: int) -> None:
    assert slot_count(entries) == slots
    assert slots - entries >= DECOY_SHARE * slots


def test_a_layout_holds_every_row_once_in_a_fresh_order() -> None:
    first, second = new_layout(10_000), new_layout(10_000)
    for layout in (first, second):
        rows = layout.rows[layout.rows >= 0]
        assert sorted(rows.tolist()) == list(range(10_000))
        assert layout.slots == 3 * SLOTS and layout.blocks == 3
        assert layout.row_of(int(np.flatnonzero(layout.rows < 0)[0])) is None
    assert not np.array_equal(first.rows, second.rows)


def test_masks_span_their_range_and_keep_every_slot_under_the_headroom() -> None:
    bound = value_bound(0.6, 1.2)
    masks = new_masks(20_000, bound)
    assert masks.r.max() / masks.r.min() > 2 ** (MASK_SPAN_BITS - 1)
    worst = masks.r * np.hypot(1, masks.u) * (bound + MARGIN)
    assert worst.max() <= HEADROOM
    assert masks.u.min() >= 0.5 and masks.u.max() <= 2


def test_decoys_are_certain_non_hits_for_any_probe() -> None:
    rng = np.random.default_rng(3)
    templates = rng.normal(0, 0.05, (50, DIM))
    decoys = decoy_rows(templates, templates.mean(axis=0), 200)
    constants = decoy_constants(decoys)
    for probe in [*templates[:5], *decoys[:5], np.zeros(DIM)]:
        values = 2 * decoys @ probe - probe @ probe + constants
        assert values.max() <= -DECOY_GAP + 1e-12


def test_the_pair_reads_hits_non_hits_and_undecided_slots() -> None:
    rng = np.random.default_rng(4)
    x = np.array([0.2, -0.3, MARGIN / 2, -MARGIN / 2, 1e-3])
    r, u = rng.uniform(0.1, 5, 5), rng.uniform(0.5, 2, 5)
    decisions = decide(paired(x, r, u))
    assert decisions.hits == (0, 4)
    assert decisions.undecided == 2
