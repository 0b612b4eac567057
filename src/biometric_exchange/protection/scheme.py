"""The template protection interface (ISO/IEC 24745) and the registry of schemes.

A scheme turns 128-d templates into protected templates under a key, and
compares protected templates with each other: a lower score is a closer
pair, and a pair *matches* when its score is strictly below the scheme's
``threshold`` (the same rule as ``Gallery.search``). Templates protected
under different keys are not meant to be compared: that is what makes them
renewable and unlinkable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from biometric_exchange.exceptions import InvalidInput
from biometric_exchange.protection.biohash import BioHashScheme
from biometric_exchange.protection.iom import IndexOfMaxScheme
from biometric_exchange.protection.rotation import RotationScheme


class ProtectionScheme(Protocol):
    """A keyed, renewable transform of templates with its own comparator."""

    @property
    def name(self) -> str:
        """The registry name, as the agreement's ``template_protection.scheme`` says it."""
        ...

    @property
    def threshold(self) -> float:
        """The operating threshold: a pair matches when its score is strictly below it."""
        ...

    def protect(self, templates: ArrayLike) -> NDArray[Any]:
        """Protected templates, one row per (n, 128) template row."""
        ...

    def compare(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.float64]:
        """Scores of every probe against every gallery row: (len probes, len gallery)."""
        ...

    def compare_pairs(self, a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
        """Scores of row ``i`` of ``a`` against row ``i`` of ``b``."""
        ...

    def matches(self, probes: ArrayLike, gallery: ArrayLike) -> NDArray[np.bool_]:
        """``compare(probes, gallery) < threshold``."""
        ...


SCHEMES: dict[str, Callable[[bytes], ProtectionScheme]] = {
    RotationScheme.NAME: RotationScheme,
    BioHashScheme.NAME: BioHashScheme,
    IndexOfMaxScheme.NAME: IndexOfMaxScheme,
}
"""Every scheme by its registry name (the agreement term's values, except "none")."""


def scheme_for(name: str, key: bytes) -> ProtectionScheme:
    """The scheme called ``name``, keyed with ``key``; InvalidInput for an unknown name."""
    try:
        factory = SCHEMES[name]
    except KeyError:
        known = ", ".join(SCHEMES)
        raise InvalidInput(f"scheme: {name!r} is not a protection scheme ({known})") from None
    return factory(key)
