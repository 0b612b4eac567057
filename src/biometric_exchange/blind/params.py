"""The one parameter set of blind identify, and what follows from it.

CKKS with ring degree 8192 (4,096 complex slots) and a 170-bit modulus: two data
primes, q0 of 60 bits (what a reply keeps) and q1 of 50 bits (dropped by the single
rescale), then a 60-bit special prime for key switching. The HomomorphicEncryption.org
Security Standard (Albrecht et al., 2018), Table 1, row n = 8192, 128-bit classical
security, uniform ternary secret: log2 q ≤ 218. SEAL enforces the same table
(``sec_level_type.tc128``).
"""

from __future__ import annotations

import math

POLY_DEGREE = 8192
COEFF_BITS = (60, 50, 60)
SECURITY_ROW = "HomomorphicEncryption.org standard, Table 1: n = 8192, 128-bit, log2 q ≤ 218"
SCALE_BITS = 50
SCALE = float(2**SCALE_BITS)
"""The scale of the probe's encoding and of every reply."""
SLOTS = POLY_DEGREE // 2
DIM = 128
"""Template dimension: a probe is replicated ``SLOTS // DIM`` times across the slots."""
BABY_STEPS = 16
"""Baby steps of the baby-step/giant-step sum (``BABY_STEPS`` x ``DIM // BABY_STEPS``)."""
CHAIN_FROM_BLOCKS = 16
"""From this many blocks on, the holder rotates the probe 127 times once instead of
7 giant steps per block."""
ROTATION_STEPS = (1, BABY_STEPS)
"""The rotations the requester's Galois keys allow (one key each)."""
SCHEME = "ckks-n8192-q60.50.60-s50-rot1.16"
"""Names this parameter set on the wire; the holder refuses any other."""

PROBES_PER_REQUEST = 1
"""A blind request carries one probe: its reply is a ciphertext per 4,096 slots
(131 KB each; 28 blocks, 3.7 MB, at 100,000 entries) and must fit gRPC's 4 MB."""

MARGIN = 5e-6
"""Half-width of the band of τ² - d² in which a decision is reported undecided. The
largest CKKS error measured on τ² - d² is 2.1e-7 over 2,000 probes on 10,000 entries
(``bx bench blind --agreement-probes 2000``): 24 times inside."""
MASK_SPAN_BITS = 16
"""Each slot's mask r is log-uniform over a factor of 2**16."""
PAIR_RATIO = 2.0
"""The second value's mask is r·u, u log-uniform over [1/PAIR_RATIO, PAIR_RATIO]."""
HEADROOM = 2.0**7
"""Largest magnitude a reply slot may reach (q0 / (2·scale) = 2**9, kept 4x below)."""
MAX_PROBE_NORM = 2.0
"""The requester sends no probe longer than this (face descriptors are about 0.6-1)."""

DECOY_SHARE = 1 / 8
"""At least this share of a probe's slots are decoys, certain non-hits that the holder
knows: a requester naming one as a hit is caught."""
DECOY_GAP = 0.05
"""A decoy's value τ² - d² is at most -DECOY_GAP."""
DECOY_SHRINK = 0.3
"""A decoy's template: the gallery mean plus this share of a real entry's deviation
from it, coordinates shuffled (its value lies near a non-hit's)."""


def slot_count(entries: int) -> int:
    """Slots for ``entries`` entries and their decoys: whole blocks of ``SLOTS``."""
    decoys = max(1, math.ceil(entries * DECOY_SHARE / (1 - DECOY_SHARE)))
    return math.ceil((entries + decoys) / SLOTS) * SLOTS
