"""Where each value sits in the slots, and the masks: numpy only, no encryption.

A probe p is replicated: slot s holds p[s mod 128]. A block of 4,096 slots holds one
gallery row per slot; with V[s] the row in slot s, the diagonal sum
Σ_k rot(probe, k)[s] · V[s][(s + k) mod 128] is p · V[s]. The holder evaluates it as
baby steps i < b and giant steps j (k = b·j + i): Σ_j rot(Σ_i rot(probe, i) ⊙ W_ji, b·j),
with the multipliers W_ji[s] = 2·V[s - b·j][(s + i) mod 128]·R[s - b·j] pre-rotated,
so that the mask R lands on slot s after the giant rotation.

Each slot's value is then a pair in one complex number: the real part is
r·(τ² - d² - m), the imaginary part r·u·(τ² - d² + m), with r and u fresh per slot.
Both positive: a hit; both negative: no hit; otherwise undecided (|τ² - d²| ≤ m).
All randomness (slot order, masks, decoys) comes from the operating system's CSPRNG.
"""

from __future__ import annotations

import functools
import math
import secrets
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.blind.params import (
    BABY_STEPS,
    CHAIN_FROM_BLOCKS,
    DECOY_GAP,
    DECOY_SHRINK,
    DIM,
    HEADROOM,
    MARGIN,
    MASK_SPAN_BITS,
    MAX_PROBE_NORM,
    PAIR_RATIO,
    SLOTS,
    slot_count,
)

Floats = NDArray[np.float64]
Complexes = NDArray[np.complex128]
Indices = NDArray[np.int64]


def uniform(shape: int | tuple[int, ...]) -> Floats:
    """Uniform on [0, 1) from the operating system's CSPRNG (53 bits each)."""
    count = math.prod(shape) if isinstance(shape, tuple) else shape
    words = np.frombuffer(secrets.token_bytes(8 * count), dtype=np.uint64)
    return ((words >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(shape)


def permutation(count: int) -> Indices:
    """A uniformly random permutation of ``range(count)`` (CSPRNG keys, sorted)."""
    keys = np.frombuffer(secrets.token_bytes(8 * count), dtype=np.uint64)
    return np.argsort(keys, kind="stable").astype(np.int64)


def replicate(probe: NDArray[np.floating]) -> Floats:
    """The probe's slot vector: slot s holds ``probe[s % 128]``."""
    values = np.asarray(probe, dtype=np.float64)
    return np.tile(values, SLOTS // DIM)


def baby_steps(blocks: int) -> int:
    """Baby steps for a reply of ``blocks`` blocks (all 128 when giant steps cost more)."""
    return BABY_STEPS if blocks < CHAIN_FROM_BLOCKS else DIM


@functools.cache
def _indices(baby: int) -> tuple[Indices, Indices]:
    """(source slot, coordinate) of each multiplier, row k = b·j + i, column s."""
    slots = np.arange(SLOTS)
    rows = np.empty((DIM, SLOTS), dtype=np.int64)
    cols = np.empty((DIM, SLOTS), dtype=np.int64)
    for k in range(DIM):
        giant, step = divmod(k, baby)
        rows[k] = (slots - baby * giant) % SLOTS
        cols[k] = (slots + step) % DIM
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def multipliers(rows: Floats, mask: Complexes, baby: int) -> Complexes:
    """The 128 multipliers of one block (row k = b·j + i) for its rows in slot order and
    the complex mask R = r·(1 + i·u) of each slot."""
    source, coordinate = _indices(baby)
    return 2.0 * rows[source, coordinate] * mask[source]


def paired(constants: Floats, r: Floats, u: Floats) -> Complexes:
    """The slot constants τ² - |g|² folded into the pair: (c - m)·r + i·(c + m)·r·u."""
    return (constants - MARGIN) * r + 1j * (constants + MARGIN) * r * u


@dataclass(frozen=True)
class Layout:
    """One probe's private slot order: the gallery row in each slot, -1 for a decoy."""

    rows: NDArray[np.int32]

    @property
    def slots(self) -> int:
        return len(self.rows)

    @property
    def blocks(self) -> int:
        return self.slots // SLOTS

    def row_of(self, slot: int) -> int | None:
        """The gallery row in ``slot``; None for a decoy (``slot`` must be in range)."""
        row = int(self.rows[slot])
        return None if row < 0 else row


def new_layout(entries: int) -> Layout:
    """``entries`` rows and their decoys in a fresh random order."""
    slots = slot_count(entries)
    order = permutation(slots)
    return Layout(np.where(order < entries, order, -1).astype(np.int32))


@dataclass(frozen=True)
class Masks:
    r: Floats
    u: Floats

    @property
    def complex(self) -> Complexes:
        return self.r * (1.0 + 1j * self.u)


def mask_ceiling(bound: float) -> float:
    """The largest r that keeps every slot under ``HEADROOM`` when |τ² - d²| ≤ ``bound``."""
    return HEADROOM / ((bound + MARGIN) * math.hypot(1.0, PAIR_RATIO))


def new_masks(slots: int, bound: float) -> Masks:
    """r log-uniform over 2**MASK_SPAN_BITS below ``mask_ceiling(bound)``; u log-uniform
    over [1/PAIR_RATIO, PAIR_RATIO]."""
    r = mask_ceiling(bound) * 2.0 ** (-MASK_SPAN_BITS * uniform(slots))
    u = PAIR_RATIO ** (2.0 * uniform(slots) - 1.0)
    return Masks(r, u)


def value_bound(threshold: float, longest_row: float) -> float:
    """A bound on |τ² - d²| for any probe the requester may send."""
    return threshold**2 + (MAX_PROBE_NORM + longest_row) ** 2


def decoy_rows(templates: NDArray[np.floating], mean: Floats, count: int) -> Floats:
    """``count`` templates that are no one's: the mean plus ``DECOY_SHRINK`` of a random
    entry's deviation, coordinates shuffled (Gaussian noise when there is no entry)."""
    rng = np.random.default_rng(secrets.randbits(128))
    if len(templates) == 0:
        noise: Floats = rng.normal(0.0, 0.05, (count, DIM))
        return noise
    picks = rng.integers(0, len(templates), count)
    deviation = (np.asarray(templates[picks], dtype=np.float64) - mean) * DECOY_SHRINK
    shuffled: Floats = rng.permuted(deviation, axis=1)
    return mean + shuffled


def decoy_constants(decoys: Floats) -> Floats:
    """A decoy's constant: τ² - d² = 2p·f - |p|² - |f|² - gap ≤ -gap for every probe."""
    norms: Floats = np.einsum("ij,ij->i", decoys, decoys)
    return -norms - DECOY_GAP
