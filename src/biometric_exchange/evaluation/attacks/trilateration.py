"""Trilateration with scores: one hit probe and 128 one-axis steps give the template.

For a hit ``x`` the holder disclosed ``d = ‖x - v‖``. Subtracting the
starting probe's equation from each perturbed probe's cancels ``‖v‖²``:
``2 (x_i - x_0)·v = ‖x_i‖² - ‖x_0‖² - (d_i² - d_0²)``, linear in ``v``; 128
independent steps make it square. Without distances the attacker still sends
its 129 probes (it cannot know the answers will carry none) and solves
nothing; with confidence bands it can only put a band's assumed distance in
``band_distances``, too coarse to solve for anything near ``v``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from biometric_exchange.evaluation.attacks.attack import Vector
from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused

STEP = 0.05
"""How far each probe moves along its axis: small beside the threshold (0.6), so the
perturbed probes still hit, large beside float32 rounding."""


class Trilateration:
    """The starting probe, then one probe per axis, then one linear solve."""

    name = "trilateration"

    def __init__(
        self,
        start: Vector,
        *,
        step: float = STEP,
        band_distances: Mapping[str, float] | None = None,
    ) -> None:
        base = np.asarray(start, dtype=np.float32)
        self._probes: Matrix = np.repeat(base[None, :], base.size + 1, axis=0)
        self._probes[1:] += np.float32(step) * np.eye(base.size, dtype=np.float32)
        self._band_distances = dict(band_distances or {})
        self._hits: list[bool] = []
        self._distances: list[float | None] = []
        self._sent = 0
        self._failure: str | None = None

    def next_batch(self, limit: int) -> Matrix | None:
        if self._failure is not None or self._sent >= len(self._probes):
            return None
        batch = self._probes[self._sent : self._sent + limit]
        self._sent += len(batch)
        return batch

    def observe(self, answers: list[ProbeAnswer] | Refused) -> None:
        if isinstance(answers, Refused):
            self._failure = f"the holder refused the probes ({answers.code})"
            return
        self._hits.extend(answer.hit for answer in answers)
        self._distances.extend(self._distance(answer) for answer in answers)

    def _distance(self, answer: ProbeAnswer) -> float | None:
        if answer.distance is not None:
            return answer.distance
        if answer.band is not None:
            return self._band_distances.get(answer.band)
        return None

    @property
    def failure(self) -> str | None:
        if self._failure is not None:
            return self._failure
        if len(self._distances) < len(self._probes):
            return "not every probe was answered"
        if not all(self._hits):
            return "a probe missed: no distance to solve with"
        if any(d is None for d in self._distances):
            return "the answers carry no distance"
        return None

    def estimate(self) -> Vector | None:
        if self.failure is not None:
            return None
        x = self._probes.astype(np.float64)
        d = np.array(self._distances, dtype=np.float64)
        squares = np.einsum("ij,ij->i", x, x)
        lhs = 2 * (x[1:] - x[0])
        rhs = squares[1:] - squares[0] - (d[1:] ** 2 - d[0] ** 2)
        solution: Vector = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        return solution
