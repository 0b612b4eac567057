"""The requester's side: encrypt a probe under its own key; read the signs of a reply.

A slot is a hit when both values of its pair are positive (τ² - d² > m), no hit when
both are negative, and undecided otherwise (|τ² - d²| within the CKKS error margin):
undecided slots are counted, never claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.blind.keys import SecretContext
from biometric_exchange.blind.packing import replicate
from biometric_exchange.blind.params import MAX_PROBE_NORM, SCALE, SLOTS
from biometric_exchange.blind.public import EncryptedProbe
from biometric_exchange.blind.seal import engine
from biometric_exchange.exceptions import InvalidInput


def encrypt_probe(keys: SecretContext, template: NDArray[np.floating]) -> EncryptedProbe:
    """The template and its squared norm, each encrypted under ``keys`` (symmetric,
    seeded: about 115 KB each)."""
    values = np.asarray(template, dtype=np.float64)
    norm = float(values @ values)
    if not np.sqrt(norm) <= MAX_PROBE_NORM:
        raise InvalidInput(f"template: norm over {MAX_PROBE_NORM}, not sent blind")
    seal = engine()
    slots = seal.encode(replicate(values), at=seal.top, scale=SCALE)
    squared = seal.encode(np.full(SLOTS, norm), at=seal.top, scale=SCALE)
    return EncryptedProbe(
        template=seal.encrypt_symmetric(keys.secret_key, slots),
        norm=seal.encrypt_symmetric(keys.secret_key, squared),
    )


@dataclass(frozen=True)
class Decisions:
    hits: tuple[int, ...]
    """Slots whose pair is positive, in slot order."""
    undecided: int
    """Slots whose two values disagree: inside the error margin."""


def decrypt_values(keys: SecretContext, blocks: Sequence[bytes]) -> NDArray[np.complex128]:
    """Every slot's decrypted pair, in slot order."""
    seal = engine()
    values = [
        seal.decrypt(keys.secret_key, seal.load_cipher(block, level="last", what="reply block"))
        for block in blocks
    ]
    return np.concatenate(values) if values else np.empty(0, dtype=np.complex128)


def decide(values: NDArray[np.complex128]) -> Decisions:
    """Hits and the undecided count from the decrypted pairs."""
    low, high = values.real > 0, values.imag > 0
    hits = np.flatnonzero(low & high)
    return Decisions(tuple(int(slot) for slot in hits), int(np.count_nonzero(low != high)))


def read_reply(keys: SecretContext, blocks: Sequence[bytes]) -> Decisions:
    return decide(decrypt_values(keys, blocks))
