"""The holder's evaluation of one encrypted probe against the rows it may search.

In: the requester's ``PublicContext`` (no secret key), the probe encrypted under it
(the replicated template and its squared norm) and the gallery. Out: one ciphertext
per block of 4,096 slots holding, in a fresh private order, the masked pair of
τ² - d² for every row and for the decoys (``packing``), and that order, which the
holder keeps to read the requester's claims. Cost per probe: the baby-step rotations
once, then per block 128 encodings and plaintext products, the giant-step rotations
and one rescale; the reply is at the last level (q0 only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.blind.packing import (
    Layout,
    Masks,
    baby_steps,
    decoy_constants,
    decoy_rows,
    multipliers,
    new_layout,
    new_masks,
    paired,
    value_bound,
)
from biometric_exchange.blind.params import DIM, SLOTS
from biometric_exchange.blind.public import EncryptedProbe, PublicContext
from biometric_exchange.blind.seal import Cipher, Engine, engine, zeros
from biometric_exchange.exceptions import InvalidInput

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class BlindGallery:
    """The rows a request may search, in a fixed order, and the holder's threshold."""

    templates: NDArray[np.floating]
    threshold: float
    norms: Floats = field(init=False)
    """Each row's squared norm."""
    mean: Floats = field(init=False)
    longest: float = field(init=False)

    def __post_init__(self) -> None:
        rows = np.asarray(self.templates, dtype=np.float64).reshape(-1, DIM)
        norms = np.einsum("ij,ij->i", rows, rows)
        object.__setattr__(self, "norms", norms)
        object.__setattr__(self, "mean", rows.mean(axis=0) if len(rows) else np.zeros(DIM))
        object.__setattr__(self, "longest", float(np.sqrt(norms.max())) if len(rows) else 0.0)

    def __len__(self) -> int:
        return len(self.norms)


@dataclass(frozen=True)
class Evaluation:
    blocks: tuple[bytes, ...]
    """One ciphertext per block, at the last level."""
    layout: Layout
    """Which row each slot holds (-1: a decoy): the holder's secret."""
    masks: Masks
    """The masks (the holder's secret too; measurements read them)."""


@dataclass(frozen=True)
class _Slots:
    """Every slot's row vector source and constant, before masking."""

    layout: Layout
    gallery: BlindGallery
    decoys: Floats
    decoy_of: NDArray[np.int64]
    """For a decoy slot, its row in ``decoys``."""
    masks: Masks

    def block(self, index: int) -> tuple[Floats, Floats, slice]:
        """The rows and constants of block ``index``, in slot order."""
        span = slice(index * SLOTS, (index + 1) * SLOTS)
        rows = self.layout.rows[span]
        entry = rows >= 0
        vectors = np.empty((SLOTS, DIM), dtype=np.float64)
        vectors[entry] = self.gallery.templates[rows[entry]]
        vectors[~entry] = self.decoys[self.decoy_of[span][~entry]]
        constants = np.where(
            entry,
            self.gallery.threshold**2 - self.gallery.norms[np.maximum(rows, 0)],
            decoy_constants(vectors),
        )
        return vectors, constants, span


def evaluate(context: PublicContext, probe: EncryptedProbe, gallery: BlindGallery) -> Evaluation:
    """The masked decisions of every row of ``gallery`` against ``probe``."""
    seal = engine()
    template = seal.load_cipher(probe.template, level="top", what="probe.encrypted_template")
    norm = seal.load_cipher(probe.norm, level="top", what="probe.encrypted_norm")
    layout = new_layout(len(gallery))
    decoy_slot = layout.rows < 0
    decoys = decoy_rows(gallery.templates, gallery.mean, int(decoy_slot.sum()))
    longest = max(gallery.longest, float(np.sqrt((decoys**2).sum(axis=1).max(initial=0.0))))
    masks = new_masks(layout.slots, value_bound(gallery.threshold, longest))
    slots = _Slots(layout, gallery, decoys, np.cumsum(decoy_slot) - 1, masks)
    baby = baby_steps(layout.blocks)
    steps = [template]
    for _ in range(1, baby):
        steps.append(seal.rotate(steps[-1], 1, context.galois_keys))
    blocks = tuple(
        seal.save(_block(seal, context, (steps, norm), slots, index))
        for index in range(layout.blocks)
    )
    return Evaluation(blocks, layout, masks)


def _block(
    seal: Engine,
    context: PublicContext,
    probe: tuple[list[Cipher], Cipher],
    slots: _Slots,
    index: int,
) -> Cipher:
    """Block ``index``: the baby-step rotations and the norm of the probe in, one
    ciphertext at the last level out."""
    steps, norm = probe
    vectors, constants, span = slots.block(index)
    r, u = slots.masks.r[span], slots.masks.u[span]
    mask = r * (1.0 + 1j * u)
    baby = len(steps)
    weights = multipliers(vectors, mask, baby)
    scale = seal.rescale_prime
    total: Cipher | None = None
    for giant in reversed(range(DIM // baby)):
        if total is not None:
            total = seal.rotate(total, baby, context.galois_keys)
        for step, cipher in enumerate(steps):
            row = weights[giant * baby + step]
            if not row.any():  # SEAL refuses a product with zero (a zero template)
                continue
            product = seal.multiply_plain(cipher, seal.encode(row, at=seal.top, scale=scale))
            if total is None:
                total = product
            else:
                seal.add_inplace(total, product)
    norm_term = seal.multiply_plain(norm, seal.encode(-mask, at=seal.top, scale=scale))
    if total is None:
        total = norm_term
    else:
        seal.add_inplace(total, norm_term)
    seal.rescale_inplace(total)
    if not seal.at_last_level(total):  # pragma: no cover - fixed parameters
        raise InvalidInput("reply not at the last level")
    seal.add_plain_inplace(total, seal.encode_like(paired(constants, r, u), total))
    # A fresh encryption of zero: the reply's ciphertext parts owe nothing to the request's.
    seal.add_inplace(
        total, seal.encrypt_public(context.public_key, seal.encode_like(zeros(), total))
    )
    return total
