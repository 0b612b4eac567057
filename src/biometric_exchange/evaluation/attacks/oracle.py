"""What an attack asks a holder and what it is told, one request at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]
"""Probe templates, one 128-d float32 row each."""

QUOTA_REFUSAL = "RESOURCE_EXHAUSTED"
"""The status of a request refused for the day's quota: send it again tomorrow."""


@dataclass(frozen=True)
class ProbeAnswer:
    """One probe's answer: hit or no hit, and what else the oracle discloses.

    ``distance`` is the best hit's exact distance (the previous behaviour, scores
    on); ``band`` a confidence band where a holder returns one instead.
    """

    hit: bool
    distance: float | None = None
    band: str | None = None


@dataclass(frozen=True)
class Refused:
    """The holder refused the whole request: its status code and public message."""

    code: str
    message: str


class Oracle(Protocol):
    """A holder seen from the asking side: one request of probes, its answers."""

    def ask(self, templates: Matrix) -> list[ProbeAnswer] | Refused:
        """One answer per row of ``templates``, in order, or the request's refusal."""
        ...
