"""The centre of a sphere from points on it, by linear least squares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.attacks.attack import Vector


@dataclass(frozen=True)
class SphereFit:
    centre: Vector
    radius: float
    standard_error: float
    """The fit's own estimate of ‖centre - true centre‖ (from its residuals)."""


def fit_sphere(origin: Vector, directions: NDArray[np.float64], reach: Vector) -> SphereFit:
    """The sphere through the points ``origin + reach_i · directions_i`` (unit rows).

    With ``w = origin - centre`` each point gives ``s² + 2 s u·w + c = 0`` where
    ``c = ‖w‖² - r²``: linear in ``(w, c)``. Needs more points than dim + 1.
    """
    count, dim = directions.shape
    lhs = np.hstack([2 * reach[:, None] * directions, np.ones((count, 1))])
    rhs = -(reach**2)
    solution = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    w, c = solution[:dim], float(solution[dim])
    spare = count - dim - 1
    variance = float(np.sum((lhs @ solution - rhs) ** 2)) / spare if spare > 0 else np.inf
    spread = np.linalg.pinv(lhs.T @ lhs)[:dim, :dim]
    centre: Vector = origin - w
    return SphereFit(
        centre=centre,
        radius=float(np.sqrt(max(float(w @ w) - c, 0.0))),
        standard_error=float(np.sqrt(variance * max(float(np.trace(spread)), 0.0))),
    )
