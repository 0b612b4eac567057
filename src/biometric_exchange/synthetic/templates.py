"""A synthetic stand-in for dlib's 128-d face descriptor, calibrated to face_recognition.

Each identity has a latent vector drawn from N(centre, identity_scale²·I).
``centre`` is fitted to real face_recognition encodings of the photos that
installed packages ship (``realfit``; docs/synthetic.md): their mean vector,
with its length set so that template norms match theirs (about 1.38, where a
zero centre gave 0.62). Distances do not depend on the centre. A capture
adds isotropic noise whose scale is ``noise_scale`` times a lognormal factor,
so most captures are clean and a few are poor (bad light, pose,
motion blur). In 128 dimensions distances concentrate sharply:

* genuine (two captures of one person): ≈ 16·noise_scale ≈ 0.41, the 5-95 %
  range about 0.31-0.54, a tail above 0.6 of about 1.2 % from the lognormal
  factor;
* impostor (captures of two people): ≈ sqrt(128·(2·identity_scale² + 2·noise²))
  ≈ 0.87, the 5-95 % range about 0.77-0.98.

Calibration target: face_recognition's documented 99.38 % accuracy on LFW at
its 0.6 tolerance (accuracy over balanced genuine and impostor pairs). The
defaults give about 99.4 % (``bx synth calibrate`` prints the figures). The
model places that error almost entirely in false non-matches: two unrelated
latents lie below 0.6 only with vanishing probability, which keeps the demo
dataset's planted margins (0.55 / 0.65) reliable. Real descriptors also
produce false matches (relatives, look-alikes, children); ``GroupEffect``
models them for chosen groups.

Group effects
-------------
What the real model does worse is modelled per group (an age band and/or a
set of nationalities) by two documented multipliers:

* ``noise_multiplier`` (> 1) scales the capture noise of the group's members:
  a wider, higher genuine distribution, i.e. more false non-matches;
* ``identity_multiplier`` (< 1) scales their latents towards the population
  mean (``centre``): a tighter, lower impostor distribution within the group, i.e. more
  false matches among its members.

A subject in several groups gets the product of their multipliers.
``MINORS_EFFECT`` follows face_recognition's own caveat (README, "Caveats"):
the model is trained on adults and "tends to mix up children quite easy
using the default comparison threshold of 0.6"; growing faces also change
between captures. Its multipliers are illustrative, not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.domain import TEMPLATE_DIM, Template, validate_template
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection.centre import FACE_CENTRE

Matrix = NDArray[np.float32]
"""A batch of templates, one per row (float32, C-contiguous)."""
FloatVector = NDArray[np.float64]
AgeBand = Literal["minor", "adult"]
AGE_BANDS: tuple[AgeBand, ...] = ("minor", "adult")


@dataclass(frozen=True)
class Group:
    """A demographic group: an age band and/or a set of nationalities (None: any)."""

    name: str
    nationalities: frozenset[str] | None = None
    age_band: AgeBand | None = None

    def contains(
        self, nationality: NDArray[np.str_], minor: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        """Which subjects (nationality code, minor flag) belong to the group."""
        member = np.ones(np.shape(minor), dtype=np.bool_)
        if self.nationalities is not None:
            member &= np.isin(nationality, sorted(self.nationalities))
        if self.age_band is not None:
            member &= minor if self.age_band == "minor" else ~minor
        return member


@dataclass(frozen=True)
class GroupEffect:
    """How much worse the model does for one group (see the module docstring)."""

    group: Group
    noise_multiplier: float = 1.0
    """Scales capture noise: > 1 widens the genuine spread."""
    identity_multiplier: float = 1.0
    """Scales latents: < 1 tightens the impostor spread within the group."""

    def __post_init__(self) -> None:
        for name in ("noise_multiplier", "identity_multiplier"):
            if not 0 < getattr(self, name) <= 10:
                raise InvalidInput(f"{name}: must lie in (0, 10]")


MINORS = Group("minors", age_band="minor")
MINORS_EFFECT = GroupEffect(MINORS, noise_multiplier=1.1, identity_multiplier=0.7)
"""Children: noisier captures and latents closer together (illustrative values)."""


def parse_effect(text: str, *, option: str = "--effect") -> GroupEffect:
    """``NAME:SELECTOR:NOISE:IDENTITY``; SELECTOR is ``minor``, ``adult``, comma-separated
    nationality codes, or codes with an age band (``CHN,NPL@minor``)."""
    parts = text.split(":")
    if len(parts) != 4 or not parts[0]:
        raise InvalidInput(f"{option}: expected NAME:SELECTOR:NOISE:IDENTITY, got {text!r}")
    name, selector, noise, identity = parts
    codes_text, _, band = selector.partition("@")
    if codes_text in AGE_BANDS and not band:
        codes_text, band = "", codes_text
    if band and band not in AGE_BANDS:
        raise InvalidInput(f"{option}: age band must be minor or adult, got {band!r}")
    codes = frozenset(c.strip().upper() for c in codes_text.split(",") if c.strip())
    if not codes and not band:
        raise InvalidInput(f"{option}: {text!r} selects nobody; name codes or an age band")
    try:
        multipliers = float(noise), float(identity)
    except ValueError as exc:
        raise InvalidInput(f"{option}: NOISE and IDENTITY must be numbers, got {text!r}") from exc
    age_band: AgeBand | None = "minor" if band == "minor" else "adult" if band else None
    group = Group(name, codes or None, age_band)
    try:
        return GroupEffect(group, *multipliers)
    except InvalidInput as exc:
        raise InvalidInput(f"{option}: {exc}") from None


@dataclass(frozen=True)
class TemplateModel:
    """Latent-plus-noise generator of dlib-like face templates."""

    dim: int = TEMPLATE_DIM
    identity_scale: float = 0.048
    """Standard deviation of each latent coordinate."""
    noise_scale: float = 0.025
    """Median standard deviation of each capture's noise coordinate."""
    noise_log_sigma: float = 0.22
    """Sigma of the lognormal factor applied to ``noise_scale`` per capture."""
    effects: tuple[GroupEffect, ...] = ()
    """Group effects applied by ``multipliers`` (none by default)."""

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise InvalidInput("dim: must be positive")
        for name in ("identity_scale", "noise_scale"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"{name}: must be positive")
        if not self.noise_log_sigma >= 0:
            raise InvalidInput("noise_log_sigma: must not be negative")
        if self.dim != len(FACE_CENTRE):
            raise InvalidInput(f"dim: the fitted centre has {len(FACE_CENTRE)} values")

    @property
    def centre(self) -> tuple[float, ...]:
        """The population mean template, fitted to real encodings (``protection.centre``)."""
        return FACE_CENTRE

    @property
    def centre_vector(self) -> Matrix:
        """``centre`` as a float32 vector."""
        return np.asarray(self.centre, dtype=np.float32)

    def spread2(self) -> float:
        """E|x - centre|² of a capture (no group effect): identity plus capture noise."""
        noise2 = self.noise_scale**2 * math.exp(2.0 * self.noise_log_sigma**2)
        return self.dim * (self.identity_scale**2 + noise2)

    # --- one template at a time (the demo dataset) ------------------------------------

    def latent(self, rng: np.random.Generator, *, identity_multiplier: float = 1.0) -> Template:
        """Draw the latent (noise-free) template of a new identity."""
        values = rng.normal(0.0, self.identity_scale * identity_multiplier, self.dim)
        values += np.asarray(self.centre, dtype=np.float64)
        return validate_template(values, field_name="latent", dim=self.dim)

    def capture(
        self, latent: Template, rng: np.random.Generator, *, noise_multiplier: float = 1.0
    ) -> Template:
        """One capture of the identity ``latent``: latent plus per-capture noise."""
        base = np.asarray(latent, dtype=np.float64)
        if base.shape != (self.dim,):
            raise InvalidInput(f"latent: expected {self.dim} values, got shape {base.shape}")
        scale = self.noise_scale * noise_multiplier * rng.lognormal(0.0, self.noise_log_sigma)
        values = base + rng.normal(0.0, scale, self.dim)
        return validate_template(values, dim=self.dim)

    # --- batches (populations, calibration) ---------------------------------------------

    def latents(
        self,
        rng: np.random.Generator,
        n: int,
        *,
        identity_multiplier: FloatVector | float = 1.0,
    ) -> Matrix:
        """``n`` latents as rows; ``identity_multiplier`` scalar or one per row."""
        rows = rng.standard_normal((n, self.dim), dtype=np.float32)
        scale = self.identity_scale * np.broadcast_to(np.asarray(identity_multiplier), (n,))
        rows *= scale.astype(np.float32)[:, None]
        rows += self.centre_vector
        return rows

    def captures(
        self,
        latents: Matrix,
        rng: np.random.Generator,
        *,
        noise_multiplier: FloatVector | float = 1.0,
        max_noise_factor: float | None = None,
    ) -> Matrix:
        """One capture of each latent row.

        ``max_noise_factor`` caps the lognormal factor: an enrolment-quality photo
        (e.g. 1.0 for a watchlist entry taken under controlled conditions).
        """
        n = int(latents.shape[0])
        if latents.ndim != 2 or latents.shape[1] != self.dim:
            raise InvalidInput(f"latents: expected shape (n, {self.dim}), got {latents.shape}")
        factor = rng.lognormal(0.0, self.noise_log_sigma, n)
        if max_noise_factor is not None:
            np.minimum(factor, max_noise_factor, out=factor)
        factor *= self.noise_scale * np.broadcast_to(np.asarray(noise_multiplier), (n,))
        rows = rng.standard_normal((n, self.dim), dtype=np.float32)
        rows *= factor.astype(np.float32)[:, None]
        rows += latents
        return rows

    def multipliers(
        self, nationality: NDArray[np.str_], minor: NDArray[np.bool_]
    ) -> tuple[FloatVector, FloatVector]:
        """(identity, noise) multipliers per subject, the product over its groups."""
        identity = np.ones(np.shape(minor), dtype=np.float64)
        noise = np.ones(np.shape(minor), dtype=np.float64)
        for effect in self.effects:
            member = effect.group.contains(nationality, minor)
            identity[member] *= effect.identity_multiplier
            noise[member] *= effect.noise_multiplier
        return identity, noise


def distance(a: Template, b: Template) -> float:
    """Euclidean distance, as face_recognition.face_distance computes it."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(diff))


def paired_distances(a: Matrix, b: Matrix) -> FloatVector:
    """Row-wise Euclidean distances ``|a_i - b_i|`` (float64)."""
    diff = a.astype(np.float64) - b.astype(np.float64)
    result: FloatVector = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return result
