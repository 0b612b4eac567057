"""A synthetic stand-in for dlib's 128-d face descriptor.

Each identity has a latent vector drawn from N(0, identity_scale²·I). A
capture adds isotropic noise whose scale is ``noise_scale`` times a
lognormal factor, so most captures are clean and a few are poor (bad light,
pose, motion blur). In 128 dimensions distances concentrate sharply:

* genuine: ≈ sqrt(128·(s₁² + s₂²)) ≈ 16·noise_scale ≈ 0.41 (a tail above 0.6
  of about 0.5 % comes from the lognormal factor);
* impostor: ≈ sqrt(128·(2·identity_scale² + s₁² + s₂²)) ≈ 0.89.

So face_recognition's 0.6 tolerance separates them as it does real faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biometric_exchange.domain import TEMPLATE_DIM, Template, validate_template
from biometric_exchange.exceptions import InvalidInput


@dataclass(frozen=True)
class TemplateModel:
    """Latent-plus-noise generator of dlib-like face templates."""

    dim: int = TEMPLATE_DIM
    identity_scale: float = 0.05
    """Standard deviation of each latent coordinate."""
    noise_scale: float = 0.025
    """Median standard deviation of each capture's noise coordinate."""
    noise_log_sigma: float = 0.2
    """Sigma of the lognormal factor applied to ``noise_scale`` per capture."""

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise InvalidInput("dim: must be positive")
        for name in ("identity_scale", "noise_scale"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"{name}: must be positive")
        if not self.noise_log_sigma >= 0:
            raise InvalidInput("noise_log_sigma: must not be negative")

    def latent(self, rng: np.random.Generator) -> Template:
        """Draw the latent (noise-free) template of a new identity."""
        values = rng.normal(0.0, self.identity_scale, self.dim)
        return validate_template(values, field_name="latent", dim=self.dim)

    def capture(self, latent: Template, rng: np.random.Generator) -> Template:
        """One capture of the identity ``latent``: latent plus per-capture noise."""
        base = np.asarray(latent, dtype=np.float64)
        if base.shape != (self.dim,):
            raise InvalidInput(f"latent: expected {self.dim} values, got shape {base.shape}")
        scale = self.noise_scale * rng.lognormal(0.0, self.noise_log_sigma)
        values = base + rng.normal(0.0, scale, self.dim)
        return validate_template(values, dim=self.dim)


def distance(a: Template, b: Template) -> float:
    """Euclidean distance, as face_recognition.face_distance computes it."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(diff))
