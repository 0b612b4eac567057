"""Boundary search with hit/no-hit only: bisect rays to the threshold sphere, fit it.

From the starting probe ``p`` (a hit) the attacker draws random directions
``u`` and bisects ``s`` along each ray ``p + s·u`` to where hit turns to no
hit, a point at the threshold ``t`` from the enrolled template ``v``. Those
points lie on a sphere about ``v``, whose centre a linear least-squares fit
gives (``sphere.fit_sphere``). Rays go in rounds; one request carries one
bisection step of many rays, so consecutive probes are not close (about 0.6
apart at these distances). After each round with enough rays the attacker
fits, and stops when the fit's own standard error is below ``precision`` times
the fitted radius: it needs no ground truth to know when to stop.
"""

from __future__ import annotations

import numpy as np

from biometric_exchange.evaluation.attacks.attack import Vector
from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused
from biometric_exchange.evaluation.attacks.sphere import SphereFit, fit_sphere

RAYS_PER_ROUND = 64
"""One request's worth under the shipped terms (64 probes a request)."""
STEPS = 12
"""Bisection steps per ray: the boundary to REACH / 2¹² ≈ 0.0003."""
REACH = 1.2
"""Where each ray is assumed to have left the sphere: twice the usual threshold (0.6)."""
SPARE_RAYS = 32
"""Rays beyond the 129 unknowns before the first fit."""
PRECISION = 0.02
"""Stop when the fit's standard error is below this share of the fitted radius."""
MAX_ROUNDS = 64


class BoundarySearch:
    """Rounds of rays bisected in step, then a sphere fit after each round."""

    name = "boundary"

    def __init__(
        self,
        start: Vector,
        rng: np.random.Generator,
        *,
        rays_per_round: int = RAYS_PER_ROUND,
        steps: int = STEPS,
        reach: float = REACH,
        precision: float = PRECISION,
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self._start = np.asarray(start, dtype=np.float64)
        self._rng = rng
        self._rays_per_round = rays_per_round
        self._steps = steps
        self._reach = reach
        self._precision = precision
        self._max_rounds = max_rounds
        self._rounds = 0
        self._directions = np.empty((0, self._start.size))
        self._lo = np.empty(0)
        self._hi = np.empty(0)
        self._alive = np.empty(0, dtype=bool)
        self._step = 0
        self._queue: list[int] = []
        self._asked: list[int] = []
        self._found: list[tuple[Vector, float]] = []
        """(direction, distance along it) of every ray bisected to the boundary."""
        self._fit: SphereFit | None = None
        self._done = False

    def next_batch(self, limit: int) -> Matrix | None:
        if self._done:
            return None
        if not self._queue:
            self._new_round()
        self._asked, self._queue = self._queue[:limit], self._queue[limit:]
        middle = (self._lo[self._asked] + self._hi[self._asked]) / 2
        probes: Matrix = (self._start + middle[:, None] * self._directions[self._asked]).astype(
            np.float32
        )
        return probes

    def _new_round(self) -> None:
        directions = self._rng.standard_normal((self._rays_per_round, self._start.size))
        self._directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        self._lo = np.zeros(self._rays_per_round)
        self._hi = np.full(self._rays_per_round, self._reach)
        self._alive = np.ones(self._rays_per_round, dtype=bool)
        self._step = 0
        self._queue = list(range(self._rays_per_round))
        self._rounds += 1

    def observe(self, answers: list[ProbeAnswer] | Refused) -> None:
        asked = np.array(self._asked, dtype=np.intp)
        if isinstance(answers, Refused):
            self._alive[asked] = False
        else:
            hit = np.array([answer.hit for answer in answers], dtype=bool)
            middle = (self._lo[asked] + self._hi[asked]) / 2
            self._lo[asked] = np.where(hit, middle, self._lo[asked])
            self._hi[asked] = np.where(hit, self._hi[asked], middle)
        self._asked = []
        if self._queue:
            return
        self._step += 1
        alive = np.flatnonzero(self._alive)
        if self._step < self._steps and alive.size:
            # A new order each step: a ray's consecutive probes are never adjacent.
            self._queue = [int(i) for i in self._rng.permutation(alive)]
            return
        self._end_round()

    def _end_round(self) -> None:
        # A ray that never hit or never missed did not find the boundary.
        settled = self._alive & (self._lo > 0) & (self._hi < self._reach)
        for index in np.flatnonzero(settled):
            self._found.append(
                (self._directions[index], float(self._lo[index] + self._hi[index]) / 2)
            )
        if len(self._found) >= self._start.size + 1 + SPARE_RAYS:
            directions = np.stack([direction for direction, _ in self._found])
            reach = np.array([distance for _, distance in self._found])
            self._fit = fit_sphere(self._start, directions, reach)
            if self._fit.standard_error <= self._precision * self._fit.radius:
                self._done = True
        if self._rounds >= self._max_rounds:
            self._done = True

    @property
    def failure(self) -> str | None:
        if self._fit is None:
            return f"{len(self._found)} boundary points, too few to fit"
        return None

    def estimate(self) -> Vector | None:
        return None if self._fit is None else self._fit.centre

    @property
    def rays(self) -> int:
        """Rays bisected to the boundary so far."""
        return len(self._found)
