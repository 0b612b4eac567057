"""What a search returns: ranked candidates per probe, padded to k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

PAD_ID = ""
"""Id of a padding slot in a SearchResult (its distance is +inf)."""


class Scorer(Protocol):
    """Maps distances to scores (for example a fitted ``Calibrator``)."""

    def score(self, distances: ArrayLike) -> NDArray[np.float64]: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """One real candidate of a probe: rank starts at 1.

    ``score`` is set only when a ``Scorer`` was applied: for a ``Calibrator``,
    the probability that the pair is mated at the calibrator's base rate.
    """

    rank: int
    id: str
    distance: float
    score: float | None = None


@dataclass(frozen=True, eq=False)
class SearchResult:
    """Top-k answer for q probes: ``ids`` (object str) and ``distances`` (float32), (q, k).

    Slots without a candidate hold ``PAD_ID`` and ``+inf``; they always come last.
    """

    ids: NDArray[np.object_]
    distances: NDArray[np.float32]

    def candidates(self, i: int, scorer: Scorer | None = None) -> list[Candidate]:
        """The real candidates of probe ``i``, best first, padding omitted.

        With ``scorer``, each candidate carries ``scorer.score(distance)``.
        """
        real = [
            (rank, str(ident), float(distance))
            for rank, (ident, distance) in enumerate(
                zip(self.ids[i], self.distances[i], strict=True), start=1
            )
            if ident != PAD_ID
        ]
        if scorer is None or not real:
            return [Candidate(rank, ident, distance) for rank, ident, distance in real]
        scores = scorer.score([distance for _, _, distance in real])
        return [
            Candidate(rank, ident, distance, float(score))
            for (rank, ident, distance), score in zip(real, scores, strict=True)
        ]
