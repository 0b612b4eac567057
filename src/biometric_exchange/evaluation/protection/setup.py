"""The inputs of the template-protection evaluation.

Sample sizes and operating points (``ProtectionConfig``), the seeded synthetic
templates (``draw_subjects``), the keys of three synthetic parties
(``evaluation_keys``) and the unprotected baseline scheme (``Unprotected``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.matching import DEFAULT_THRESHOLD
from biometric_exchange.protection import derive_protection_key
from biometric_exchange.protection.common import euclidean, paired_euclidean
from biometric_exchange.synthetic.templates import TemplateModel

PROBE_CHUNK = 1_000
Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class ProtectionConfig:
    """Sample sizes and operating points; the defaults take seconds, not minutes."""

    seed: int = 2017
    identities: int = 2_000
    """Mated subjects, two captures each: the genuine, cross-key and cross-epoch pairs."""
    gallery_size: int = 10_000
    """The first captures of the mated subjects plus other people."""
    nonmated_searches: int = 5_000
    target_fmr: float = 1e-3
    target_fpir: float = 0.003
    quick: bool = False
    template_model: TemplateModel = field(default_factory=TemplateModel)

    def __post_init__(self) -> None:
        if not 2 <= self.identities <= self.gallery_size:
            raise InvalidInput("identities: expected at least 2 and at most gallery_size")
        if self.nonmated_searches < 1:
            raise InvalidInput("nonmated_searches: expected a positive integer")
        for name in ("target_fmr", "target_fpir"):
            if not 0 < getattr(self, name) < 1:
                raise InvalidInput(f"{name}: expected a value strictly between 0 and 1")

    def quickened(self) -> ProtectionConfig:
        return replace(
            self, quick=True, identities=500, gallery_size=2_000, nonmated_searches=1_000
        )


@dataclass(frozen=True, eq=False)
class Subjects:
    """Seeded synthetic templates: two captures of each mated subject, fillers, strangers."""

    first: Matrix
    second: Matrix
    fillers: Matrix
    strangers: Matrix
    """Never enrolled: the non-mated searches."""

    @property
    def gallery(self) -> Matrix:
        """Row i < identities is subject i's first capture."""
        return np.concatenate([self.first, self.fillers])


def draw_subjects(config: ProtectionConfig) -> Subjects:
    rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(1)[0])
    model = config.template_model
    latents = model.latents(rng, config.identities)
    first, second = model.captures(latents, rng), model.captures(latents, rng)
    fillers = model.captures(model.latents(rng, config.gallery_size - config.identities), rng)
    strangers = model.captures(model.latents(rng, config.nonmated_searches), rng)
    return Subjects(*(m.astype(np.float64) for m in (first, second, fillers, strangers)))


@dataclass(frozen=True, eq=False, repr=False)
class Unprotected:
    """Plain templates and Euclidean distance at face_recognition's 0.6: the baseline."""

    name: str = "none"
    threshold: float = DEFAULT_THRESHOLD

    def protect(self, templates: ArrayLike) -> Matrix:
        return np.asarray(templates, dtype=np.float64)

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> Matrix:
        return euclidean(np.asarray(probes, np.float64), np.asarray(gallery, np.float64))

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> Matrix:
        return paired_euclidean(np.asarray(a, np.float64), np.asarray(b, np.float64))

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        result: NDArray[np.bool_] = self.compare(probes, gallery) < self.threshold
        return result


@dataclass(frozen=True)
class EvaluationKeys:
    agreement_1: bytes
    agreement_1_epoch_2: bytes
    agreement_2: bytes


def evaluation_keys(seed: int, scheme: str) -> EvaluationKeys:
    """Keys from seeded X25519 keys of synthetic parties A, B, C (A derives each)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    a, b, c = (X25519PrivateKey.from_private_bytes(rng.bytes(32)) for _ in range(3))

    def key(partner: X25519PrivateKey, agreement: str, epoch: int) -> bytes:
        return derive_protection_key(a, partner.public_key(), agreement, scheme, epoch)

    return EvaluationKeys(
        key(b, "SYN-A-B-EVAL", 1), key(b, "SYN-A-B-EVAL", 2), key(c, "SYN-A-C-EVAL", 1)
    )
