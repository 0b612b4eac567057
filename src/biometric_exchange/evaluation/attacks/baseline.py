"""The previous behaviour, in process: exact search, the best hit's distance, no defences.

The holder's own search (``matching.Gallery`` with its threshold and candidate
limit) answers each probe with hit or no hit and, for a hit, the exact
distance of the best candidate, as step 1 did while scores were on the wire
(or its band, to measure what a banded agreement would give away without the
holder's guard). Nothing is refused; the probes are only counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.agreement.terms import ConfidenceBand
from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused
from biometric_exchange.matching import Gallery


class ScoresOnOracle:
    """Answers like the holder before scores left the wire, with no quota; with
    ``bands`` (a banded agreement's), each hit's band instead of its distance."""

    def __init__(
        self,
        ids: Sequence[str],
        templates: Matrix,
        *,
        threshold: float,
        max_candidates: int,
        bands: Sequence[ConfidenceBand] = (),
    ) -> None:
        self._gallery = Gallery()
        self._gallery.add(list(ids), templates)
        self._threshold = threshold
        self._max_candidates = max_candidates
        self._bands = tuple(bands)
        self.probes = 0
        """Probes answered so far."""

    def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
        result = self._gallery.search(templates, k=self._max_candidates, threshold=self._threshold)
        self.probes += len(templates)
        answers = []
        for index in range(len(templates)):
            found = result.candidates(index)
            if found and self._bands:
                answers.append(ProbeAnswer(hit=True, band=self._band(found[0].distance)))
            elif found:
                answers.append(ProbeAnswer(hit=True, distance=found[0].distance))
            else:
                answers.append(ProbeAnswer(hit=False))
        return answers

    def _band(self, distance: float) -> str:
        share = distance / self._threshold
        return next((b.name for b in self._bands if share < b.up_to), self._bands[-1].name)
