"""The population's nationality mix and the Faker locale of each nationality.

``POPULATION_MIX`` is ``people.NATIONALITY_MIX`` (approximate Darién 2023
weights, in thousands of crossings, after Panama's Servicio Nacional de
Migración as reported by EFE and UNICEF; see ``people.py``) extended with
three groups also seen on the route. How good each weight is:

* reported, rounded to the thousand: VEN 329, ECU 57, HTI 47, CHN 25, COL 18
  (SNM totals for 2023, about 520,000 crossings in all);
* approximate, from partial-year reports: CHL 11 (mostly Chilean-born
  children of Haitian parents), IND 6, AFG 4;
* order of magnitude only (they shape the data, they are not statistics):
  every other weight, including the additions BRA 5 (Brazilian-born children
  of Haitian parents, like CHL), VNM 1 and UZB 1.

Locales: ``people.FAKER_LOCALES``, plus pt_BR, vi_VN and uz_UZ for the
additions. Faker has no Somali, Eritrean or Ethiopian locale; en_KE (East
African names in Latin script) stands in for all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from biometric_exchange import regions
from biometric_exchange.synthetic.people import (
    EXTRA_REGIONAL_MIX,
    FAKER_LOCALES,
    FALLBACK_LOCALE,
    REGIONAL_MIX,
)

FloatArray = NDArray[np.float64]

ADDED_REGIONAL: Mapping[str, float] = MappingProxyType({"BRA": 5.0})
ADDED_EXTRA_REGIONAL: Mapping[str, float] = MappingProxyType({"VNM": 1.0, "UZB": 1.0})

POPULATION_REGIONAL_MIX: Mapping[str, float] = MappingProxyType({**REGIONAL_MIX, **ADDED_REGIONAL})
POPULATION_EXTRA_REGIONAL_MIX: Mapping[str, float] = MappingProxyType(
    {**EXTRA_REGIONAL_MIX, **ADDED_EXTRA_REGIONAL}
)
POPULATION_MIX: Mapping[str, float] = MappingProxyType(
    {**POPULATION_REGIONAL_MIX, **POPULATION_EXTRA_REGIONAL_MIX}
)
"""Nationality → approximate weight (thousands of Darién crossings, 2023)."""

POPULATION_LOCALES: Mapping[str, str] = MappingProxyType(
    {
        **FAKER_LOCALES,
        "BRA": "pt_BR",
        "VNM": "vi_VN",
        "UZB": "uz_UZ",
        "SOM": "en_KE",
        "ERI": "en_KE",
        "ETH": "en_KE",
    }
)


def locale_for(code: str) -> str:
    """The Faker locale used for names of nationality ``code``."""
    return POPULATION_LOCALES.get(code, FALLBACK_LOCALE)


def mix_shares(mix: Mapping[str, float] = POPULATION_MIX) -> tuple[NDArray[np.str_], FloatArray]:
    """(codes, probabilities) of a mix, in the mix's order."""
    codes = np.asarray(list(mix), dtype="<U3")
    weights = np.asarray(list(mix.values()), dtype=np.float64)
    return codes, weights / weights.sum()


def draw_codes(
    rng: np.random.Generator, n: int, mix: Mapping[str, float] = POPULATION_MIX
) -> NDArray[np.str_]:
    """``n`` nationality codes drawn by the mix's weights."""
    codes, shares = mix_shares(mix)
    picked: NDArray[np.str_] = codes[rng.choice(codes.size, size=n, p=shares)]
    return picked


@cache
def _extra_regional(code: str) -> bool:
    return regions.is_extra_regional(code)


def extra_regional(codes: NDArray[np.str_]) -> NDArray[np.bool_]:
    """Whether each code lies outside the Americas (UN M49 019)."""
    unique, inverse = np.unique(codes, return_inverse=True)
    flags = np.asarray([_extra_regional(str(code)) for code in unique], dtype=np.bool_)
    result: NDArray[np.bool_] = flags[inverse.reshape(np.shape(codes))]
    return result
