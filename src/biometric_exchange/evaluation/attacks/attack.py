"""An attack as the driver sees it: batches of probes out, answers in, an estimate."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from biometric_exchange.evaluation.attacks.oracle import Matrix, ProbeAnswer, Refused

Vector = NDArray[np.float64]
"""One template, in float64 for the attacker's algebra."""


class Attack(Protocol):
    """Recovers one watchlist template from a starting probe that hits it.

    The driver calls ``next_batch`` for at most ``limit`` probes, sends them as
    one request and hands the answers (or the refusal) to ``observe``, until
    ``next_batch`` returns None; ``estimate`` is the attacker's template then.
    """

    name: str

    def next_batch(self, limit: int) -> Matrix | None:
        """The next probes to send (1 to ``limit`` rows), or None when finished."""
        ...

    def observe(self, answers: list[ProbeAnswer] | Refused) -> None:
        """The answers to the batch last returned, or the holder's refusal of it."""
        ...

    def estimate(self) -> Vector | None:
        """The recovered template, or None when the attack has none."""
        ...

    @property
    def failure(self) -> str | None:
        """Why the attack has no estimate, as the attacker knows it (None otherwise)."""
        ...
