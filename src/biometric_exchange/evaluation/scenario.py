"""Demographic differential scenarios set from NIST FRVT/FRTE results (NISTIR 8280).

Without a scenario the synthetic template model treats every stratum alike:
strata are flat by construction. A scenario gives some strata a false-match
ratio (their same-stratum impostor FMR over the population's, at the
population's FMR = 1e-4 threshold) and a false-non-match ratio (their FNMR
over the population's at distance 0.6); ``multipliers`` turns each ratio into
the template model's identity / noise multipliers by solving the model's own
distance distributions (below), so the evaluation then measures the
differential it was given and the per-stratum thresholds it calls for.

Source: P. Grother, M. Ngan, K. Hanaoka, "Face Recognition Vendor Test
(FRVT) Part 3: Demographic Effects", NISTIR 8280, NIST, December 2019,
https://doi.org/10.6028/NIST.IR.8280. Each ratio below names the finding it
comes from; magnitudes are taken at the low end of the ranges reported there,
and those the report gives only qualitatively are marked as assumed.

Distance model (``TemplateModel``): an impostor pair of members with identity
multiplier ``m`` has per-coordinate difference variance
``2 m² s² + n² (f_a² + f_b²)`` (``s`` identity scale, ``n`` noise scale,
``f`` the lognormal capture factors), so d² / variance is χ² with ``dim``
degrees of freedom; a genuine pair with noise multiplier ``k`` has variance
``k² n² (f_a² + f_b²)``. Rates are integrated over both factors by
Gauss-Hermite quadrature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

from biometric_exchange.evaluation.metrics import FloatArray
from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.synthetic.templates import TemplateModel

REFERENCE_FMR = 1e-4
REFERENCE_THRESHOLD = 0.6
"""FNMR ratios hold at this distance (face_recognition's tolerance)."""
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(24)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True)
class Differential:
    """How much worse one stratum fares, and where the figure comes from."""

    dimension: str
    group: str
    fmr_ratio: float = 1.0
    fnmr_ratio: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("fmr_ratio", "fnmr_ratio"):
            if not 0.1 <= getattr(self, name) <= 100:
                raise InvalidInput(f"{name}: expected a ratio in [0.1, 100]")


NISTIR_8280 = "NISTIR 8280 (Grother, Ngan, Hanaoka 2019)"
NIST_SCENARIO: tuple[Differential, ...] = (
    Differential(
        "sex",
        "female",
        fmr_ratio=2.0,
        source=f"{NISTIR_8280}, executive summary: false positives higher in women than "
        "men, consistent across algorithms and datasets, by factors of about 2 to 5",
    ),
    Differential(
        "region",
        "extra_regional",
        fmr_ratio=10.0,
        fnmr_ratio=1.5,
        source=f"{NISTIR_8280}, executive summary and the country-of-birth impostor "
        "heatmaps (sec. 3.6.2, visa photos, threshold at FMR = 1e-4): false positives "
        "differ by factors of 10 to 100 between countries of birth (West and East "
        "Africa, East Asia highest); on border-crossing photos false negatives are "
        "higher for people born in Africa and the Caribbean, a smaller differential "
        "(1.5 assumed)",
    ),
    Differential(
        "age_band",
        "0-11",
        fmr_ratio=5.0,
        fnmr_ratio=2.0,
        source=f"{NISTIR_8280}, executive summary and the age-pair impostor heatmaps "
        "(sec. 3.6.2, visa photos): false positives elevated in children, most in the "
        "youngest; FNMR by age group highest for the youngest (5 and 2 assumed)",
    ),
    Differential(
        "age_band",
        "12-17",
        fmr_ratio=2.0,
        source=f"{NISTIR_8280}, as for 0-11, a smaller effect in older children (assumed)",
    ),
    Differential(
        "age_band",
        "65+",
        fmr_ratio=3.0,
        fnmr_ratio=1.5,
        source=f"{NISTIR_8280}, executive summary: false positives elevated in the "
        "elderly; false negatives on border-crossing photos stronger in older people "
        "(3 and 1.5 assumed)",
    ),
)
SCENARIOS = {"none": (), "nist": NIST_SCENARIO}


def parse_scenario(name: str) -> tuple[Differential, ...]:
    """``none`` or ``nist``; InvalidInput naming the option otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InvalidInput(
            f"--scenario: expected one of {', '.join(SCENARIOS)}, got {name!r}"
        ) from None


@dataclass(frozen=True)
class Multipliers:
    """Identity and noise multipliers of one stratum (1: unaffected)."""

    identity: float
    noise: float


def impostor_fmr(model: TemplateModel, threshold: float, identity: float = 1.0) -> float:
    """Modelled FMR at ``threshold`` of impostor pairs whose identities scale by ``identity``."""
    fa, fb = _factors(model)
    variance = 2 * (identity * model.identity_scale) ** 2 + model.noise_scale**2 * (fa + fb)
    return _chi2_below(model.dim, threshold**2 / variance)


def genuine_fnmr(model: TemplateModel, threshold: float, noise: float = 1.0) -> float:
    """Modelled FNMR at ``threshold`` of genuine pairs whose noise scales by ``noise``."""
    fa, fb = _factors(model)
    variance = (noise * model.noise_scale) ** 2 * (fa + fb)
    return 1.0 - _chi2_below(model.dim, threshold**2 / variance)


def reference_threshold(model: TemplateModel, fmr: float = REFERENCE_FMR) -> float:
    """The distance where the modelled population FMR equals ``fmr``."""
    return float(
        optimize.brentq(
            lambda t: math.log(max(impostor_fmr(model, t), 1e-300)) - math.log(fmr), 1e-3, 3.0
        )
    )


def multipliers(model: TemplateModel, differential: Differential) -> Multipliers:
    """The multipliers giving ``differential``'s ratios under ``model``."""
    identity = noise = 1.0
    if differential.fmr_ratio != 1.0:
        t = reference_threshold(model)
        target = math.log(differential.fmr_ratio * REFERENCE_FMR)
        identity = float(
            optimize.brentq(
                lambda m: math.log(max(impostor_fmr(model, t, m), 1e-300)) - target, 0.2, 3.0
            )
        )
    if differential.fnmr_ratio != 1.0:
        t0 = REFERENCE_THRESHOLD
        target = differential.fnmr_ratio * genuine_fnmr(model, t0)
        noise = float(optimize.brentq(lambda k: genuine_fnmr(model, t0, k) - target, 0.2, 5.0))
    return Multipliers(identity, noise)


def subject_multipliers(
    model: TemplateModel,
    scenario: tuple[Differential, ...],
    labels: dict[str, NDArray[np.str_]],
) -> tuple[FloatArray, FloatArray]:
    """(identity, noise) per subject: the product over the strata it belongs to."""
    n = next(iter(labels.values())).size if labels else 0
    identity, noise = np.ones(n), np.ones(n)
    for differential in scenario:
        if differential.dimension not in labels:
            raise InvalidInput(f"scenario: unknown dimension {differential.dimension!r}")
        member = labels[differential.dimension] == differential.group
        found = multipliers(model, differential)
        identity[member] *= found.identity
        noise[member] *= found.noise
    return identity, noise


def _factors(model: TemplateModel) -> tuple[FloatArray, FloatArray]:
    f = np.exp(model.noise_log_sigma * _NODES)
    squares = np.square(f)
    return squares[:, None], squares[None, :]


def _chi2_below(dof: int, x: FloatArray) -> float:
    values = special.gammainc(dof / 2, np.asarray(x) / 2)
    return float(_WEIGHTS @ values @ _WEIGHTS)
