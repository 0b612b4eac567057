"""The previous behaviour, in process: exact search, the best hit's distance, no defences.

The holder's own search (``matching.Gallery`` with its threshold and candidate
limit) answers each probe with hit or no hit and, for a hit, the exact
distance of the best candidate, as step 1 did while scores were on the wire.
Nothing is refused; the probes are only counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused
from biometric_exchange.matching import Gallery


class ScoresOnOracle:
    """Answers like the holder before scores left the wire, with no quota."""

    def __init__(
        self, ids: Sequence[str], templates: Matrix, *, threshold: float, max_candidates: int
    ) -> None:
        self._gallery = Gallery()
        self._gallery.add(list(ids), templates)
        self._threshold = threshold
        self._max_candidates = max_candidates
        self.probes = 0
        """Probes answered so far."""

    def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
        result = self._gallery.search(templates, k=self._max_candidates, threshold=self._threshold)
        self.probes += len(templates)
        answers = []
        for index in range(len(templates)):
            found = result.candidates(index)
            if found:
                answers.append(ProbeAnswer(hit=True, distance=found[0].distance))
            else:
                answers.append(ProbeAnswer(hit=False))
        return answers
